// pipetrace lab: the charts, drawn with uPlot (lab/static/VENDORED.md): the followed run's loss batch by batch
// (as recorded, and smoothed as the report smooths it), its loss and accuracy after each epoch (training and
// test overlaid), and two compared runs' epochs overlaid. Each chart's numbers are the run's own, from its
// events or /api/compare; `lab.charts` holds the uPlot instances (their `data` is what is drawn), and
// `lab.chart` and `lab.line` draw one more the same way (lab-replay.js).
"use strict";
(() => {
  const lab = window.pipetraceLab;
  const SMOOTHING = 0.9; // views/html/charts.py SMOOTHING
  const TRAIN = "#4f46e5", TEST = "#f59e0b", OTHER = "#0f766e"; // the report's colours; OTHER: run B
  const charts = lab.charts = {};
  const WHOLE = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000]; // x ticks: whole epochs, batches
  let batches = null; // the followed run's losses: {x, raw, smooth, last, n}
  let epochs = null; // the followed run's epochs: {epoch, loss, accuracy, test_loss, test_accuracy}
  let batchTotal = 1; // the batches the followed run will train: the batch chart's x axis ends there
  let compared = null; // the last comparison drawn: {c, ids, lossBox, accuracyBox}

  // views/html/charts.py `smoothed`: TensorBoard's moving average, debiased; over the finite losses only
  function smoothInto(state, value) {
    state.n += 1;
    state.last = SMOOTHING * state.last + (1 - SMOOTHING) * value;
    return state.last / (1 - SMOOTHING ** state.n);
  }

  function logScale() { return document.getElementById("log-scale").checked; }

  function width(node) { return Math.max(240, Math.min(720, node.clientWidth || 320)); }

  function makeChart(holder, name, title, yLabel, series, data, options = {}) {
    if (charts[name]) charts[name].destroy();
    const positive = data.slice(1).every((s) => s.every((v) => v === null || v > 0));
    const log = Boolean(options.log && logScale() && positive);
    holder.dataset.scale = log ? "log" : "linear";
    if (options.log && logScale() && !positive) {
      document.getElementById("log-note").textContent = "A loss of 0 cannot be drawn on a log scale: shown on a linear one.";
    }
    charts[name] = new uPlot({
      title, width: width(holder), height: 220,
      scales: { x: { time: false, range: options.xRange }, y: log ? { distr: 3 } : options.yRange ? { range: options.yRange } : {} },
      axes: [{ label: options.xLabel || "epoch", incrs: WHOLE }, { label: yLabel, size: 56 }],
      series: [{ label: options.xLabel || "epoch" }, ...series],
      hooks: options.hooks || {},
    }, data, holder);
    return charts[name];
  }

  function line(label, stroke, extra = {}) { return Object.assign({ label, stroke, width: 1.6, points: { show: true } }, extra); }

  lab.chart = makeChart; lab.line = line; lab.colours = { TRAIN, TEST, OTHER };

  function drawBatches() {
    makeChart(document.getElementById("loss"), "batch", "Training loss, batch by batch", "loss", [
      line("as recorded", "rgba(79, 70, 229, 0.35)", { width: 1, points: { show: false } }),
      line(`smoothed (${SMOOTHING} moving average)`, TRAIN, { width: 2, points: { show: false } }),
    ], [batches.x, batches.raw, batches.smooth],
    { log: true, xLabel: "batch", xRange: () => [0, batchTotal], hooks: { draw: [markEpochEnds] } });
    describeBatches();
  }

  // a dashed line at the last batch of each finished epoch, as the report's batch chart has
  function markEpochEnds(u) {
    const run = lab.following;
    if (!run || !run.steps) return;
    const ctx = u.ctx;
    ctx.save();
    ctx.strokeStyle = "#6b7280"; ctx.setLineDash([4, 3]); ctx.lineWidth = 1;
    for (const epoch of epochs.epoch) {
      const x = Math.round(u.valToPos(epoch * run.steps, "x", true));
      ctx.beginPath(); ctx.moveTo(x, u.bbox.top); ctx.lineTo(x, u.bbox.top + u.bbox.height); ctx.stroke();
    }
    ctx.restore();
  }

  function describeBatches() {
    const run = lab.following;
    batchTotal = Math.max(1, batches.x.length, run ? run.steps * run.epochs : 0);
    document.getElementById("loss").dataset.batches = String(batches.x.length);
    document.getElementById("loss-note").textContent = !batches.x.length ? "The loss of each batch appears here as it trains."
      : `Batch ${batches.x.length} of ${batchTotal}` + (batches.raw.some((v) => v === null) ? "; a loss that was not a number is left out." : ".");
  }

  function drawEpochs() {
    const rows = [epochs.epoch, epochs.loss, epochs.test_loss];
    makeChart(document.getElementById("epoch-loss"), "loss", "Loss after each epoch (lower is better)", "loss",
      [line("training", TRAIN), line("test", TEST)], rows, { log: true });
    makeChart(document.getElementById("epoch-accuracy"), "accuracy", "Accuracy after each epoch, % (higher is better)", "%",
      [line("training", TRAIN), line("test", TEST)], [epochs.epoch, percents(epochs.accuracy), percents(epochs.test_accuracy)]);
  }

  function percents(values) { return values.map((v) => (v === null || v === undefined ? null : 100 * v)); }

  function reset() {
    batches = { x: [], raw: [], smooth: [], last: 0, n: 0 };
    epochs = { epoch: [], loss: [], accuracy: [], test_loss: [], test_accuracy: [] };
  }

  function addBatches(data) {
    for (const loss of data.losses) {
      batches.x.push(batches.x.length + 1);
      const finite = typeof loss === "number" && Number.isFinite(loss);
      batches.raw.push(finite ? loss : null);
      batches.smooth.push(finite ? smoothInto(batches, loss) : null);
    }
    describeBatches();
    if (charts.batch.scales.y.distr === 3 && data.losses.some((v) => v !== null && v <= 0)) drawBatches(); // to linear
    else charts.batch.setData([batches.x, batches.raw, batches.smooth]);
  }

  function addEpoch(data) {
    for (const key of Object.keys(epochs)) epochs[key].push(data[key] === undefined ? null : data[key]);
    drawEpochs();
    charts.batch.redraw(false); // its epoch's end marked
  }

  // two compared runs: each run's training (solid) and test (dashed) curves, A and B in their own colours
  function drawComparison(c, ids) {
    const lossBox = lab.el("div", null, "chart"), accuracyBox = lab.el("div", null, "chart");
    lossBox.id = "compare-loss"; accuracyBox.id = "compare-accuracy";
    document.getElementById("comparison").append(lossBox, accuracyBox);
    compared = { c, ids, lossBox, accuracyBox };
    drawCompared();
  }

  function drawCompared() {
    const { c, ids, lossBox, accuracyBox } = compared;
    const { a, b } = c.epochs;
    const xs = [...new Set([...a.epoch, ...b.epoch])].sort((p, q) => p - q);
    const on = (run, values) => xs.map((x) => { const i = run.epoch.indexOf(x); return i < 0 ? null : values[i]; });
    const curves = (measure, scale) => [
      on(a, scale(a[measure])), on(a, scale(a[`test_${measure}`])), on(b, scale(b[measure])), on(b, scale(b[`test_${measure}`]))];
    const series = () => [line(`A ${ids[0]} training`, TRAIN), line("A test", TRAIN, { dash: [6, 4] }),
      line(`B ${ids[1]} training`, OTHER), line("B test", OTHER, { dash: [6, 4] })]; // uPlot keeps state in each
    makeChart(lossBox, "compareLoss", "Loss after each epoch: A against B", "loss", series(), [xs, ...curves("loss", (v) => v)],
      { log: true });
    makeChart(accuracyBox, "compareAccuracy", "Accuracy after each epoch, %: A against B", "%", series(),
      [xs, ...curves("accuracy", percents)]);
  }

  function redraw() {
    document.getElementById("log-note").textContent = "";
    drawBatches(); drawEpochs();
    if (compared && compared.lossBox.isConnected) drawCompared();
  }

  let resizing = null;
  function resize() {
    clearTimeout(resizing);
    resizing = setTimeout(() => {
      for (const chart of Object.values(charts)) {
        if (chart.root.isConnected) chart.setSize({ width: width(chart.root.parentNode), height: 220 });
      }
    }, 100);
  }

  lab.on("follow", () => { reset(); drawBatches(); drawEpochs(); });
  lab.on("event:batch", addBatches);
  lab.on("event:epoch", addEpoch);
  lab.on("compare", drawComparison);
  document.addEventListener("DOMContentLoaded", () => {
    reset(); drawBatches(); drawEpochs();
    document.getElementById("log-scale").addEventListener("change", redraw);
    window.addEventListener("resize", resize);
  });
})();
