// pipetrace lab: what each hidden unit looks for, after each epoch (lab/inside.py measures it on the worker).
// Unit j's incoming weights as the image they multiply (red: a bright pixel raises its weighted sum, blue: lowers
// it), from the epoch event's int8 weights (each unit scaled by its own largest |weight|); under it, the unit's
// output for the followed test image as the worker measured it; units that gave 0 on every grid image marked silent.
"use strict";
(() => {
  const lab = window.pipetraceLab;
  const { el } = lab;
  const count = (n, word) => `${n.toLocaleString("en")} ${word}${n === 1 ? "" : "s"}`;

  function bytes(base64) {
    const text = atob(base64), out = new Int8Array(text.length);
    for (let i = 0; i < text.length; i++) out[i] = (text.charCodeAt(i) << 24) >> 24;
    return out;
  }

  function show(e) {
    const part = document.getElementById("units-part");
    const intro = part.querySelector(".intro"), grid = part.querySelector(".unit-grid");
    const units = e.inside && e.inside.units;
    if (!units) {
      grid.replaceChildren();
      const why = e.inside && (e.inside.why || e.inside.units_why);
      intro.textContent = why ? `Not drawn after epoch ${e.epoch}: ${why}.` : `Not drawn after epoch ${e.epoch}.`;
      part.dataset.epoch = String(e.epoch);
      return;
    }
    const size = units.height * units.width, weights = bytes(units.weights);
    if (weights.length !== size * units.drawn) return;
    const silent = new Set(units.silent || []);
    const followed = Array.isArray(e.hidden) && e.hidden.length === units.units ? e.hidden : null;
    if (grid.children.length !== units.drawn) {
      grid.replaceChildren(...Array.from({ length: units.drawn }, (_, j) => {
        const figure = el("figure", null, "unit"); figure.dataset.unit = String(j);
        const canvas = el("canvas"); canvas.width = units.width; canvas.height = units.height;
        canvas.setAttribute("role", "img");
        figure.append(canvas, el("figcaption"));
        return figure;
      }));
    }
    [...grid.children].forEach((figure, j) => {
      const canvas = figure.querySelector("canvas"), ctx = canvas.getContext("2d");
      const picture = ctx.createImageData(units.width, units.height);
      for (let i = 0; i < size; i++) {
        const q = weights[j * size + i], t = Math.round(255 * Math.abs(q) / 127);
        picture.data[4 * i] = q > 0 ? 255 : 255 - t;      // red: a bright pixel raises the weighted sum
        picture.data[4 * i + 1] = 255 - t;
        picture.data[4 * i + 2] = q < 0 ? 255 : 255 - t;  // blue: it lowers it
        picture.data[4 * i + 3] = 255;
      }
      ctx.putImageData(picture, 0, 0);
      const value = followed ? String(followed[j]) : "–", quiet = silent.has(j);
      figure.classList.toggle("silent", quiet);
      figure.querySelector("figcaption").textContent = `#${j} · ${value}${quiet ? " · silent" : ""}`;
      canvas.setAttribute("aria-label", `unit #${j}: output ${value} for the followed image` +
        (quiet ? `; silent on the ${units.measured_on} grid images` : ""));
    });
    let words = `After epoch ${e.epoch}. Each square is one of the ${count(units.units, "unit")} of the first hidden layer ` +
      `(${units.layer}): its ${size.toLocaleString("en")} incoming weights laid out as the ${units.height} x ${units.width} ` +
      "image they multiply. Red where a bright pixel raises the unit's weighted sum, blue where it lowers it, white near 0; " +
      "each square is scaled by its own largest weight (drawn from the weights rounded to 255 levels a unit). Under it, " +
      `the unit's output for the followed test image${e.inside.followed !== null ? ` (#${e.inside.followed})` : ""}.`;
    if (Array.isArray(units.silent)) {
      words += ` ${count(silent.size, "unit")} gave 0 for all ${count(units.measured_on, "test image")} of the grid below ` +
        `(marked silent: ${units.activation} gives 0 for every negative weighted sum; a unit that is silent on every ` +
        "image, not only these, gets no gradient and stops learning: a 'dead' unit).";
    }
    if (units.drawn < units.units) words += ` The first ${units.drawn} of them are drawn.`;
    intro.textContent = words;
    part.dataset.epoch = String(e.epoch);
  }

  lab.on("follow", () => {
    const part = document.getElementById("units-part");
    part.querySelector(".unit-grid").replaceChildren();
    part.querySelector(".intro").textContent = "The first hidden layer's units appear here after the first epoch.";
    delete part.dataset.epoch;
  });
  lab.on("event:epoch", show);
})();
