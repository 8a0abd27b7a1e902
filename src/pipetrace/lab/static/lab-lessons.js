// pipetrace lab: the lessons panel (GET /api/lessons): choose a lesson, read its question and what to look for,
// train every variant (POST /api/runs each; the runs list shows them) or fill the form with one (the address then
// shares it). Once the variants' runs are saved, the lesson's reading comes from the server, computed from their
// traces by the same code as `pipetrace learn lesson` (GET /api/lessons/{name}/reading).
"use strict";
(() => {
  const lab = window.pipetraceLab;
  let lessons = [];
  let queued = null; // {name, ids}: the variants this page trained, until their reading is shown

  function chosen() { return lessons.find((l) => l.name === document.getElementById("lesson").value); }

  async function load() {
    const limit = document.getElementById("lesson-limit").value.trim();
    const error = document.getElementById("lesson-limit-error");
    const response = await lab.api(`/api/lessons${limit ? `?limit=${encodeURIComponent(limit)}` : ""}`);
    const answer = await response.json();
    error.textContent = response.ok ? "" : answer.error;
    if (!response.ok) return;
    lessons = answer.lessons;
    const select = document.getElementById("lesson");
    const was = select.value;
    select.replaceChildren(...lessons.map((l) => { const o = lab.el("option", `${l.name}: ${l.question}`); o.value = l.name; return o; }));
    if (lessons.some((l) => l.name === was)) select.value = was;
    show();
  }

  function describe(settings) {
    const s = settings;
    return `hidden ${[].concat(s.hidden).join(",")}, ${s.activation}, ${s.optimizer} learning rate ${s.learning_rate} ` +
      `(${s.schedule}), ${s.epochs} epoch${s.epochs === 1 ? "" : "s"}, batch ${s.batch_size}` +
      (s.limit ? `, ${s.limit} training images` : ", all training images");
  }

  function show() {
    const lesson = chosen();
    if (!lesson) return;
    document.getElementById("lesson-question").textContent = lesson.question;
    document.getElementById("lesson-look-for").textContent = `Look for: ${lesson.look_for}`;
    document.getElementById("lesson-variants").replaceChildren(...lesson.variants.map((variant) => {
      const item = lab.el("li", null, "variant");
      const fill = lab.el("button", "Fill the form with it");
      fill.type = "button";
      fill.addEventListener("click", () => {
        lab.fillForm(variant.settings);
        document.getElementById("setup").scrollIntoView();
      });
      item.append(lab.el("strong", variant.name), " ", lab.el("span", describe(variant.settings)), " ", fill);
      if (variant.refused) item.append(lab.el("p", `This lab refuses it: ${variant.refused}`, "refusal"));
      return item;
    }));
    const refused = lesson.variants.filter((v) => v.refused);
    document.getElementById("lesson-queue").disabled = refused.length > 0;
    document.getElementById("lesson-status").textContent = refused.length
      ? `This lab refuses ${refused.map((v) => v.name).join(", ")} (see above): try fewer training images, or ask whoever ` +
        "started the lab to raise its limits." : "";
    document.getElementById("lesson-reading").replaceChildren();
  }

  async function queueAll() {
    const lesson = chosen();
    if (!lesson) return;
    const status = document.getElementById("lesson-status");
    document.getElementById("lesson-reading").replaceChildren();
    const ids = [];
    for (const variant of lesson.variants) {
      const response = await lab.api("/api/runs", {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(variant.settings),
      });
      const answer = await response.json();
      if (response.status !== 202) {
        status.textContent = `${variant.name} was refused: ${answer.error}` + (ids.length ? ` (queued before it: ${ids.join(", ")})` : "");
        queued = null;
        lab.refreshRuns();
        return;
      }
      ids.push(answer.id);
    }
    queued = { name: lesson.name, ids };
    status.textContent = `Training ${ids.length} variants: ${lesson.variants.map((v, i) => `${v.name} as run ${ids[i]}`).join(", ")}. ` +
      "The runs list follows them; what they showed appears here once they are saved.";
    lab.refreshRuns();
  }

  async function readIfDone(runs) {
    if (!queued) return;
    const mine = queued.ids.map((id) => runs.find((r) => r.id === id));
    if (mine.some((r) => !r || r.status === "queued" || r.status === "running")) return;
    const asked = queued;
    queued = null;
    const out = document.getElementById("lesson-reading");
    if (mine.some((r) => !r.saved)) {
      out.replaceChildren(lab.el("p", "Not every variant was saved (see the runs list), so there is nothing to read here."));
      return;
    }
    const answer = await (await lab.api(`/api/lessons/${encodeURIComponent(asked.name)}/reading?runs=${asked.ids.map(encodeURIComponent).join(",")}`)).json();
    const lines = answer.lines && answer.lines.length ? answer.lines : [answer.why || answer.error];
    out.replaceChildren(lab.el("h3", "What these runs showed"), ...lines.map((line) => lab.el("p", line)));
  }

  lab.on("settings", load);
  lab.on("runs", readIfDone);
  document.addEventListener("DOMContentLoaded", () => {
    document.getElementById("lesson").addEventListener("change", show);
    document.getElementById("lesson-limit").addEventListener("change", load);
    document.getElementById("lesson-queue").addEventListener("click", queueAll);
  });
})();
