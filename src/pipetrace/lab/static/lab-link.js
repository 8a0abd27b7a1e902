// pipetrace lab: the form's settings in the address's fragment (#hidden=64,32&epochs=3&...), so a link
// reproduces the setup. On load the fragment only fills the form (unknown keys are ignored); the server checks
// the settings when Train is pressed, as it checks any. The fragment holds the settings' keys and nothing else.
"use strict";
(() => {
  const lab = window.pipetraceLab;
  const opened = location.hash; // as the page was opened: the form's defaults are written over it once they arrive
  let applied = false; // the fragment the page was opened with has been put into the form

  // "hidden=64%2C32" reads poorly: commas stay commas (a fragment may hold them)
  function fragment(settings) {
    return lab.fields.map((name) => {
      const value = settings[name];
      const text = Array.isArray(value) ? value.join(",") : value === null || value === undefined ? "" : String(value);
      return `${name}=${encodeURIComponent(text).replace(/%2C/gi, ",")}`;
    }).join("&");
  }

  function formText() {
    const settings = {};
    for (const name of lab.fields) {
      const control = document.getElementById(name);
      settings[name] = control.type === "checkbox" ? control.checked : control.value.trim();
    }
    return fragment(settings);
  }

  function link() { return `${location.origin}${location.pathname}#${formText()}`; }

  function fromFragment() {
    const given = new URLSearchParams(opened.replace(/^#/, ""));
    const settings = {};
    for (const name of lab.fields) if (given.has(name)) settings[name] = given.get(name);
    return settings;
  }

  function remember() {
    if (!applied) return;
    history.replaceState(null, "", `#${formText()}`);
    document.getElementById("share-link").value = link();
    document.getElementById("share-note").textContent = "";
  }

  async function copy() {
    remember();
    const box = document.getElementById("share-link");
    const note = document.getElementById("share-note");
    try {
      await navigator.clipboard.writeText(box.value);
      note.textContent = "Copied: whoever opens it (with the lab's token) gets this form filled in the same way.";
    } catch (error) { // no clipboard here (an address that is not localhost or https): the link is selected instead
      box.focus(); box.select();
      note.textContent = "Select the link above and copy it.";
    }
  }

  lab.on("settings", () => {
    applied = true;
    lab.fillForm(fromFragment()); // then remembered ("filled")
  });
  lab.on("filled", remember);
  document.addEventListener("DOMContentLoaded", () => {
    const form = document.getElementById("settings");
    form.addEventListener("input", remember);
    form.addEventListener("change", remember);
    document.getElementById("copy-link").addEventListener("click", copy);
  });
})();
