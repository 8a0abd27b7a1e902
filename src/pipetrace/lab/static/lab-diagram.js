// pipetrace lab: the network, unit by unit, after each epoch: every unit of every Dense layer as a cell coloured
// by its output for the followed test image, the largest contributions into the chosen unit as lines, and its
// weighted sum written out as `pipetrace learn math` writes it. Every number is the worker's (lab/inside.py):
// the terms input x weight, their sum, the rest, the bias, z and the output; nothing is summed here.
"use strict";
(() => {
  const lab = window.pipetraceLab;
  const { el } = lab;
  const SVGNS = "http://www.w3.org/2000/svg";
  const PIX = 5, CELL = 10, ROWS = 16, TOP = 24, GAP = 70, LINES = 6;
  let latest = null, chosen = null, classNames = [], image = null; // image: {height, width, channels}

  function node(tag, attrs) {
    const n = document.createElementNS(SVGNS, tag);
    for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, String(v));
    return n;
  }
  const sign = (v) => (v < 0 ? "-" : "+") + Math.abs(v).toFixed(4);

  function layout(network) {
    const shape = image && image.height * image.width * image.channels === network.input.length ? image
      : { height: 1, width: network.input.length, channels: 1 };
    const columns = [];
    let left = 10;
    const x0 = left;
    columns.push({ at: (i) => { const p = Math.floor(i / shape.channels); return [x0 + (p % shape.width) * PIX + PIX / 2, TOP + Math.floor(p / shape.width) * PIX + PIX / 2]; },
      size: PIX, title: "input", shape });
    left += shape.width * PIX + GAP;
    network.layers.forEach((layer, n) => {
      const last = n === network.layers.length - 1, rows = last ? layer.units : Math.min(ROWS, layer.units), start = left;
      columns.push({ at: (j) => [start + Math.floor(j / rows) * CELL + CELL / 2, TOP + (j % rows) * CELL + CELL / 2],
        size: CELL - 1, title: `layer ${n + 1}: ${layer.name}`, last });
      left += Math.ceil(layer.units / rows) * CELL + (last ? 120 : GAP);
    });
    const height = TOP + Math.max(shape.height * PIX, ROWS * CELL, network.layers[network.layers.length - 1].units * CELL) + 10;
    return { columns, width: left, height };
  }

  function draw(e) {
    if (!("inside" in e)) return;  // an older epoch replayed: the lab keeps pictures with the newest epoch only
    const part = document.getElementById("diagram-part");
    const network = e.inside && e.inside.network;
    const svg = part.querySelector("svg"), pick = part.querySelector(".net-pick"), sum = part.querySelector(".net-sum");
    const intro = part.querySelector(".intro");
    part.dataset.epoch = String(e.epoch);
    if (!network) {
      latest = null; svg.replaceChildren(); pick.hidden = true; sum.textContent = "";
      const why = e.inside && (e.inside.why || e.inside.network_why);
      intro.textContent = why ? `Not drawn after epoch ${e.epoch}: ${why}.` : `Not drawn after epoch ${e.epoch}.`;
      return;
    }
    latest = { epoch: e.epoch, network, followed: e.inside.followed, places: layout(network) };
    const { columns, width, height } = latest.places;
    svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    svg.replaceChildren(node("g", { class: "net-lines" }));
    [network.input, ...network.layers.map((l) => l.values)].forEach((values, c) => {
      const col = columns[c], group = node("g", { class: "net-col" });
      const top = Math.max(0, ...values.map(Math.abs));
      group.append(node("text", { x: col.at(0)[0] - col.size / 2, y: 12, class: "net-title" }));
      group.lastChild.textContent = col.title;
      values.forEach((v, j) => {
        const at = col.at(j), t = top > 0 ? Math.abs(v) / top : 0;
        const cell = node("rect", { x: at[0] - col.size / 2, y: at[1] - col.size / 2, width: col.size, height: col.size,
          class: v < 0 ? "net-cell neg" : "net-cell", "fill-opacity": (0.08 + 0.92 * t).toFixed(3) });
        if (c > 0) { cell.dataset.layer = String(c - 1); cell.dataset.unit = String(j); }
        group.append(cell);
        if (col.last) {
          const label = node("text", { x: at[0] + CELL, y: at[1] + 3, class: "net-label" });
          label.textContent = `${classNames[j] !== undefined ? classNames[j] : j}  ${(100 * v).toFixed(2)}%`;
          group.append(label);
        }
      });
      svg.append(group);
    });
    const layerPick = pick.querySelector("select");
    if (layerPick.options.length !== network.layers.length) {
      layerPick.replaceChildren(...network.layers.map((l, n) => {
        const o = el("option", `layer ${n + 1}: ${l.name} (${l.units} units, ${l.activation})`); o.value = String(n); return o;
      }));
    }
    pick.hidden = false;
    intro.textContent = `After epoch ${e.epoch}. Every unit of every layer as a cell, coloured by its output for the followed ` +
      `test image${latest.followed !== null ? ` (#${latest.followed})` : ""}: deeper for a larger output (orange for a ` +
      "negative one). The lines are the six largest contributions into the chosen unit, each an input times its weight: " +
      "solid adds to the unit's weighted sum, dashed takes from it. Click a unit, or choose it below, to see its weighted " +
      "sum written out.";
    const last = network.layers.length - 1, out = network.layers[last].values;
    const keep = chosen && chosen.layer < network.layers.length && chosen.unit < network.layers[chosen.layer].units;
    choose(keep ? chosen.layer : last, keep ? chosen.unit : out.indexOf(Math.max(...out)));  // the predicted class's unit first
  }

  function inputName(n, i) {
    if (n > 0) return `unit #${i}`;
    const shape = latest.places.columns[0].shape, p = Math.floor(i / shape.channels);
    const name = `pixel (${Math.floor(p / shape.width)}, ${p % shape.width})`;
    return shape.channels > 1 ? `${name} channel ${i % shape.channels}` : name;
  }

  function choose(n, j) {
    if (!latest) return;
    const part = document.getElementById("diagram-part"), svg = part.querySelector("svg");
    const { network, places } = latest, layer = network.layers[n];
    const inputs = n === 0 ? network.input : network.layers[n - 1].values;
    chosen = { layer: n, unit: j };
    const lines = svg.querySelector(".net-lines"); lines.replaceChildren();
    const to = places.columns[n + 1].at(j), terms = layer.term[j], biggest = Math.abs(terms[0]) || 1;
    layer.top[j].slice(0, LINES).forEach((i, k) => {
      const from = places.columns[n].at(i);
      lines.append(node("line", { x1: from[0], y1: from[1], x2: to[0], y2: to[1], class: terms[k] < 0 ? "net-line neg" : "net-line",
        "stroke-width": (0.8 + 2.5 * Math.abs(terms[k]) / biggest).toFixed(2) }));
    });
    svg.querySelectorAll(".net-cell.chosen").forEach((c) => c.classList.remove("chosen"));
    const cell = svg.querySelector(`rect[data-layer="${n}"][data-unit="${j}"]`);
    if (cell) cell.classList.add("chosen");
    const what = n > 0 ? "a" : "x", last = n === network.layers.length - 1;
    const named = last && classNames[j] !== undefined ? ` (the score of '${classNames[j]}')` : "";
    const text = [`Unit #${j}${named} of layer ${n + 1} ('${layer.name}', ${layer.activation}), for the followed test image after epoch ${latest.epoch}:`,
      `z = ${what}1*w1 + ${what}2*w2 + ... + ${what}${layer.inputs}*w${layer.inputs} + b, over all ${layer.inputs} input values`];
    layer.top[j].forEach((i, k) => {
      const name = inputName(n, i);
      text.push(`  ${name.padEnd(16)} ${what} = ${inputs[i].toFixed(4)}  *  w = ${sign(layer.w[j][k])}  =  ${sign(terms[k])}`);
    });
    const others = layer.inputs - layer.top[j].length;
    if (others > 0) text.push(`  the other ${others} terms add up to ${sign(layer.rest[j])}`);
    text.push(`  bias b = ${sign(layer.bias[j])}`);
    text.push(`  z = ${sign(layer.top_sum[j])} ${others > 0 ? sign(layer.rest[j]) + " " : ""}${sign(layer.bias[j])} = ${layer.z[j].toFixed(4)}`);
    text.push(layer.activation === "softmax"
      ? `softmax over the layer's ${layer.units} sums: p = ${layer.values[j].toFixed(4)} for '${classNames[j] !== undefined ? classNames[j] : j}'`
      : `${layer.activation}(z) = ${layer.values[j].toFixed(4)}, the unit's output`);
    part.querySelector(".net-sum").textContent = text.join("\n");
    const pick = part.querySelector(".net-pick");
    pick.querySelector("select").value = String(n);
    const unit = pick.querySelector("input"); unit.max = String(layer.units - 1); unit.value = String(j);
    part.dataset.chosen = `${n}:${j}`;
  }

  function fromPick() {
    const pick = document.getElementById("diagram-part").querySelector(".net-pick");
    const n = Number(pick.querySelector("select").value), j = Math.round(Number(pick.querySelector("input").value));
    if (latest && n >= 0 && n < latest.network.layers.length && j >= 0 && j < latest.network.layers[n].units) choose(n, j);
  }

  document.addEventListener("DOMContentLoaded", () => {
    const part = document.getElementById("diagram-part");
    part.querySelector("svg").addEventListener("click", (event) => {
      const cell = event.target.closest && event.target.closest("rect[data-unit]");
      if (cell) choose(Number(cell.dataset.layer), Number(cell.dataset.unit));
    });
    part.querySelector(".net-pick select").addEventListener("change", () => { part.querySelector(".net-pick input").value = "0"; fromPick(); });
    part.querySelector(".net-pick input").addEventListener("change", fromPick);
  });
  lab.on("follow", () => {
    const part = document.getElementById("diagram-part");
    latest = chosen = null; classNames = []; image = null;
    part.querySelector("svg").replaceChildren(); part.querySelector(".net-sum").textContent = "";
    part.querySelector(".net-pick").hidden = true;
    part.querySelector(".intro").textContent = "The network appears here after the first epoch.";
    delete part.dataset.epoch; delete part.dataset.chosen;
  });
  lab.on("event:test_images", (d) => {
    classNames = Array.isArray(d.class_names) ? d.class_names : [];
    image = { height: d.height, width: d.width, channels: d.channels };
  });
  lab.on("event:epoch", draw);
})();
