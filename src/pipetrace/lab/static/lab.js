// pipetrace lab: the page's core. Uses only the lab's HTTP API (see the README); builds every node with textContent.
// The page's other scripts (lab-*.js, loaded after this one) each draw one part of it: they reach the shared
// helpers through `window.pipetraceLab` and listen for what happens with `lab.on(name, handler)`:
//   "follow" (run): a run is followed from its first event on: clear what shows the previous one
//   "event:<kind>" (data, run): each event of the followed run (queued, started, stage, batch, epoch, ..., done)
//   "settings" (answer): the settings' choices and defaults arrived (GET /api/settings) and fill the form
//   "runs" (runs): the runs list was drawn (GET /api/runs)
//   "filled" (): the form was filled by script (lab.fillForm), not by typing
//   "compare" (comparison, ids): GET /api/compare answered for the two ticked runs, and its tables are drawn
"use strict";

const token = document.querySelector('meta[name="pipetrace-token"]').content;
const hooks = {};
const lab = window.pipetraceLab = {
  on(name, handler) { (hooks[name] = hooks[name] || []).push(handler); },
  emit(name, ...args) { for (const handler of hooks[name] || []) handler(...args); },
  get following() { return following; },
};
const FIELDS = ["dataset", "hidden", "activation", "dropout", "conv", "optimizer", "momentum", "learning_rate", "schedule",
  "batch_size", "epochs", "limit", "seed"];
let following = null; // {id, source, losses, steps, epochs}

function api(path, options = {}) {
  const headers = Object.assign({ Authorization: "token " + token }, options.headers || {});
  return fetch(path, Object.assign({}, options, { headers, credentials: "same-origin" }));
}

Object.assign(lab, { api, el, pct, num, readForm, fillForm, setStatus, picture, bars, refreshRuns, fields: FIELDS });

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

// as pipetrace.numbers.percent: never rounded to 100% or 0% unless it is exactly that
function pct(x) {
  if (x === null || x === undefined) return "-";
  const value = 100 * x;
  if (!(x > 0 && x < 1)) return value.toFixed(1) + "%";
  for (const places of [1, 2]) {
    const text = value.toFixed(places);
    if (Number(text) > 0 && Number(text) < 100) return text + "%";
  }
  return value > 50 ? "> 99.99%" : "< 0.01%";
}
function num(x) { return x === null || x === undefined ? "-" : Number(x).toPrecision(4); }

async function loadSettings() {
  const answer = await (await api("/api/settings")).json();
  for (const [name, values] of Object.entries(answer.choices)) {
    const select = document.getElementById(name);
    select.replaceChildren(...values.map((v) => { const o = el("option", v); o.value = v; return o; }));
  }
  fillForm(Object.assign({}, answer.defaults, { epochs: 2 }));
  lab.emit("settings", answer);
}

// the form's controls from settings (as the API names them; text as a link gives it); others are left as they are
function fillForm(settings) {
  for (const name of FIELDS) {
    if (!Object.prototype.hasOwnProperty.call(settings, name)) continue;
    const control = document.getElementById(name);
    const value = settings[name];
    if (control.type === "checkbox") { control.checked = value === true || value === "true"; continue; }
    const text = Array.isArray(value) ? value.join(",") : value === null || value === undefined ? "" : String(value);
    if (control.tagName === "SELECT" && ![...control.options].some((o) => o.value === text)) {
      const option = el("option", text); option.value = text; control.append(option); // the server says what is wrong
    }
    control.value = text;
  }
  lab.emit("filled");
}

function readForm() {
  const settings = {};
  for (const name of FIELDS) {
    const control = document.getElementById(name);
    if (control.type === "checkbox") { settings[name] = control.checked; continue; }
    const text = control.value.trim();
    if (control.tagName === "SELECT") { settings[name] = text; continue; }
    if (name === "hidden") {
      const parts = text.split(",").map((p) => p.trim());
      settings.hidden = parts.every((p) => /^-?\d+$/.test(p)) ? parts.map(Number) : text;
      continue;
    }
    if (name === "limit" && text === "") { settings.limit = null; continue; }
    settings[name] = text !== "" && !isNaN(Number(text)) ? Number(text) : text; // the server says what is wrong
  }
  return settings;
}

