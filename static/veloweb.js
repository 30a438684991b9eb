// The dashboard's behaviour, kept out of the templates: the Content-Security-Policy runs no inline script.
// Loaded with `defer`: the body exists, and htmx (loaded before) has not opened a socket yet.
(() => {
  // On a phone the menu folds behind its button.
  const toggle = document.querySelector("header .menu-toggle");
  if (toggle) {
    toggle.addEventListener("click", () => {
      const open = document.getElementById("site-header").classList.toggle("open");
      toggle.setAttribute("aria-expanded", String(open));
    });
  }
  // A table wider than its card scrolls inside it (phones): keyboard users can then focus and scroll it.
  const markScrollable = () => {
    for (const table of document.querySelectorAll("main table")) {
      if (table.scrollWidth > table.clientWidth + 1) table.tabIndex = 0;
      else table.removeAttribute("tabindex");
    }
  };
  markScrollable();
  window.addEventListener("resize", markScrollable);
  document.body.addEventListener("htmx:afterSettle", markScrollable);
  // A backup that ends while its page is open is announced to screen readers (the live region
  // stays in place; the phase badge is replaced by every live update).
  const FINAL = ["Completed", "PartiallyFailed", "Failed", "FailedValidation", "Cancelled"];
  const phaseNow = () => (document.getElementById("phase") || {}).textContent?.trim();
  let phaseSeen = phaseNow();
  document.body.addEventListener("htmx:oobAfterSwap", () => {
    const phase = phaseNow();
    if (phase && phase !== phaseSeen && FINAL.includes(phase)) {
      const name = document.querySelector("#backup-header h1")?.firstChild?.textContent?.trim() || "The backup";
      document.getElementById("announce").textContent = `Backup ${name} finished: ${phase}.`;
    }
    phaseSeen = phase;
  });
  // The history's rows are replaced by live updates: the ones the operator ticked for a bulk delete
  // are ticked again.
  const ticked = new Set();
  const boxes = "input[name=ids][form=bulk-delete]";
  document.body.addEventListener("change", (event) => {
    if (!event.target.matches(boxes)) return;
    if (event.target.checked) ticked.add(event.target.value);
    else ticked.delete(event.target.value);
  });
  document.body.addEventListener("htmx:oobAfterSwap", () => {
    for (const box of document.querySelectorAll(boxes)) if (ticked.has(box.value)) box.checked = true;
  });
  // A select marked data-autosubmit sends its form when changed (the settings page's roles).
  document.body.addEventListener("change", (event) => {
    if (event.target.matches("[data-autosubmit]")) event.target.form.requestSubmit();
  });
  // The backup page's WebSocket: tests wait for body[data-ws=open]; a socket the server closed
  // because the session ended (4401) or the role is gone (4403) says so on the page.
  document.body.addEventListener("htmx:wsOpen", () => { document.body.dataset.ws = "open"; });
  document.body.addEventListener("htmx:wsClose", (event) => {
    document.body.dataset.ws = "closed";
    const code = event.detail && event.detail.event ? event.detail.event.code : 0;
    const reasons = {
      4401: "Live updates stopped: you are signed out. Sign in again to follow this backup.",
      4403: "Live updates stopped: your role no longer allows viewing backups.",
      4404: "Live updates stopped: this backup was deleted.",
    };
    const live = document.getElementById("live");
    if (reasons[code] && live && !document.getElementById("live-closed")) {
      const note = document.createElement("p");
      note.id = "live-closed";
      note.className = "live-closed";
      note.setAttribute("role", "status");
      note.textContent = reasons[code];
      live.prepend(note);
    }
  });
})();
