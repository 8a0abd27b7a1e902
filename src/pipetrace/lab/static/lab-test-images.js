// pipetrace lab: every test image of the grid, live: the first test images (the `test_images` event, once), each
// with the network's answer and how sure it is after each epoch (green: right, red: wrong), the confusion matrix of
// those images, and a click that shows one image's probabilities now and, once training ended, its outputs of every
// layer. All measured on the worker (lab/grid.py, lab/inside.py).
"use strict";
(() => {
  const lab = window.pipetraceLab;
  const { el, pct } = lab;
  let images = null, answers = null, epoch = 0, picked = null, saved = null; // saved: the finished run's id
  let layers = null; // every Dense layer's outputs for each image, from the model as training ended (test_layers)
  const name = (k) => (images && images.class_names[k] !== undefined ? String(images.class_names[k]) : String(k));

  function received(d) {
    const part = document.getElementById("grid-part");
    const text = atob(d.pixels), size = d.height * d.width * d.channels;
    if (text.length !== size * d.count) return;
    images = d; answers = null; picked = null;
    const grid = part.querySelector(".test-grid");
    grid.replaceChildren(...d.labels.map((label, k) => {
      const button = el("button", null, "test-image"); button.type = "button"; button.dataset.index = String(k);
      button.setAttribute("aria-pressed", "false");
      const canvas = el("canvas", null, "digit"); canvas.width = d.width; canvas.height = d.height;
      const ctx = canvas.getContext("2d"), picture = ctx.createImageData(d.width, d.height);
      for (let p = 0; p < d.width * d.height; p++) {
        for (let c = 0; c < 3; c++) {
          const v = text.charCodeAt(k * size + p * d.channels + (d.channels > 1 ? c : 0));
          picture.data[4 * p + c] = d.channels > 1 ? Math.round(255 * v / d.pixel_max) : 255 - Math.round(255 * v / d.pixel_max);
        }
        picture.data[4 * p + 3] = 255;
      }
      ctx.putImageData(picture, 0, 0);
      button.append(canvas, el("span", "…"));
      button.title = `test image #${k}: a ${name(label)}`;
      return button;
    }));
    part.querySelector(".intro").textContent = `The first ${d.count} test images; their answers appear after the first epoch.`;
  }

  function update(e) {
    if (!("inside" in e)) return;  // an older epoch replayed: the lab keeps pictures with the newest epoch only
    const part = document.getElementById("grid-part");
    const grid = e.inside && e.inside.grid;
    if (!images && e.inside && e.inside.grid_why) part.querySelector(".intro").textContent = `Not shown: ${e.inside.grid_why}.`;
    if (!images || !grid || grid.predicted.length !== images.count) return;
    answers = grid; epoch = e.epoch;
    part.querySelectorAll(".test-image").forEach((button, k) => {
      const said = grid.predicted[k], sure = grid.probabilities[k][said], right = said === images.labels[k];
      button.classList.toggle("right", right); button.classList.toggle("wrong", !right);
      button.querySelector("span").textContent = `${name(said)} · ${pct(sure)}`;
      button.title = `test image #${k}: a ${name(images.labels[k])}, said ${name(said)} (${pct(sure)})`;
    });
    part.querySelector(".intro").textContent = `After epoch ${e.epoch}: the first ${images.count} test images, each with ` +
      `the network's answer and how sure it is (green: right, red: wrong): ${grid.right} of ${grid.counted} right. ` +
      "Click one to see its probabilities now.";
    confusion(part, grid);
    part.dataset.epoch = String(e.epoch);
    show(picked === null ? 0 : picked);
  }

  function confusion(part, grid) {
    const table = part.querySelector(".confusion");
    const head = el("tr"); head.append(el("th", "true \\ said"));
    grid.confusion.forEach((_, k) => head.append(el("th", name(k))));
    const rows = grid.confusion.map((row, t) => {
      const tr = el("tr"); tr.append(el("th", name(t)));
      row.forEach((n, s) => tr.append(el("td", n, n && s === t ? "hit" : n ? "miss" : "")));
      return tr;
    });
    const caption = el("p", `Confusion matrix of these ${grid.counted} test images (not the whole test set) after ` +
      `epoch ${epoch}: each row a true class, each column the network's answer; its cells add up to ` +
      `${grid.confusion.flat().reduce((a, b) => a + b, 0)}, ${grid.right} on the diagonal (right).`);
    part.querySelector(".confusion-words").replaceChildren(caption);
    table.replaceChildren(head, ...rows);
  }

  function show(k) {
    if (!images || !answers || !(k >= 0 && k < images.count)) return;
    picked = k;
    const part = document.getElementById("grid-part"), out = part.querySelector(".test-trace");
    part.querySelectorAll(".test-image").forEach((b, i) => b.setAttribute("aria-pressed", i === k ? "true" : "false"));
    const probabilities = answers.probabilities[k], said = answers.predicted[k];
    const bars = el("div", null, "bars");
    probabilities.forEach((p, c) => {
      const line = el("div", null, c === said ? "bar best" : "bar");
      const fill = el("span", null, "fill"); fill.style.width = `${(100 * p).toFixed(1)}%`;
      line.append(el("span", name(c), "class"), fill, el("span", pct(p), "value"));
      bars.append(line);
    });
    const big = part.querySelectorAll(".test-image canvas")[k];
    const copy = el("canvas", null, "digit"); copy.width = big.width; copy.height = big.height;
    copy.getContext("2d").drawImage(big, 0, 0);
    const row = el("div", null, "traced"); row.append(copy, bars);
    out.replaceChildren(el("h4", `Test image #${k}, a ${name(images.labels[k])}: after epoch ${epoch} the network says ` +
      `${name(said)} (${pct(probabilities[said])})${said === images.labels[k] ? "" : ", wrong"}`), row, ...(layers ? [throughLayers(k)] : []),
      el("p", `Its ${probabilities.length} probabilities as the worker measured them after this epoch. Once the run is saved, ` +
        "the report below shows these images too, and traces each one layer by layer where its page can run the network " +
        "(its section 'Every test image, one at a time').", "note"));
    if (saved) {
      const open = el("button", "Open the report's test images (each one traced step by step)", "to-report"); open.type = "button";
      open.addEventListener("click", () => {
        const report = document.getElementById("report");
        report.src = `/api/runs/${encodeURIComponent(saved)}/report.html#test-images`;
        report.scrollIntoView();
      });
      out.append(open);
    }
    out.dataset.index = String(k);
  }

  // the image through every Dense layer, as Keras computed it on the worker when training ended
  function throughLayers(k) {
    const box = el("div", null, "through");
    box.append(el("h5", "Through every layer, as the trained network computed it when training ended:"));
    layers.layers.forEach((layer, n) => {
      const values = layers.values[k][n], top = Math.max(0, ...values.map(Math.abs));
      const row = el("div", null, "through-layer");
      const canvas = el("canvas", null, "units"); const size = 8, columns = Math.min(values.length, 32);
      canvas.width = columns * size; canvas.height = Math.ceil(values.length / columns) * size;
      const ctx = canvas.getContext("2d");
      values.forEach((v, i) => {  // darker for a larger output; orange below 0
        const shade = Math.round(255 * (1 - (top > 0 ? Math.abs(v) / top : 0)));
        ctx.fillStyle = v < 0 ? `rgb(255, ${Math.round(165 + 90 * shade / 255)}, ${shade})` : `rgb(${shade}, ${shade}, 255)`;
        ctx.fillRect((i % columns) * size, Math.floor(i / columns) * size, size - 1, size - 1);
      });
      const positive = values.filter((v) => v > 0).length;
      const strongest = values.map((v, i) => i).sort((a, b) => values[b] - values[a]).slice(0, 5)
        .map((i) => layer.activation === "softmax" ? `${name(i)} (${pct(values[i])})` : `#${i} (${values[i]})`).join(", ");
      const said = layer.activation === "softmax" ? `its ${values.length} probabilities; the largest: ${strongest}` :
        `${positive} of ${values.length} outputs above 0, ${values.filter((v) => v === 0).length} exactly 0; the largest: ${strongest}`;
      row.append(el("h6", `Layer ${n + 1}: ${layer.name} (${layer.units} units, ${layer.activation})`), canvas, el("p", said));
      box.append(row);
    });
    return box;
  }

  function ended(d, run) {
    saved = d.saved ? run.id : null;
    if (picked !== null) show(picked);
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.getElementById("grid-part").querySelector(".test-grid").addEventListener("click", (event) => {
      const button = event.target.closest && event.target.closest(".test-image");
      if (button) show(Number(button.dataset.index));
    });
  });
  lab.on("follow", () => {
    const part = document.getElementById("grid-part");
    images = answers = picked = saved = layers = null;
    for (const c of [".test-grid", ".confusion", ".confusion-words", ".test-trace"]) part.querySelector(c).replaceChildren();
    part.querySelector(".intro").textContent = "The test images appear here when training starts.";
    delete part.dataset.epoch;
  });
  lab.on("event:test_images", received);
  lab.on("event:epoch", update);
  lab.on("event:test_layers", (d) => {
    if (!images || !Array.isArray(d.values) || d.values.length !== images.count) return;
    layers = d;
    if (picked !== null) show(picked);
  });
  lab.on("event:done", ended);
  lab.on("event:stopped", ended);
})();