function showErrors(setting, message) {
  for (const p of document.querySelectorAll("p.error")) p.textContent = "";
  document.querySelectorAll(".invalid").forEach((n) => n.classList.remove("invalid"));
  if (!message) return;
  const known = FIELDS.includes(setting) ? setting : "";
  document.querySelector(`p.error[data-for="${known}"]`).textContent = message;
  if (known) document.getElementById(known).classList.add("invalid");
}

async function train(event) {
  event.preventDefault();
  showErrors(null, null);
  const response = await api("/api/runs", {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(readForm()),
  });
  const answer = await response.json();
  if (response.status !== 202) { showErrors(answer.setting, answer.error); return; }
  follow(answer.id);
  refreshRuns();
}

function follow(id) {
  if (following && following.source) following.source.close();
  following = { id, losses: [], steps: 0, epochs: 1 };
  document.getElementById("stages").replaceChildren();
  document.querySelector("#epochs-table tbody").replaceChildren();
  document.getElementById("report-section").hidden = true;
  document.getElementById("report").removeAttribute("src");
  lab.emit("follow", following);
  setStatus("queued");
  document.getElementById("stop").disabled = false;
  const source = new EventSource(`/api/runs/${encodeURIComponent(id)}/events`);
  following.source = source;
  const mine = following;
  const on = (kind, handler) => source.addEventListener(kind, (e) => {
    if (following !== mine) return;
    const data = JSON.parse(e.data);
    handler(data);
    lab.emit(`event:${kind}`, data, mine);
  });
  on("queued", (d) => setStatus(d.position ? `queued (${d.position} ahead)` : "queued"));
  on("started", () => setStatus("training"));
  on("stage", showStage);
  on("test_images", () => {}); // drawn by lab-test-images.js (and named classes for lab-diagram.js)
  on("test_layers", () => {}); // drawn by lab-test-images.js when an image is clicked
  on("batch", (d) => {
    mine.steps = d.steps; if (d.epochs) mine.epochs = d.epochs;
    mine.losses.push(...d.losses);
  });
  on("epoch", showEpoch);
  for (const kind of ["paused", "resumed"]) on(kind, () => {}); // drawn by lab-controls.js
  for (const kind of ["done", "stopped", "failed"]) {
    on(kind, (d) => {
      source.close();
      document.getElementById("stop").disabled = true;
      setStatus(kind === "failed" ? `failed: ${d.reason}` : kind === "stopped" ? "stopped (the epochs so far are kept)" : "done");
      if (d.stage) showStage(d.stage);
      if (d.saved) {
        document.getElementById("report").src = `/api/runs/${encodeURIComponent(id)}/report.html`;
        document.getElementById("report-section").hidden = false;
      }
      refreshRuns();
    });
  }
  // the lab keeps a few event streams open at once (a browser has ~6 connections to it): a newer tab took this one
  on("superseded", () => {
    source.close();
    setStatus("no longer following live: newer tabs follow runs; reload this page to follow here");
  });
}

function setStatus(text) { document.getElementById("run-status").textContent = `(${text})`; }

function showStage(stage) {
  const item = el("li", null, "stage");
  item.dataset.stage = stage.number;
  item.append(el("h4", `Stage ${stage.number}: ${stage.name}`), el("p", stage.did), el("p", stage.example, "example"));
  const image = stage.details && stage.details.sample_image;
  if (Array.isArray(image) && Array.isArray(image[0]) && typeof image[0][0] === "number") {
    item.append(picture(image, stage.details.pixel_max || 255));
  }
  document.getElementById("stages").append(item);
}

function picture(rows, max) {
  const canvas = el("canvas", null, "digit");
  canvas.width = rows[0].length; canvas.height = rows.length;
  const ctx = canvas.getContext("2d");
  const data = ctx.createImageData(canvas.width, canvas.height);
  rows.forEach((row, y) => row.forEach((v, x) => {
    const ink = 255 - Math.round(255 * Math.min(1, v / max)); const i = 4 * (y * canvas.width + x);
    data.data[i] = data.data[i + 1] = data.data[i + 2] = ink; data.data[i + 3] = 255;
  }));
  ctx.putImageData(data, 0, 0);
  return canvas;
}

// an output's probabilities as bars, the largest dark: one line a class, its number beside it
function bars(probabilities, title) {
  const box = el("div", null, "bars"); box.append(el("h4", title));
  const best = probabilities.indexOf(Math.max(...probabilities));
  probabilities.forEach((p, k) => {
    const line = el("div", null, k === best ? "bar best" : "bar");
    const fill = el("span", null, "fill"); fill.style.width = `${(100 * p).toFixed(1)}%`;
    line.append(el("span", k, "class"), fill, el("span", pct(p), "value"));
    box.append(line);
  });
  return box;
}

