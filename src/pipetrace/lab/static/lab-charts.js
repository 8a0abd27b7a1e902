// pipetrace lab: the loss chart of the followed run, batch by batch.
"use strict";
(() => {
  const lab = window.pipetraceLab;

  function drawLoss() {
    const canvas = document.getElementById("loss");
    const ctx = canvas.getContext("2d");
    const w = canvas.width, h = canvas.height, pad = 36;
    ctx.clearRect(0, 0, w, h);
    ctx.strokeStyle = "#888"; ctx.strokeRect(pad, 8, w - pad - 8, h - pad);
    const losses = lab.following ? lab.following.losses : [];
    canvas.dataset.batches = String(losses.length);
    const finite = losses.filter((v) => v !== null);
    ctx.fillStyle = "#333"; ctx.font = "11px sans-serif";
    if (!finite.length) { ctx.fillText("the loss of each batch appears here as it trains", pad + 8, h / 2); return; }
    const top = Math.max(...finite), total = Math.max(losses.length, lab.following.steps * lab.following.epochs);
    ctx.fillText(top.toPrecision(3), 2, 16); ctx.fillText("0", 2, h - pad + 4);
    ctx.fillText(`batch ${losses.length} of ${total}`, pad, h - 8);
    ctx.strokeStyle = "#1f5fa8"; ctx.beginPath();
    losses.forEach((v, i) => {
      if (v === null) return;
      const x = pad + (w - pad - 8) * (i / Math.max(1, total - 1)), y = 8 + (h - pad) * (1 - v / top);
      if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
    });
    ctx.stroke();
  }

  lab.on("follow", drawLoss);
  lab.on("event:batch", drawLoss);
  document.addEventListener("DOMContentLoaded", drawLoss);
})();
