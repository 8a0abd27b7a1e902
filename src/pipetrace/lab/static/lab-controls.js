// pipetrace lab: Pause, Resume and Step for the followed run (POST /api/runs/{id}/pause|resume|step), each
// enabled only when the run can take it, and while paused, that batch's numbers as the worker measured them
// (the followed image's probabilities and first hidden layer outputs, drawn as lab-network.js draws them).
"use strict";
(() => {
  const lab = window.pipetraceLab;
  const { el, num } = lab;
  // queued, running, pausing (asked; the worker pauses at the next batch), paused, stepping, ended
  let state = "ended";

  function enable() {
    const can = { pause: ["queued", "running"], resume: ["pausing", "paused"], step: ["paused"] };
    for (const [name, states] of Object.entries(can)) document.getElementById(name).disabled = !states.includes(state);
  }

  function move(next) { state = next; enable(); }

  async function command(name) {
    const run = lab.following;
    if (!run) return;
    const said = document.getElementById("controls-error");
    said.textContent = "";
    const was = state;
    if (name === "step") move("stepping"); // one click, one batch: Step again once it has paused
    const response = await lab.api(`/api/runs/${encodeURIComponent(run.id)}/${name}`, { method: "POST" });
    if (lab.following !== run) return;
    if (!response.ok) {
      said.textContent = (await response.json()).error;
      move(was);
      return;
    }
    if (name === "pause" && state !== "paused") { move("pausing"); lab.setStatus("pausing at the next batch boundary"); }
    if (name === "resume") { move("running"); showPaused(null); lab.setStatus("training"); }
  }

  function showPaused(d) {
    const panel = document.getElementById("paused-panel");
    panel.hidden = !d;
    if (!d) return;
    const where = `epoch ${d.epoch}, batch ${d.step} of ${d.steps} (batch ${d.batches} of the run)`;
    const bars = Array.isArray(d.probabilities) ? [lab.bars(d.probabilities, "the followed test image now")] : [];
    const hidden = Array.isArray(d.hidden) ? [lab.hiddenLayer(d.hidden)] : []; // null: not a network of Dense layers
    document.getElementById("paused-numbers").replaceChildren(
      el("p", `Paused after ${where}.`), el("p", `The loss of that batch: ${num(d.loss)}`), ...bars, ...hidden);
  }

  lab.on("follow", () => { move("queued"); showPaused(null); document.getElementById("controls-error").textContent = ""; });
  lab.on("event:started", () => { if (state === "queued") move("running"); });
  lab.on("event:paused", (d) => {
    move("paused");
    lab.setStatus(`paused at epoch ${d.epoch}, batch ${d.step} of ${d.steps}`);
    showPaused(d);
  });
  lab.on("event:resumed", () => { move("running"); showPaused(null); lab.setStatus("training"); });
  for (const kind of ["done", "stopped", "failed"]) lab.on(`event:${kind}`, () => { move("ended"); showPaused(null); });

  document.addEventListener("DOMContentLoaded", () => {
    for (const name of ["pause", "resume", "step"]) {
      document.getElementById(name).addEventListener("click", () => command(name));
    }
    enable();
  });
})();
