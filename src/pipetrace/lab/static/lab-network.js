// pipetrace lab: inside the followed run's network after each epoch: the followed test image's answer,
// the first hidden layer's outputs (`lab.hiddenLayer` draws them for the paused panel too).
"use strict";
(() => {
  const lab = window.pipetraceLab;
  const { el, num } = lab;

  function showProbe(e) {
    if (Array.isArray(e.probabilities)) {
      const probe = document.getElementById("probe");
      probe.replaceChildren(lab.bars(e.probabilities, `after epoch ${e.epoch}`));
      if (Array.isArray(e.hidden)) probe.append(hiddenLayer(e.hidden));
    }
  }

  // the first hidden layer's outputs for the followed image: one square per unit, darker for a larger output
  function hiddenLayer(values) {
    const figure = el("figure", null, "hidden");
    const top = Math.max(...values.map(Math.abs)) || 1;  // for the shading only: all-zero outputs stay white
    const columns = 32, size = 10;
    const canvas = el("canvas", null, "units");
    canvas.width = columns * size; canvas.height = Math.ceil(values.length / columns) * size;
    const ctx = canvas.getContext("2d");
    values.forEach((v, i) => {
      const shade = Math.round(255 * (1 - Math.abs(v) / top));
      ctx.fillStyle = v < 0 ? `rgb(255, ${shade}, ${shade})` : `rgb(${shade}, ${shade}, 255)`;
      ctx.fillRect((i % columns) * size, Math.floor(i / columns) * size, size - 1, size - 1);
    });
    const zero = values.filter((v) => v === 0).length;
    figure.append(canvas, el("figcaption", `the first hidden layer: ${values.length} outputs, largest ${num(Math.max(...values))}` +
      (zero ? `, ${zero} exactly 0` : "") + (values.some((v) => v < 0) ? " (red: below 0)" : "")));
    return figure;
  }

  lab.hiddenLayer = hiddenLayer; // the paused panel draws the same (lab-controls.js)
  lab.on("follow", () => document.getElementById("probe").replaceChildren());
  lab.on("event:epoch", showProbe);
})();
