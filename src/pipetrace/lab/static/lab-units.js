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

  // red where the value is above 0, blue below, white near 0 (the report's colours), from int8 values q[start..]
  function paintSigned(canvas, q, start) {
    const ctx = canvas.getContext("2d"), picture = ctx.createImageData(canvas.width, canvas.height);
    for (let i = 0; i < canvas.width * canvas.height; i++) {
      const v = q[start + i], t = Math.round(255 * Math.abs(v) / 127);
      picture.data[4 * i] = v > 0 ? 255 : 255 - t;
      picture.data[4 * i + 1] = 255 - t;
      picture.data[4 * i + 2] = v < 0 ? 255 : 255 - t;
      picture.data[4 * i + 3] = 255;
    }
    ctx.putImageData(picture, 0, 0);
  }

  function figure(className, width, height, label) {
    const node = el("figure", null, className), canvas = el("canvas");
    canvas.width = width; canvas.height = height; canvas.setAttribute("role", "img"); canvas.setAttribute("aria-label", label);
    node.append(canvas, el("figcaption"));
    return node;
  }

  // a first Conv2D layer: each filter's weights, and beside it what it found in the followed image (its feature map)
  function showFilters(e, part) {
    const f = e.inside.filters, size = f.height * f.width, weights = bytes(f.weights), grid = part.querySelector(".unit-grid");
    const maps = f.maps, mapSize = maps ? maps.height * maps.width : 0, values = maps ? bytes(maps.values) : null;
    if (weights.length !== size * f.filters || (maps && values.length !== mapSize * f.filters)) return;
    grid.replaceChildren(...Array.from({ length: f.filters }, (_, k) => {
      const pair = el("div", null, "filter");
      const filter = figure("unit", f.width, f.height, `filter #${k}: its ${f.height} x ${f.width} weights`);
      paintSigned(filter.querySelector("canvas"), weights, k * size);
      filter.querySelector("figcaption").textContent = `filter #${k}`;
      pair.append(filter);
      if (maps) {
        const map = figure("unit", maps.width, maps.height, `filter #${k}'s feature map for the followed image`);
        paintSigned(map.querySelector("canvas"), values, k * mapSize);
        map.querySelector("figcaption").textContent = `map · ${Number(maps.scales[k].toPrecision(5))}`;
        pair.append(map);
      }
      return pair;
    }));
    part.querySelector(".intro").textContent = `After epoch ${e.epoch}. The first layer (${f.layer}) is convolutional: ` +
      `each of its ${count(f.filters, "filter")} slides a ${f.height} x ${f.width} square of weights over the image. ` +
      "Each filter's weights are drawn red where a bright pixel raises its sum, blue where it lowers it (scaled by its " +
      "own largest weight, rounded to 255 levels)" + (maps ? `; beside it, its feature map for the followed test ` +
      `image${e.inside.followed !== null ? ` (#${e.inside.followed})` : ""}: its ${f.activation} output at each place, ` +
      "red above 0, blue below, each map scaled by its own largest |value| (written under it)." : ".") +
      " The Dense layers after it are not drawn here.";
    part.dataset.epoch = String(e.epoch);
  }

  function show(e) {
    if (!("inside" in e)) return;  // an older epoch replayed: the lab keeps pictures with the newest epoch only
    const part = document.getElementById("units-part");
    const intro = part.querySelector(".intro"), grid = part.querySelector(".unit-grid");
    const units = e.inside && e.inside.units;
    if (!units && e.inside && e.inside.filters) { showFilters(e, part); return; }
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
    if (grid.querySelectorAll("figure.unit").length !== units.drawn || grid.querySelector(".filter")) {
      grid.replaceChildren(...Array.from({ length: units.drawn }, (_, j) => {
        const unit = figure("unit", units.width, units.height, `unit #${j}`); unit.dataset.unit = String(j);
        return unit;
      }));
    }
    [...grid.children].forEach((figure, j) => {
      const canvas = figure.querySelector("canvas");
      paintSigned(canvas, weights, j * size);  // red: a bright pixel raises the weighted sum; blue: it lowers it
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
