// pipetrace lab: the address's #login=CODE leaves the address bar and the tab's history at once (the code
// stops working minutes after its first use, so the copy the browser's history database keeps is dead).
// On the login page (served without the lab's cookie) the code is exchanged for the cookie (POST /api/login),
// then the lab's page is loaded in place of this one; on the lab's page (a second visit) it is only removed.
// Also when the address is pasted into a tab already showing the page (a fragment change loads nothing).
// The rest of the fragment stays: `#login=CODE&hidden=64,32&epochs=3` logs in, then fills the form (lab-link.js).
"use strict";
(function () {
  function take() {
    const given = new URLSearchParams(location.hash.replace(/^#/, ""));
    const code = given.get("login");
    if (code === null) return;
    given.delete("login");
    const rest = given.toString().replace(/%2C/gi, ",");
    history.replaceState(null, "", location.pathname + location.search + (rest ? "#" + rest : ""));
    const status = document.getElementById("login-status");
    if (!status) return;
    if (!/^[A-Za-z0-9_-]{1,100}$/.test(code)) {
      status.textContent = "This address's login code is cut or changed: copy the whole address the lab printed.";
      return;
    }
    status.textContent = "Logging in...";
    fetch("/api/login", { method: "POST", headers: { Authorization: "login " + code }, credentials: "same-origin" })
      .then(async (response) => {
        // the address is already the lab's page (and the settings' fragment): load it again, now with the cookie
        if (response.ok) { location.reload(); return; }
        const answer = await response.json().catch(() => ({}));
        status.textContent = answer.error || `the lab refused the login code (HTTP ${response.status})`;
      }, () => { status.textContent = "the lab did not answer: is it still running?"; });
  }
  window.addEventListener("hashchange", take);
  take();
})();