function showEpoch(e) {
  const row = el("tr");
  row.append(el("td", e.epoch), el("td", num(e.loss)), el("td", pct(e.accuracy)), el("td", num(e.test_loss)),
    el("td", pct(e.test_accuracy)), el("td", e.observation));
  document.querySelector("#epochs-table tbody").append(row);
}

async function stopRun() {
  if (!following) return;
  await api(`/api/runs/${encodeURIComponent(following.id)}/stop`, { method: "POST" });
}

let listed = 0; // the newest list asked for: an older answer arriving later is dropped
let relist = null; // while runs (this page's or another's) are queued or training, the list is asked for again
async function refreshRuns() {
  const asked = ++listed;
  const answer = await (await api("/api/runs")).json();
  if (asked !== listed) return answer.runs;
  clearTimeout(relist);
  if (answer.runs.some((r) => r.status === "queued" || r.status === "running")) relist = setTimeout(refreshRuns, 2000);
  const body = document.querySelector("#runs tbody");
  const ticked = new Set([...body.querySelectorAll("input:checked")].map((i) => i.value)); // kept across the redraw
  body.replaceChildren(...answer.runs.map((run) => {
    const row = el("tr");
    const tick = el("input"); tick.type = "checkbox"; tick.value = run.id; tick.disabled = !run.saved;
    tick.checked = run.saved && ticked.has(run.id);
    tick.setAttribute("aria-label", `compare ${run.id}`);
    const cell = el("td"); cell.append(tick);
    const s = run.settings || {};
    const settings = s.dataset ? `${s.dataset}, hidden ${[].concat(s.hidden).join(",")}${s.conv ? ", conv" : ""}, ` +
      `${s.activation}, ${s.optimizer}${s.momentum ? ` (momentum ${s.momentum})` : ""} ${s.learning_rate}, ${s.epochs} epoch${s.epochs === 1 ? "" : "s"}, batch ${s.batch_size}` +
      (s.limit ? `, ${s.limit} images` : "") : "";
    const files = el("td");
    if (run.saved) {
      for (const name of ["report.html", "trace.json", "model.keras"]) {
        const a = el("a", name); a.href = `/api/runs/${encodeURIComponent(run.id)}/${name}`; files.append(a, " ");
      }
    }
    row.append(cell, el("td", `${run.id}${run.source === "folder" ? " (saved earlier)" : ""}`),
      el("td", run.reason ? `${run.status}: ${run.reason}` : run.status), el("td", settings),
      el("td", pct(run.test_accuracy)), files);
    return row;
  }));
  lab.emit("runs", answer.runs);
  return answer.runs;
}

async function compareRuns() {
  const ticked = [...document.querySelectorAll("#runs input:checked")].map((i) => i.value);
  const out = document.getElementById("comparison");
  if (ticked.length !== 2) { out.replaceChildren(el("p", "Tick two saved runs to compare them.")); return; }
  const response = await api(`/api/compare?a=${encodeURIComponent(ticked[0])}&b=${encodeURIComponent(ticked[1])}`);
  const c = await response.json();
  if (!response.ok) { out.replaceChildren(el("p", c.error)); return; }
  const table = (head, rows) => {
    const t = el("table"); const h = el("tr"); head.forEach((x) => h.append(el("th", x))); t.append(h);
    rows.forEach((r) => { const tr = el("tr"); r.forEach((x) => tr.append(el("td", x))); t.append(tr); });
    return t;
  };
  out.replaceChildren(el("h3", `A: ${ticked[0]}  B: ${ticked[1]}`), el("p", c.accuracy_change),
    table(["Setting", "A", "B"], c.settings), table(["", "A", "B"], c.metrics),
    table(["Class", "A", "B", "Change"], c.per_class), ...c.disagreements.map((line) => el("p", line)));
  lab.emit("compare", c, ticked);
}

async function start() {
  document.getElementById("settings").addEventListener("submit", train);
  document.getElementById("stop").addEventListener("click", stopRun);
  document.getElementById("compare").addEventListener("click", compareRuns);
  await loadSettings();
  const runs = await refreshRuns();
  const going = runs.find((r) => r.source === "lab" && (r.status === "queued" || r.status === "running"));
  if (going) follow(going.id); // a reload mid-run: every event so far, then live
}

document.addEventListener("DOMContentLoaded", start);
