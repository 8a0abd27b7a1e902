/* pipetrace report: the page's behaviour. No libraries, no requests; data comes from the
   JSON block the report embeds. Text from the trace is only ever set with textContent. */
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  var data = JSON.parse(document.getElementById("pipetrace-data").textContent);
  var classes = data.classes;

  var IMG = data.image || { height: 28, width: 28, channels: 1, pixel_max: 255 };

  /* ---- the network, from the packed float32 weights (little-endian, row-major) ---- */
  function whole(n) { return typeof n === "number" && n >= 1 && n <= 16777216 && Math.floor(n) === n; }
  function unpack(packed, size, what) {  /* exactly `size` float32 values, or an Error saying what is wrong */
    var bin;
    try { bin = atob(packed.data); } catch (e) { throw new Error(what + " is not base64"); }
    if (bin.length !== 4 * size) throw new Error(what + " holds " + bin.length / 4 + " values, not " + size);
    var view = new DataView(new ArrayBuffer(bin.length));
    for (var i = 0; i < bin.length; i++) view.setUint8(i, bin.charCodeAt(i));
    var out = new Float32Array(size);
    for (var j = 0; j < size; j++) out[j] = view.getFloat32(4 * j, true);
    return out;
  }
  /* The Dense layers the page runs; any that do not fit together leave none, and `cannotRun` says why. */
  function readLayers() {
    var inputs = IMG.height * IMG.width * IMG.channels;
    return (data.layers || []).map(function (l, n) {
      var ks = l.kernel && l.kernel.shape, bs = l.bias && l.bias.shape, what = "layer " + (n + 1);
      if (!Array.isArray(ks) || ks.length !== 2 || !whole(ks[0]) || !whole(ks[1]) || !Array.isArray(bs) ||
          bs.length !== 1 || bs[0] !== ks[1]) throw new Error(what + " has kernel and bias shapes that do not fit");
      if (ks[0] !== inputs) throw new Error(what + " reads " + ks[0] + " values but gets " + inputs);
      if (!Object.prototype.hasOwnProperty.call(ACTIVATIONS, l.activation)) throw new Error(what + "'s activation is unknown");
      inputs = ks[1];
      return { name: l.name, activation: l.activation, inputs: ks[0], units: ks[1],
               kernel: unpack(l.kernel, ks[0] * ks[1], what + "'s kernel"), bias: unpack(l.bias, bs[0], what + "'s bias") };
    });
  }
  /* Keras' activations, value by value, as keras/src/activations defines them (TensorFlow backend):
     leaky_relu's slope is Keras' default 0.2, gelu is the exact one (approximate=False), selu uses
     TensorFlow's constants. */
  var SELU_SCALE = 1.0507009873554804934193349852946, SELU_ALPHA = 1.6732632423543772848170429916717;
  function sigmoid(v) { return 1 / (1 + Math.exp(-v)); }
  function softplus(v) { return v > 0 ? v + Math.log1p(Math.exp(-v)) : Math.log1p(Math.exp(v)); }
  function relu6(v) { return Math.min(Math.max(v, 0), 6); }
  function erf(x) {  /* to about 1e-14: Taylor series below 3, continued fraction of erfc above */
    var ax = Math.abs(x), s = x < 0 ? -1 : 1, n;
    if (ax < 3) {
      var sum = ax, term = ax, x2 = ax * ax;
      for (n = 1; n < 200; n++) {
        term *= -x2 / n;
        var add = term / (2 * n + 1);
        sum += add;
        if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
      }
      return s * 2 / Math.sqrt(Math.PI) * sum;
    }
    if (ax > 6) return s;
    var k = ax;
    for (n = 60; n >= 1; n--) k = ax + (n / 2) / k;
    return s * (1 - Math.exp(-ax * ax) / (Math.sqrt(Math.PI) * k));
  }
  function each(f) { return function (z) { return z.map(f); }; }
  var ACTIVATIONS = {
    linear: function (z) { return z; },
    relu: each(function (v) { return v > 0 ? v : 0; }),
    relu6: each(relu6),
    leaky_relu: each(function (v) { return v > 0 ? v : 0.2 * v; }),
    elu: each(function (v) { return v > 0 ? v : Math.expm1(v); }),
    selu: each(function (v) { return SELU_SCALE * (v > 0 ? v : SELU_ALPHA * Math.expm1(v)); }),
    sigmoid: each(sigmoid),
    tanh: each(Math.tanh),
    silu: each(function (v) { return v * sigmoid(v); }),
    gelu: each(function (v) { return 0.5 * v * (1 + erf(v / Math.SQRT2)); }),
    softplus: each(softplus),
    softsign: each(function (v) { return v / (1 + Math.abs(v)); }),
    exponential: each(Math.exp),
    hard_sigmoid: each(function (v) { return relu6(v + 3) / 6; }),
    hard_silu: each(function (v) { return v * relu6(v + 3) / 6; }),
    mish: each(function (v) { return v * Math.tanh(softplus(v)); }),
    softmax: function (z) {
      var top = Math.max.apply(null, z), ex = z.map(function (v) { return Math.exp(v - top); });
      var sum = ex.reduce(function (a, b) { return a + b; }, 0);
      return ex.map(function (v) { return v / sum; });
    }
  };
  ACTIVATIONS.swish = ACTIVATIONS.silu;
  var layers = [], cannotRun = "";
  try { layers = readLayers(); } catch (e) { cannotRun = e.message; }
  var NICE = { relu: "ReLU", tanh: "Tanh", sigmoid: "Sigmoid", gelu: "GELU", elu: "ELU", selu: "SELU", silu: "SiLU",
               swish: "SiLU", leaky_relu: "LeakyReLU", linear: "No activation" };
  function dense(x, layer) {
    var z = new Array(layer.units), u = layer.units, k = layer.kernel;
    for (var j = 0; j < u; j++) z[j] = layer.bias[j];
    for (var i = 0; i < layer.inputs; i++) {
      var xi = x[i];
      if (xi === 0) continue;
      for (var c = 0, row = i * u; c < u; c++) z[c] += xi * k[row + c];
    }
    return z;
  }
  /* Every Dense layer's weighted sums and activations for one input (the image's values in 0..1, row by row). */
  function forward(x) {
    var sums = [], outs = [], a = x;
    layers.forEach(function (layer) {
      var act = ACTIVATIONS[layer.activation];
      var z = dense(a, layer);
      sums.push(z);
      a = act(z);
      outs.push(a);
    });
    return { sums: sums, activations: outs, probabilities: a };
  }
  function predict(batch) { return batch.map(function (x) { return forward(x).probabilities; }); }

  /* ---- MNIST-style preparation of a drawing, at the data's image size: crop, fit into a box of 20/28 of
     each side keeping the aspect (20 x 20 in 28 x 28), centre by centre of mass, then 0..255 -> 0..1
     (colour images get the same grey in each channel) ---- */
  function prepare(grey, width, height) {
    var H = IMG.height, W = IMG.width, C = IMG.channels;
    var minX = width, minY = height, maxX = -1, maxY = -1, x, y;
    for (y = 0; y < height; y++) for (x = 0; x < width; x++) if (grey[y * width + x] > 0) {
      if (x < minX) minX = x; if (x > maxX) maxX = x; if (y < minY) minY = y; if (y > maxY) maxY = y;
    }
    var out = new Array(H * W * C).fill(0);
    if (maxX < 0) return out;
    var bw = maxX - minX + 1, bh = maxY - minY + 1, scale = Math.min(20 * W / 28 / bw, 20 * H / 28 / bh);
    var w = Math.max(1, Math.round(bw * scale)), h = Math.max(1, Math.round(bh * scale));
    var small = new Float64Array(w * h), mass = 0, cx = 0, cy = 0;
    for (var ty = 0; ty < h; ty++) {
      var y0 = minY + Math.floor(ty * bh / h), y1 = Math.max(y0 + 1, minY + Math.ceil((ty + 1) * bh / h));
      for (var tx = 0; tx < w; tx++) {
        var x0 = minX + Math.floor(tx * bw / w), x1 = Math.max(x0 + 1, minX + Math.ceil((tx + 1) * bw / w));
        var sum = 0, n = 0;
        for (y = y0; y < y1; y++) for (x = x0; x < x1; x++) { sum += grey[y * width + x]; n++; }
        var v = sum / n;  // the average over the source pixels this cell covers (area resampling)
        small[ty * w + tx] = v; mass += v; cx += v * tx; cy += v * ty;
      }
    }
    // MNIST's centre of mass sits on pixel index 14 of 28 (its test images: 13.98 on average): the middle
    var ox = Math.round(W / 2 - cx / mass), oy = Math.round(H / 2 - cy / mass);
    for (ty = 0; ty < h; ty++) for (tx = 0; tx < w; tx++) {
      var X = tx + ox, Y = ty + oy;
      if (X >= 0 && X < W && Y >= 0 && Y < H) {
        for (var c = 0; c < C; c++) out[(Y * W + X) * C + c] = Math.min(1, small[ty * w + tx] / 255);
      }
    }
    return out;
  }

  /* ---- drawing a trace, step by step, into a .layers block ---- */
  function part(root, name) { return root.querySelector('[data-part="' + name + '"]'); }
  function pct(v, d) { return (100 * v).toFixed(d) + "%"; }
  /* A confidence as pipetrace.numbers.percent writes it: never a rounded 100% or 0% */
  function percent(f, d) {
    if (f === 0 || f === 1) return (100 * f).toFixed(d) + "%";
    for (var places = d; places <= Math.max(d, 2); places++) {
      var text = (100 * f).toFixed(places);
      if (Number(text) > 0 && Number(text) < 100) return text + "%";
    }
    return f > 0.5 ? "> 99.99%" : "< 0.01%";
  }
  function paint(canvas, values, channels) {  /* values 0..1, row by row, `channels` per pixel */
    var ctx = canvas.getContext("2d"), img = ctx.createImageData(canvas.width, canvas.height);
    for (var i = 0; i < canvas.width * canvas.height; i++) {
      for (var c = 0; c < 3; c++) img.data[4 * i + c] = Math.round(255 * (values[i * channels + (channels === 3 ? c : 0)] || 0));
      img.data[4 * i + 3] = 255;
    }
    ctx.putImageData(img, 0, 0);
  }
  function paintStrip(canvas, values) {
    var top = Math.max.apply(null, values.concat([1e-12])), low = Math.min.apply(null, values.concat([0]));
    paint(canvas, values.map(function (v) { return (v - low) / (top - low || 1); }), 1);
  }
  function setCells(box, values) {
    var cells = box.children, top = 1e-12;
    values.forEach(function (v) { top = Math.max(top, Math.abs(v)); });
    for (var i = 0; i < cells.length; i++) {
      var v = values[i] || 0;
      cells[i].style.setProperty("--a", (Math.abs(v) / top).toFixed(3));
      cells[i].className = v < 0 ? "neg" : "";
      cells[i].title = "#" + i + ": " + v.toFixed(3);
    }
  }
  function setBars(box, probabilities, predicted) {
    var rows = box.children;
    for (var i = 0; i < rows.length; i++) {
      var p = probabilities[i] || 0;
      rows[i].className = i === predicted ? "best" : "";
      rows[i].querySelector(".bar i").style.width = pct(p, 2);
      rows[i].querySelector(".v").textContent = pct(p, 2);
    }
  }
  function showTrace(root, t) {
    if (t.png) part(root, "image").src = t.png;
    if (t.pixels) paint(part(root, "canvas"), t.pixels, IMG.channels);
    root.querySelectorAll("[data-step]").forEach(function (el) {
      var s = t.steps[Number(el.dataset.step)], role = el.dataset.role;
      if (!s) return;
      if (role === "maps" && s.maps) {
        el.querySelectorAll(".maps img").forEach(function (img, j) { if (s.maps[j]) img.src = s.maps[j]; });
      } else if (role === "neurons" && s.values) {
        setCells(part(el, "neurons"), s.values);
      } else if (role === "strip") {
        var strip = part(el, "strip");
        if (s.strip) strip.src = s.strip; else if (s.values) paintStrip(strip, s.values);
      } else if (role === "probs" && s.values) {
        setBars(part(el, "probs"), s.values, t.predicted);
      }
      part(el, "summary").textContent = s.summary || "";
    });
    part(root, "predicted").textContent = classes[t.predicted];
    part(root, "confidence").textContent = percent(t.confidence, 2) + " sure";
    var box = root.querySelector('[data-role="verdict"]');
    box.classList.remove("right", "wrong");
    if (t.label === null) {
      part(root, "verdict").textContent = "you drew it: no true label";
    } else {
      var right = t.label === t.predicted;
      box.classList.add(right ? "right" : "wrong");
      part(root, "verdict").textContent = "true label " + classes[t.label] + ": " + (right ? "right" : "wrong");
    }
  }

  /* ---- stage 2: read any pixel of the followed image, before and after scaling ---- */
  var pixelImage = document.getElementById("pixel-image");
  if (pixelImage && data.followed.raw.length) {
    var readout = document.getElementById("pixel-readout"), marker = pixelImage.parentNode.querySelector(".pixel-box");
    var H = data.followed.raw.length, W = data.followed.raw[0].length;
    var readPixel = function (ev) {
      var r = pixelImage.getBoundingClientRect();
      var col = Math.min(W - 1, Math.max(0, Math.floor((ev.clientX - r.left) / r.width * W)));
      var row = Math.min(H - 1, Math.max(0, Math.floor((ev.clientY - r.top) / r.height * H)));
      var raw = data.followed.raw[row][col], C = Array.isArray(raw) ? raw.length : 1, scaled = [];
      for (var c = 0; c < C; c++) scaled.push(data.followed.scaled[(row * W + col) * C + c]);
      var after = scaled.map(function (v) { return v === undefined ? "?" : v.toFixed(4); }).join(", ");
      readout.textContent = "Pixel (row " + row + ", column " + col + "): " + (C > 1 ? "(" + raw.join(", ") + ")" : raw) +
        " before, " + (C > 1 ? "(" + after + ")" : after) + " after";
      marker.hidden = false;
      marker.style.left = (col * r.width / W) + "px"; marker.style.top = (row * r.height / H) + "px";
      marker.style.width = (r.width / W) + "px"; marker.style.height = (r.height / H) + "px";
    };
    pixelImage.addEventListener("pointermove", readPixel);
    pixelImage.addEventListener("pointerdown", readPixel);
  }

  /* ---- prediction trace: switch among the samples the run stored ---- */
  var sampleRoot = document.querySelector('[data-trace="sample"]');
  document.querySelectorAll(".pick").forEach(function (button) {
    button.addEventListener("click", function () {
      var s = data.samples[Number(button.dataset.sample)];
      document.querySelectorAll(".pick").forEach(function (b) { b.setAttribute("aria-pressed", b === button ? "true" : "false"); });
      showTrace(sampleRoot, { png: s.png, steps: s.steps, predicted: s.predicted, confidence: s.confidence, label: s.label });
    });
  });

  /* ---- draw your own digit ---- */
  var pad = document.getElementById("pad"), drawRoot = document.querySelector('[data-trace="draw"]');
  var api = { forward: forward, predict: predict, prepare: prepare, classes: classes, image: IMG, activations: ACTIVATIONS,
              lastDrawing: null, cannotRun: cannotRun };
  window.pipetrace = api;
  function strongest(values) {
    return values.map(function (v, k) { return k; }).sort(function (a, b) { return values[b] - values[a]; }).slice(0, 5)
      .map(function (k) { return "#" + k + " (" + values[k].toFixed(2) + ")"; }).join(", ");
  }
  function denseSummary(layer, sums, values) {
    var low = Math.min.apply(null, sums), high = Math.max.apply(null, sums);
    var fired = values.filter(function (v) { return v > 0; }).length, n = values.length;
    var said = layer.activation === "relu"
      ? "ReLU kept the " + fired + " positive ones (" + pct(fired / n, 0) + ") and set " + (n - fired) + " to 0"
      : (NICE[layer.activation] || layer.activation) + " gave values from " + Math.min.apply(null, values).toFixed(2) +
        " to " + Math.max.apply(null, values).toFixed(2) + "; " + fired + " of " + n + " are above 0";
    return "Weighted sums ranged from " + low.toFixed(2) + " to " + high.toFixed(2) + "; " + said + ". Strongest: " + strongest(values);
  }
  if (pad && cannotRun) {  /* the weights do not fit together: the pad goes, and the page says why */
    var why = document.createElement("p");
    why.className = "warning";
    why.textContent = "The page cannot run this network: " + cannotRun + ".";
    var grid = pad.closest(".draw-grid");
    grid.parentNode.replaceChild(why, grid);
    pad = drawRoot = null;
  }
  /* What a .layers block computed here shows, step by step, for the page's own forward pass `run`. */
  function computedSteps(root, run, inputSummary) {
    var probs = run.probabilities, best = probs.indexOf(Math.max.apply(null, probs));
    var total = probs.reduce(function (a, b) { return a + b; }, 0), steps = [];
    root.querySelectorAll("[data-step]").forEach(function (el) {
      var role = el.dataset.role, from = Number(el.dataset.from), step = {};
      if (role === "input") {
        step.summary = inputSummary;
      } else if (role === "neurons" || role === "strip") {
        step.values = run.activations[from];
        step.summary = el.dataset.kind === "Dropout"
          ? "Inactive at prediction time: passed all " + step.values.length + " values through unchanged"
          : denseSummary(layers[from], run.sums[from], step.values);
      } else if (role === "probs") {
        step.values = probs;
        step.summary = "Softmax probabilities sum to " + total.toFixed(6) + "; the largest, " + probs[best].toFixed(4) +
          ", is for '" + classes[best] + "'";
      } else if (role === "verdict") {
        step.summary = "Predicted '" + classes[best] + "' with " + percent(probs[best], 2) + " confidence";
      }
      steps[Number(el.dataset.step)] = step;
    });
    return steps;
  }
  if (pad && drawRoot && layers.length) {
    var ctx = pad.getContext("2d", { willReadFrequently: true }), drawing = false, last = null, pending = false;
    var clear = function () {
      ctx.fillStyle = "#000"; ctx.fillRect(0, 0, pad.width, pad.height);
    };
    clear();
    var at = function (ev) {
      var r = pad.getBoundingClientRect();
      return [(ev.clientX - r.left) * pad.width / r.width, (ev.clientY - r.top) * pad.height / r.height];
    };
    var stroke = function (from, to) {
      ctx.strokeStyle = "#fff"; ctx.lineWidth = 24; ctx.lineCap = "round"; ctx.lineJoin = "round";
      ctx.beginPath(); ctx.moveTo(from[0], from[1]); ctx.lineTo(to[0], to[1]); ctx.stroke();
    };
    var dot = function (at) {  /* a tap or a pen put down: a line of no length draws nothing in some browsers */
      ctx.fillStyle = "#fff"; ctx.beginPath(); ctx.arc(at[0], at[1], 12, 0, 2 * Math.PI); ctx.fill();
    };
    var update = function () {
      pending = false;
      var rgba = ctx.getImageData(0, 0, pad.width, pad.height).data, grey = new Uint8ClampedArray(pad.width * pad.height);
      for (var i = 0; i < grey.length; i++) grey[i] = rgba[4 * i];
      var x = prepare(grey, pad.width, pad.height), run = forward(x), probs = run.probabilities;
      var best = probs.indexOf(Math.max.apply(null, probs));
      var ink = x.filter(function (v) { return v > 0; }).length;
      var steps = computedSteps(drawRoot, run, "Your drawing, cropped, scaled and centred in " + IMG.height + " x " +
                                IMG.width + ": " + ink + " of " + x.length + " values are ink (> 0)");
      api.lastDrawing = { input: x, hidden: run.activations[0], activations: run.activations, probabilities: probs, predicted: best };
      showTrace(drawRoot, { pixels: x, steps: steps, predicted: best, confidence: probs[best], label: null });
    };
    var frame = 0;
    var schedule = function () { if (!pending) { pending = true; frame = requestAnimationFrame(update); } };
    pad.addEventListener("pointerdown", function (ev) {
      drawing = true; last = at(ev); dot(last); schedule();
      if (pad.setPointerCapture) try { pad.setPointerCapture(ev.pointerId); } catch (e) { /* synthetic pointers */ }
      ev.preventDefault();
    });
    pad.addEventListener("pointermove", function (ev) {
      if (!drawing) return;
      var p = at(ev); stroke(last, p); last = p; schedule();
    });
    ["pointerup", "pointercancel", "pointerleave"].forEach(function (name) {
      pad.addEventListener(name, function () { if (drawing) { drawing = false; update(); } });
    });
    /* The keyboard's way to draw: Tab to the pad, arrows move the pen (Shift: finer), Space or Enter puts it
       down or lifts it, Delete or Backspace clears. A ring over the pad shows where the pen is. */
    var pen = { x: pad.width / 2, y: pad.height / 2, down: false };
    var ring = document.createElement("span");
    ring.className = "pen-ring"; ring.hidden = true; ring.setAttribute("aria-hidden", "true");
    pad.parentNode.insertBefore(ring, pad.nextSibling);
    var placeRing = function () {
      var scale = pad.clientWidth / pad.width;
      ring.style.left = (pad.offsetLeft + pad.clientLeft + pen.x * scale) + "px";
      ring.style.top = (pad.offsetTop + pad.clientTop + pen.y * scale) + "px";
      ring.classList.toggle("down", pen.down);
    };
    pad.addEventListener("focus", function () { ring.hidden = false; placeRing(); });
    pad.addEventListener("blur", function () { ring.hidden = true; if (pen.down) { pen.down = false; update(); } });
    pad.addEventListener("keydown", function (ev) {
      var step = ev.shiftKey ? 4 : 14;
      var moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
      if (moves[ev.key]) {
        var from = [pen.x, pen.y];
        pen.x = Math.max(0, Math.min(pad.width, pen.x + moves[ev.key][0]));
        pen.y = Math.max(0, Math.min(pad.height, pen.y + moves[ev.key][1]));
        if (pen.down) { stroke(from, [pen.x, pen.y]); schedule(); }
      } else if (ev.key === " " || ev.key === "Enter") {
        pen.down = !pen.down;
        if (pen.down) { dot([pen.x, pen.y]); schedule(); } else { update(); }
      } else if (ev.key === "Delete" || ev.key === "Backspace") {
        document.getElementById("clear-pad").click();
      } else {
        return;
      }
      ev.preventDefault();
      placeRing();
    });
    document.getElementById("clear-pad").addEventListener("click", function () {
      if (pending) { cancelAnimationFrame(frame); pending = false; }  /* a drawing's update still to come: none now */
      clear(); api.lastDrawing = null;
      drawRoot.querySelectorAll(".neurons i").forEach(function (c) { c.style.setProperty("--a", "0"); c.className = ""; });
      drawRoot.querySelectorAll(".probs li").forEach(function (li) {
        li.className = ""; li.querySelector(".bar i").style.width = "0%"; li.querySelector(".v").textContent = "0.00%";
      });
      drawRoot.querySelectorAll("canvas").forEach(function (c) { c.getContext("2d").clearRect(0, 0, c.width, c.height); });
      part(drawRoot, "predicted").textContent = "?";
      part(drawRoot, "confidence").textContent = "";
      part(drawRoot, "verdict").textContent = "draw to see what the network says";
      drawRoot.querySelectorAll('[data-part="summary"]').forEach(function (p) { p.textContent = ""; });
    });
  }

  /* ---- the quiz: one answer per question, a running score, keyboard friendly (buttons) ---- */
  var questions = Array.prototype.slice.call(document.querySelectorAll(".question"));
  var score = document.getElementById("quiz-score"), reset = document.getElementById("quiz-reset");
  var tally = function () {
    var answered = 0, right = 0;
    questions.forEach(function (q) { if (q.dataset.result) { answered++; if (q.dataset.result === "right") right++; } });
    score.textContent = "Score: " + right + " right of " + answered + " answered (" + questions.length + " questions)";
    reset.hidden = answered === 0;
  };
  questions.forEach(function (q) {
    var answer = Number(q.dataset.answer), feedback = q.querySelector(".feedback");
    var options = Array.prototype.slice.call(q.querySelectorAll(".option"));
    var explanation = q.querySelector(".explanation").textContent, answerText = q.querySelector(".answer-text").textContent;
    options.forEach(function (button) {
      button.addEventListener("click", function () {
        if (q.dataset.result) return;
        var chosen = Number(button.dataset.option), right = chosen === answer;
        q.dataset.result = right ? "right" : "wrong";
        options.forEach(function (b, i) {
          b.disabled = true;
          if (i === answer) b.classList.add("correct");
        });
        button.classList.add("chosen", right ? "correct" : "incorrect");
        feedback.className = "feedback " + (right ? "right" : "wrong");
        feedback.textContent = "";
        var head = document.createElement("strong");
        head.textContent = right ? "Right. " : "Not quite. ";
        feedback.appendChild(head);
        feedback.appendChild(document.createTextNode(
          (right ? "" : "The answer is " + "ABCDEFGHIJ"[answer] + ": " + answerText + ". ") + explanation));
        tally();
        var next = questions[questions.indexOf(q) + 1];
        if (next) next.querySelector(".option").focus({ preventScroll: true });
      });
    });
  });
  /* ---- the training charts: the loss on a linear or a log scale (both drawn by matplotlib) ---- */
  document.querySelectorAll(".scale-toggle").forEach(function (button) {
    button.addEventListener("click", function () {
      var log = button.getAttribute("aria-pressed") !== "true";
      button.setAttribute("aria-pressed", log ? "true" : "false");
      var section = button.closest("section");
      section.querySelectorAll(".scale-log").forEach(function (box) { box.hidden = !log; });
      section.querySelectorAll(".scale-linear").forEach(function (box) { box.hidden = log; });
    });
  });
  /* ---- what each hidden unit looks for: unit j's incoming weights, kernel[i * units + j], as the image ---- */
  var unitGrid = document.querySelector(".unit-grid");
  if (unitGrid) {
    var first = layers[0];
    if (!first || first.inputs !== IMG.height * IMG.width) {
      var unitWhy = document.querySelector(".unit-why");
      unitWhy.textContent = "The page cannot draw these: " + (cannotRun || "the first layer does not read the image's pixels") + ".";
      unitWhy.hidden = false;
      unitGrid.hidden = true;
    } else {
      unitGrid.querySelectorAll("figure[data-unit]").forEach(function (fig) {
        var j = Number(fig.dataset.unit), canvas = fig.querySelector("canvas");
        if (!(j >= 0 && j < first.units && Math.floor(j) === j) || !canvas) return;
        var n = first.inputs, top = 0, i;
        for (i = 0; i < n; i++) top = Math.max(top, Math.abs(first.kernel[i * first.units + j]));
        var picture = canvas.getContext("2d").createImageData(IMG.width, IMG.height);
        for (i = 0; i < n; i++) {
          var w = first.kernel[i * first.units + j], t = top > 0 ? Math.round(255 * Math.abs(w) / top) : 0;
          picture.data[4 * i] = w > 0 ? 255 : 255 - t;      /* red: a bright pixel raises the weighted sum */
          picture.data[4 * i + 1] = 255 - t;
          picture.data[4 * i + 2] = w < 0 ? 255 : 255 - t;  /* blue: it lowers it */
          picture.data[4 * i + 3] = 255;
        }
        canvas.getContext("2d").putImageData(picture, 0, 0);
      });
      api.unitsDrawn = unitGrid.querySelectorAll("figure[data-unit]").length;
    }
  }
  /* ---- the first test images: Keras' answer on each; a click traces one through every layer here ---- */
  var galleryRoot = document.querySelector('[data-trace="gallery"]');
  var galleryPixels = null;
  if (galleryRoot && data.gallery && layers.length) {
    try { galleryPixels = atob(data.gallery.pixels); } catch (e) { galleryPixels = null; }
    var each = IMG.height * IMG.width * IMG.channels;
    if (galleryPixels === null || galleryPixels.length !== each * data.gallery.count || layers[0].inputs !== each) {
      galleryPixels = null;
    }
  }
  if (galleryRoot && !galleryPixels) {
    galleryRoot.hidden = true;  /* the pictures and Keras' answers stay; the page cannot trace them itself */
  } else if (galleryRoot) {
    var traceTestImage = function (k) {
      var each = IMG.height * IMG.width * IMG.channels, x = new Array(each);
      for (var i = 0; i < each; i++) x[i] = galleryPixels.charCodeAt(k * each + i) / IMG.pixel_max;
      var run = forward(x), probs = run.probabilities, best = probs.indexOf(Math.max.apply(null, probs));
      var label = data.gallery.labels[k];
      var steps = computedSteps(galleryRoot, run, "Test image #" + k + ", a '" + classes[label] + "': " + each +
                                " values, each pixel / " + IMG.pixel_max);
      showTrace(galleryRoot, { pixels: x, steps: steps, predicted: best, confidence: probs[best], label: label });
      document.querySelectorAll(".test-image").forEach(function (b) {
        b.setAttribute("aria-pressed", Number(b.dataset.index) === k ? "true" : "false");
      });
      api.galleryTrace = { index: k, probabilities: probs, predicted: best };
    };
    document.querySelectorAll(".test-image").forEach(function (button) {
      button.addEventListener("click", function () {
        var k = Number(button.dataset.index);
        if (k >= 0 && k < data.gallery.count && Math.floor(k) === k) traceTestImage(k);
      });
    });
    traceTestImage(0);
  }
  /* ---- the network, unit by unit, for the followed image (views/html/network_live.py) ---- */
  var netBox = document.querySelector(".net-live");
  if (netBox) {
    var netWhy = document.querySelector(".net-why"), netSum = document.querySelector(".net-sum");
    var netPick = document.querySelector(".net-pick"), netInput = (data.followed && data.followed.scaled) || [];
    var tooWide = layers.some(function (l) { return l.units > 1024; });
    if (!layers.length || netInput.length !== layers[0].inputs || tooWide) {
      netWhy.textContent = "The page cannot draw this: " + (cannotRun || (tooWide ? "a layer has more than 1,024 units"
        : "the followed image's pixels are not in this page")) + ".";
      netWhy.hidden = false; netBox.hidden = true; netPick.hidden = true; netSum.hidden = true;
    } else {
      var netRun = forward(netInput), netValues = [netInput].concat(netRun.activations);
      var SVGNS = "http://www.w3.org/2000/svg", netSvg = netBox.querySelector("svg");
      var node = function (tag, attrs) {
        var n = document.createElementNS(SVGNS, tag);
        Object.keys(attrs).forEach(function (k) { n.setAttribute(k, attrs[k]); });
        return n;
      };
      var PIX = 5, CELL = 10, ROWS = 16, TOP = 24, GAP = 70;
      var columns = [], left = 10;
      /* column 0: the input, pixel by pixel where it sits in the image; then one column block per layer */
      columns.push({ at: (function (x0) { return function (i) {
        var p = Math.floor(i / IMG.channels);
        return [x0 + (p % IMG.width) * PIX + PIX / 2, TOP + Math.floor(p / IMG.width) * PIX + PIX / 2];
      }; })(left), size: PIX, title: "input" });
      left += IMG.width * PIX + GAP;
      layers.forEach(function (layer, n) {
        var last = n === layers.length - 1, rows = last ? layer.units : Math.min(ROWS, layer.units);
        var x0 = left;
        columns.push({ at: function (j) {
          return [x0 + Math.floor(j / rows) * CELL + CELL / 2, TOP + (j % rows) * CELL + CELL / 2];
        }, size: CELL - 1, title: layer.name, last: last });
        left += Math.ceil(layer.units / rows) * CELL + (last ? 120 : GAP);
      });
      var height = TOP + Math.max(IMG.height * PIX, ROWS * CELL, layers[layers.length - 1].units * CELL) + 10;
      netSvg.setAttribute("viewBox", "0 0 " + left + " " + height);
      var lineLayer = node("g", { "class": "net-lines" });
      var cells = [];
      netValues.forEach(function (values, c) {
        var top = 0, group = node("g", { "class": "net-col" }), col = columns[c];
        for (var i = 0; i < values.length; i++) top = Math.max(top, Math.abs(values[i]));
        group.appendChild(node("text", { x: col.at(0)[0] - col.size / 2, y: 12, "class": "net-title" })).textContent =
          c === 0 ? "input" : "layer " + c + ": " + col.title;
        cells.push([]);
        for (var j = 0; j < values.length; j++) {
          var at = col.at(j), v = values[j], t = top > 0 ? Math.abs(v) / top : 0;
          var cell = node("rect", { x: at[0] - col.size / 2, y: at[1] - col.size / 2, width: col.size, height: col.size,
                                    "class": v < 0 ? "net-cell neg" : "net-cell", "fill-opacity": (0.08 + 0.92 * t).toFixed(3) });
          if (c > 0) { cell.dataset.layer = c - 1; cell.dataset.unit = j; }
          group.appendChild(cell);
          cells[c].push(cell);
          if (col.last) {
            group.appendChild(node("text", { x: at[0] + CELL, y: at[1] + 3, "class": "net-label" })).textContent =
              classes[j] + "  " + (100 * v).toFixed(2) + "%";
          }
        }
        netSvg.appendChild(group);
      });
      netSvg.insertBefore(lineLayer, netSvg.firstChild);
      var sign = function (v) { return (v < 0 ? "-" : "+") + Math.abs(v).toFixed(4); };
      var inputName = function (n, i) {
        if (n > 0) return "unit #" + i;
        var p = Math.floor(i / IMG.channels), name = "pixel (" + Math.floor(p / IMG.width) + ", " + (p % IMG.width) + ")";
        return IMG.channels > 1 ? name + " channel " + (i % IMG.channels) : name;
      };
      var chooseUnit = function (n, j) {
        var layer = layers[n], inputs = netValues[n], terms = [];
        for (var i = 0; i < layer.inputs; i++) terms.push([i, inputs[i] * layer.kernel[i * layer.units + j]]);
        terms.sort(function (a, b) { return Math.abs(b[1]) - Math.abs(a[1]); });
        while (lineLayer.firstChild) lineLayer.removeChild(lineLayer.firstChild);
        var to = columns[n + 1].at(j), biggest = Math.abs(terms[0][1]) || 1;
        terms.slice(0, 6).forEach(function (term) {
          var from = columns[n].at(term[0]);
          lineLayer.appendChild(node("line", { x1: from[0], y1: from[1], x2: to[0], y2: to[1],
            "class": term[1] < 0 ? "net-line neg" : "net-line", "stroke-width": (0.8 + 2.5 * Math.abs(term[1]) / biggest).toFixed(2) }));
        });
        netSvg.querySelectorAll(".net-cell.chosen").forEach(function (c) { c.classList.remove("chosen"); });
        cells[n + 1][j].classList.add("chosen");
        var shown = terms.slice(0, 8), rest = 0, top8 = 0;
        terms.slice(8).forEach(function (t) { rest += t[1]; });
        shown.forEach(function (t) { top8 += t[1]; });
        var z = netRun.sums[n][j], a = netRun.activations[n][j], what = n > 0 ? "a" : "x";
        var named = n === layers.length - 1 ? " (the score of '" + classes[j] + "')" : "";
        var lines = ["Unit #" + j + named + " of layer " + (n + 1) + " ('" + layer.name + "', " + layer.activation + "), for the followed test image:",
                     "z = " + what + "1*w1 + " + what + "2*w2 + ... + " + what + layer.inputs + "*w" + layer.inputs + " + b, over all " +
                     layer.inputs + " input values"];
        shown.forEach(function (t) {
          var name = inputName(n, t[0]);
          lines.push("  " + name + new Array(Math.max(1, 17 - name.length)).join(" ") + what + " = " + inputs[t[0]].toFixed(4) +
                     "  *  w = " + sign(layer.kernel[t[0] * layer.units + j]) + "  =  " + sign(t[1]));
        });
        if (terms.length > 8) lines.push("  the other " + (terms.length - 8) + " terms add up to " + sign(rest));
        lines.push("  bias b = " + sign(layer.bias[j]));
        lines.push("  z = " + sign(top8) + " " + (terms.length > 8 ? sign(rest) + " " : "") + sign(layer.bias[j]) + " = " + z.toFixed(4));
        lines.push(layer.activation === "softmax"
          ? "softmax over the layer's " + layer.units + " sums: p = " + a.toFixed(4) + " for '" + classes[j] + "'"
          : layer.activation + "(z) = " + a.toFixed(4) + ", the unit's output");
        netSum.textContent = lines.join("\n");
        netLayerPick.value = String(n);
        netUnitPick.max = String(layer.units - 1);
        netUnitPick.value = String(j);
        api.chosenUnit = { layer: n, unit: j, z: z, output: a, top: shown.map(function (t) { return t[0]; }) };
      };
      var netLayerPick = netPick.querySelector(".net-layer"), netUnitPick = netPick.querySelector(".net-unit");
      netSvg.addEventListener("click", function (event) {
        var cell = event.target.closest && event.target.closest("rect[data-unit]");
        if (cell) chooseUnit(Number(cell.dataset.layer), Number(cell.dataset.unit));
      });
      var fromPick = function () {
        var n = Number(netLayerPick.value), j = Math.round(Number(netUnitPick.value));
        if (n >= 0 && n < layers.length && j >= 0 && j < layers[n].units) chooseUnit(n, j);
      };
      netLayerPick.addEventListener("change", function () { netUnitPick.value = "0"; fromPick(); });
      netUnitPick.addEventListener("change", fromPick);
      var out = netRun.probabilities;
      chooseUnit(layers.length - 1, out.indexOf(Math.max.apply(null, out)));  /* the predicted class's unit first */
    }
  }
  /* ---- the mode bar: trace shows the whole report; each other mode one panel ---- */
  var PANELS = { walk: ["walk"], quiz: ["quiz"], math: ["math"], explain: ["explain"], cheatsheet: ["cheatsheet"] };
  var modePanels = ["walk", "math", "explain", "cheatsheet"];
  var modeButtons = Array.prototype.slice.call(document.querySelectorAll(".mode-bar .mode"));
  var showMode = function (mode) {
    var shown = PANELS[mode];
    document.querySelectorAll("main > section").forEach(function (s) {
      s.hidden = shown ? shown.indexOf(s.id) < 0 : modePanels.indexOf(s.id) >= 0;
    });
    modeButtons.forEach(function (b) { b.setAttribute("aria-pressed", b.dataset.mode === mode ? "true" : "false"); });
    document.body.dataset.mode = mode;
  };
  modeButtons.forEach(function (b) { b.addEventListener("click", function () { showMode(b.dataset.mode); }); });
  if (modeButtons.length) showMode("trace");
  /* A link to a part of the page that the current mode hides (the header's section links, a #hash in the
     address) first shows the mode that holds it: a panel's own mode, else the whole trace. */
  var revealTarget = function (hash) {
    var id = decodeURIComponent((hash || "").slice(1));
    var target = id && document.getElementById(id);
    if (!target || !modeButtons.length) return;
    var owner = target.closest("main > section");
    if (owner && owner.hidden) showMode(modePanels.indexOf(owner.id) >= 0 ? owner.id : "trace");
  };
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest('a[href^="#"]');
    if (link) revealTarget(link.getAttribute("href"));  // before the browser scrolls to it
  });
  window.addEventListener("hashchange", function () {
    revealTarget(location.hash);
    var target = document.getElementById(decodeURIComponent(location.hash.slice(1)));
    if (target) target.scrollIntoView();
  });
  revealTarget(location.hash);
  var walkSteps = Array.prototype.slice.call(document.querySelectorAll(".walk-step")), walkAt = 0;
  var showStep = function (n) {
    walkAt = Math.max(0, Math.min(walkSteps.length - 1, n));
    walkSteps.forEach(function (s, i) { s.hidden = i !== walkAt; });
    document.getElementById("walk-where").textContent = "Step " + (walkAt + 1) + " of " + walkSteps.length;
  };
  if (walkSteps.length) {
    document.getElementById("walk-next").addEventListener("click", function () { showStep(walkAt + 1); });
    document.getElementById("walk-back").addEventListener("click", function () { showStep(walkAt - 1); });
    showStep(0);
  }
  if (reset) reset.addEventListener("click", function () {
    questions.forEach(function (q) {
      delete q.dataset.result;
      q.querySelector(".feedback").textContent = "";
      q.querySelectorAll(".option").forEach(function (b) { b.disabled = false; b.className = "option"; });
    });
    tally();
    if (questions.length) questions[0].querySelector(".option").focus();
  });
})();
