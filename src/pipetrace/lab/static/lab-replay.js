// pipetrace lab: replay a saved run from its trace.json, epoch by epoch, with a slider (epoch 0: the untrained
// start, when the trace measured it). Every number comes from the trace; a value that is not a number shows "-".
"use strict";
(() => {
  const lab = window.pipetraceLab;
  const { el, pct, num } = lab;
  let epochs = []; // the trace's start (when measured) and epochs, in order, each checked below
  let asked = 0; // the newest replay asked for: an older trace arriving later is dropped

  const number = (x) => (typeof x === "number" && Number.isFinite(x) ? x : null);
  const text = (x) => (typeof x === "string" ? x : "");
  const fraction = (x) => (number(x) !== null && x >= 0 && x <= 1 ? x : null); // an accuracy outside 0..1 is no accuracy

  // an epoch of a trace.json as this panel uses it (a trace is anyone's file: nothing is trusted)
  function checked(e) {
    const losses = Array.isArray(e.batch_losses) ? e.batch_losses.map(number) : [];
    return { epoch: number(e.epoch), loss: number(e.loss), accuracy: fraction(e.accuracy), test_loss: number(e.test_loss),
      test_accuracy: fraction(e.test_accuracy), observation: text(e.observation), losses };
  }

  async function replay(id) {
    const mine = ++asked;
    const section = document.getElementById("replay-section");
    const said = document.getElementById("replay-error");
    const response = await lab.api(`/api/runs/${encodeURIComponent(id)}/trace.json`);
    let trace = null;
    try { trace = response.ok ? await response.json() : null; } catch (error) { trace = null; }
    if (mine !== asked) return;
    section.hidden = false;
    document.getElementById("replay-run").textContent = id;
    const training = trace && typeof trace.training === "object" && trace.training ? trace.training : {};
    const listed = Array.isArray(training.epochs) ? training.epochs.filter((e) => e && typeof e === "object") : [];
    epochs = (training.start && typeof training.start === "object" ? [training.start] : []).concat(listed).map(checked);
    const slider = document.getElementById("replay-epoch");
    slider.disabled = !epochs.length;
    said.textContent = !trace ? `run ${id} has no readable trace.json` : epochs.length ? "" : "this trace recorded no epochs";
    if (!epochs.length) { document.getElementById("replay-shown").replaceChildren(); return; }
    slider.min = "0"; slider.max = String(epochs.length - 1); slider.value = String(epochs.length - 1);
    show();
  }

  function show() {
    const chosen = Number(document.getElementById("replay-epoch").value);
    const e = epochs[chosen];
    const name = e.epoch === 0 ? "epoch 0 (before training)" : `epoch ${e.epoch === null ? "?" : e.epoch}`;
    document.getElementById("replay-value").textContent = name;
    const numbers = el("dl", null, "replay-numbers");
    for (const [label, value] of [["Train loss", num(e.loss)], ["Train accuracy", pct(e.accuracy)],
      ["Test loss", num(e.test_loss)], ["Test accuracy", pct(e.test_accuracy)]]) {
      numbers.append(el("dt", label), el("dd", value));
    }
    const body = el("tbody");
    epochs.slice(0, chosen + 1).forEach((row, i) => {
      const tr = el("tr", null, i === chosen ? "chosen" : "");
      tr.append(el("td", row.epoch), el("td", num(row.loss)), el("td", pct(row.accuracy)), el("td", num(row.test_loss)),
        el("td", pct(row.test_accuracy)), el("td", row.observation));
      body.append(tr);
    });
    const table = el("table", null, "replay-table");
    const head = el("tr");
    for (const title of ["Epoch", "Train loss", "Train accuracy", "Test loss", "Test accuracy", "Observation"]) head.append(el("th", title));
    const thead = el("thead"); thead.append(head); table.append(thead, body);
    const scroll = el("div", null, "replay-scroll"); scroll.append(table); // a narrow screen scrolls the table, not the page
    const chart = el("div", null, "chart replay-loss"), caption = el("p", null, "caption");
    document.getElementById("replay-shown").replaceChildren(numbers, el("p", e.observation, "observation"), chart,
      caption, scroll);
    caption.textContent = drawLoss(chart, chosen); // in the page first: the chart takes its width
  }

  // the loss of every batch up to the end of epoch `chosen` in `chart` (uPlot, as lab-charts.js draws the live one),
  // on the scale of the whole run (the line grows); the words to go under it
  function drawLoss(chart, chosen) {
    const shown = epochs.slice(0, chosen + 1).flatMap((e) => e.losses);
    const all = epochs.flatMap((e) => e.losses);
    chart.dataset.batches = String(shown.length);
    chart.setAttribute("aria-label", `the loss of each of the ${shown.length} batches to the end of this epoch`);
    const top = all.reduce((most, v) => (v !== null && v > most ? v : most), 0); // no spread: a trace may hold 10^6 losses
    if (!shown.length || !(top > 0)) {
      if (lab.charts.replay) { lab.charts.replay.destroy(); delete lab.charts.replay; }
      return "no batch losses recorded to here";
    }
    lab.chart(chart, "replay", "Loss, batch by batch, to the end of this epoch", "loss",
      [lab.line("as recorded", lab.colours.TRAIN, { width: 1, points: { show: false } })],
      [shown.map((_, i) => i + 1), shown], { xLabel: "batch", xRange: () => [0, all.length], yRange: () => [0, top] });
    return `${shown.length} of the run's ${all.length} batches; the top of the chart is a loss of ${num(top)}, the bottom 0`;
  }

  // a Replay button beside each saved run's files
  lab.on("runs", (runs) => {
    const rows = document.querySelectorAll("#runs tbody tr");
    runs.forEach((run, i) => {
      if (!run.saved || !rows[i]) return;
      const button = el("button", "Replay", "replay");
      button.type = "button";
      button.setAttribute("aria-label", `replay ${run.id} epoch by epoch`);
      button.addEventListener("click", () => replay(run.id));
      rows[i].lastElementChild.append(button);
    });
  });
  for (const kind of ["done", "stopped"]) lab.on(`event:${kind}`, (d, run) => { if (d.saved) replay(run.id); });
  document.addEventListener("DOMContentLoaded", () => document.getElementById("replay-epoch").addEventListener("input", show));
})();
