/* pipetrace report: the page's behaviour. No libraries, no requests; data comes from the
   JSON block the report embeds. Text from the trace is only ever set with textContent. */
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  var data = JSON.parse(document.getElementById("pipetrace-data").textContent);
  var classes = data.classes;

  /* ---- the network, from the packed float32 weights (little-endian, row-major) ---- */
  function unpack(packed) {
    var bin = atob(packed.data), view = new DataView(new ArrayBuffer(bin.length));
    for (var i = 0; i < bin.length; i++) view.setUint8(i, bin.charCodeAt(i));
    var out = new Float32Array(bin.length / 4);
    for (var j = 0; j < out.length; j++) out[j] = view.getFloat32(4 * j, true);
    return out;
  }
  var layers = data.layers.map(function (l) {
    return { name: l.name, activation: l.activation, inputs: l.kernel.shape[0], units: l.kernel.shape[1],
             kernel: unpack(l.kernel), bias: unpack(l.bias) };
  });
  var ACTIVATIONS = {
    linear: function (z) { return z; },
    relu: function (z) { return z.map(function (v) { return v > 0 ? v : 0; }); },
    sigmoid: function (z) { return z.map(function (v) { return 1 / (1 + Math.exp(-v)); }); },
    tanh: function (z) { return z.map(Math.tanh); },
    softmax: function (z) {
      var top = Math.max.apply(null, z), ex = z.map(function (v) { return Math.exp(v - top); });
      var sum = ex.reduce(function (a, b) { return a + b; }, 0);
      return ex.map(function (v) { return v / sum; });
    }
  };
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
  /* Every layer's weighted sums and activations for one input of 784 values in 0..1. */
  function forward(x) {
    var sums = [], outs = [], a = x;
    layers.forEach(function (layer) {
      var act = ACTIVATIONS[layer.activation];
      if (!act) throw new Error("unknown activation " + layer.activation);
      var z = dense(a, layer);
      sums.push(z);
      a = act(z);
      outs.push(a);
    });
    return { sums: sums, activations: outs, probabilities: a };
  }
  function predict(batch) { return batch.map(function (x) { return forward(x).probabilities; }); }

  /* ---- MNIST-style preparation of a drawing: crop, fit into 20 x 20 keeping the aspect,
     centre by centre of mass in 28 x 28, then 0..255 -> 0..1 ---- */
  function prepare(grey, width, height) {
    var minX = width, minY = height, maxX = -1, maxY = -1, x, y;
    for (y = 0; y < height; y++) for (x = 0; x < width; x++) if (grey[y * width + x] > 0) {
      if (x < minX) minX = x; if (x > maxX) maxX = x; if (y < minY) minY = y; if (y > maxY) maxY = y;
    }
    var out = new Array(784).fill(0);
    if (maxX < 0) return out;
    var bw = maxX - minX + 1, bh = maxY - minY + 1, scale = 20 / Math.max(bw, bh);
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
    // MNIST's centre of mass sits on pixel index 14 (its test images: 13.98 on average), so put ours there
    var ox = Math.round(14 - cx / mass), oy = Math.round(14 - cy / mass);
    for (ty = 0; ty < h; ty++) for (tx = 0; tx < w; tx++) {
      var X = tx + ox, Y = ty + oy;
      if (X >= 0 && X < 28 && Y >= 0 && Y < 28) out[Y * 28 + X] = Math.min(1, small[ty * w + tx] / 255);
    }
    return out;
  }

  /* ---- drawing a trace (input, hidden, output, prediction) into a .layers block ---- */
  function part(root, name) { return root.querySelector('[data-part="' + name + '"]'); }
  function pct(v, d) { return (100 * v).toFixed(d) + "%"; }
  function showTrace(root, t) {
    if (t.png) part(root, "image").src = t.png;
    if (t.pixels) {
      var canvas = part(root, "canvas"), ctx = canvas.getContext("2d"), img = ctx.createImageData(28, 28);
      t.pixels.forEach(function (v, i) {
        var g = Math.round(255 * v);
        img.data[4 * i] = img.data[4 * i + 1] = img.data[4 * i + 2] = g; img.data[4 * i + 3] = 255;
      });
      ctx.putImageData(img, 0, 0);
    }
    var cells = part(root, "hidden").children, top = Math.max.apply(null, t.hidden.concat([1e-12]));
    for (var i = 0; i < cells.length; i++) {
      var v = t.hidden[i] || 0;
      cells[i].style.setProperty("--a", (v / top).toFixed(3));
      cells[i].title = "neuron " + i + ": " + v.toFixed(3);
    }
    var rows = part(root, "probs").children;
    for (i = 0; i < rows.length; i++) {
      var p = t.probabilities[i];
      rows[i].className = i === t.predicted ? "best" : "";
      rows[i].querySelector(".bar i").style.width = pct(p, 2);
      rows[i].querySelector(".v").textContent = pct(p, 2);
    }
    part(root, "predicted").textContent = classes[t.predicted];
    part(root, "confidence").textContent = pct(t.confidence, 2) + " sure";
    var box = part(root, "verdict-box");
    box.classList.remove("right", "wrong");
    if (t.label === null) {
      part(root, "verdict").textContent = "you drew it: no true label";
    } else {
      var right = t.label === t.predicted;
      box.classList.add(right ? "right" : "wrong");
      part(root, "verdict").textContent = "true label " + classes[t.label] + ": " + (right ? "right" : "wrong");
    }
    t.summaries.forEach(function (s, k) { part(root, "summary-" + k).textContent = s; });
  }

  /* ---- stage 2: read any pixel of the followed image, before and after scaling ---- */
  var pixelImage = document.getElementById("pixel-image");
  if (pixelImage && data.followed.raw.length) {
    var readout = document.getElementById("pixel-readout"), marker = pixelImage.parentNode.querySelector(".pixel-box");
    var readPixel = function (ev) {
      var r = pixelImage.getBoundingClientRect();
      var col = Math.min(27, Math.max(0, Math.floor((ev.clientX - r.left) / r.width * 28)));
      var row = Math.min(27, Math.max(0, Math.floor((ev.clientY - r.top) / r.height * 28)));
      var raw = data.followed.raw[row][col], scaled = data.followed.scaled[row * 28 + col];
      readout.textContent = "Pixel (row " + row + ", column " + col + "): " + raw + " before, " +
        (scaled === undefined ? "?" : scaled.toFixed(4)) + " after";
      marker.hidden = false;
      marker.style.left = (col * r.width / 28) + "px"; marker.style.top = (row * r.height / 28) + "px";
      marker.style.width = marker.style.height = (r.width / 28) + "px";
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
      showTrace(sampleRoot, { png: s.png, hidden: s.hidden, probabilities: s.probabilities, predicted: s.predicted,
                              confidence: s.confidence, label: s.label, summaries: s.summaries });
    });
  });

  /* ---- draw your own digit ---- */
  var pad = document.getElementById("pad"), drawRoot = document.querySelector('[data-trace="draw"]');
  var api = { forward: forward, predict: predict, prepare: prepare, classes: classes, lastDrawing: null };
  window.pipetrace = api;
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
    var update = function () {
      pending = false;
      var rgba = ctx.getImageData(0, 0, pad.width, pad.height).data, grey = new Uint8ClampedArray(pad.width * pad.height);
      for (var i = 0; i < grey.length; i++) grey[i] = rgba[4 * i];
      var x = prepare(grey, pad.width, pad.height), run = forward(x), probs = run.probabilities, hidden = run.activations[0];
      var best = probs.indexOf(Math.max.apply(null, probs));
      var ink = x.filter(function (v) { return v > 0; }).length, fired = hidden.filter(function (v) { return v > 0; }).length;
      var order = hidden.map(function (v, k) { return k; }).sort(function (a, b) { return hidden[b] - hidden[a]; }).slice(0, 5);
      var sum = probs.reduce(function (a, b) { return a + b; }, 0);
      api.lastDrawing = { input: x, hidden: hidden, probabilities: probs, predicted: best };
      showTrace(drawRoot, {
        pixels: x, hidden: hidden, probabilities: probs, predicted: best, confidence: probs[best], label: null,
        summaries: [
          "Your drawing, cropped, scaled into 20 x 20 and centred: " + ink + " of 784 values are ink (> 0)",
          "ReLU kept " + fired + " of " + hidden.length + " weighted sums (" + pct(fired / hidden.length, 0) +
            "). Strongest: " + order.map(function (k) { return "#" + k + " (" + hidden[k].toFixed(2) + ")"; }).join(", "),
          "Softmax probabilities sum to " + sum.toFixed(6) + "; the largest, " + probs[best].toFixed(4) +
            ", is for '" + classes[best] + "'",
          "Predicted '" + classes[best] + "' with " + pct(probs[best], 2) + " confidence"
        ]
      });
    };
    var schedule = function () { if (!pending) { pending = true; requestAnimationFrame(update); } };
    pad.addEventListener("pointerdown", function (ev) {
      drawing = true; last = at(ev); stroke(last, last); schedule();
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
    document.getElementById("clear-pad").addEventListener("click", function () {
      clear(); api.lastDrawing = null;
      drawRoot.querySelectorAll(".neurons i").forEach(function (c) { c.style.setProperty("--a", "0"); });
      drawRoot.querySelectorAll(".probs li").forEach(function (li) {
        li.className = ""; li.querySelector(".bar i").style.width = "0%"; li.querySelector(".v").textContent = "0.00%";
      });
      part(drawRoot, "canvas").getContext("2d").clearRect(0, 0, 28, 28);
      part(drawRoot, "predicted").textContent = "?";
      part(drawRoot, "confidence").textContent = "";
      part(drawRoot, "verdict").textContent = "draw a digit to see what the network says";
      for (var k = 0; k < 4; k++) part(drawRoot, "summary-" + k).textContent = "";
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
