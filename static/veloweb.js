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
  // Reconnects come quickly (at most 5 s apart) after the server went away: the page should not
  // stay stale for a minute after a restart.
  if (window.htmx) {
    htmx.config.wsReconnectDelay = (retry) => Math.min(5000, 500 * 2 ** retry) * (0.5 + Math.random() / 2);
  }
  // Elapsed time and running hooks count on between updates, from the server's clock: each
  // fragment carries the server's time (data-now) and the start times (data-started, data-since).
  const offsets = new WeakMap(); // element -> server time minus this browser's, when it arrived
  const serverNow = (holder) => {
    if (!offsets.has(holder)) offsets.set(holder, parseFloat(holder.dataset.now) - Date.now() / 1000);
    return Date.now() / 1000 + offsets.get(holder);
  };
  const asSeconds = (value) => {
    const total = Math.max(0, Math.round(value));
    const hours = Math.floor(total / 3600), minutes = Math.floor((total % 3600) / 60), secs = total % 60;
    if (hours) return `${hours}h ${minutes}m`;
    if (minutes) return `${minutes}m ${secs}s`;
    return `${secs}s`;
  };
  const tick = () => {
    for (const holder of document.querySelectorAll("[data-now]")) {
      const now = serverNow(holder);
      const elapsed = holder.dataset.started ? holder.querySelector("[data-tick=elapsed]") : null;
      if (elapsed) elapsed.textContent = asSeconds(now - parseFloat(holder.dataset.started));
      for (const since of holder.querySelectorAll("[data-tick=since]")) {
        since.textContent = asSeconds(now - parseFloat(since.dataset.since));
      }
    }
  };
  setInterval(tick, 1000);
  document.body.addEventListener("htmx:oobAfterSwap", tick);
  // The full log's last page: appended lines that a reconnect sent again are dropped, and the
  // page keeps at most MAX_LOG_ROWS rows (older ones are on the pages before).
  const MAX_LOG_ROWS = 1000;
  document.body.addEventListener("htmx:oobAfterSwap", (event) => {
    const body = document.getElementById("log-lines");
    if (!body || event.detail.target !== body) return;
    const seen = new Set();
    for (const row of Array.from(body.rows)) {
      if (row.classList.contains("log-empty") && body.rows.length > 1) row.remove();
      else if (row.id && seen.has(row.id)) row.remove();
      else seen.add(row.id);
    }
    while (body.rows.length > MAX_LOG_ROWS) body.deleteRow(0);
  });
  // The live pages' WebSocket: tests wait for body[data-ws=open]; a socket the server closed
  // because the session ended (4401) or the role is gone (4403) says so on the page. A dropped
  // connection (the server restarted, the network went) shows a sign until it is back; the
  // server then sends the whole state again.
  const liveStatus = (text, state) => {
    const status = document.getElementById("live-status");
    if (!status) return;
    status.textContent = text;
    status.dataset.state = state;
    status.hidden = !text;
  };
  let lost = false;
  let restoredTimer = 0;
  document.body.addEventListener("htmx:wsOpen", () => {
    document.body.dataset.ws = "open";
    if (lost) {
      lost = false;
      const what = (document.getElementById("live-status") || {dataset: {}}).dataset.what || "the backup as it is";
      liveStatus(`Live updates are back: the page shows ${what} now.`, "restored");
      clearTimeout(restoredTimer);
      restoredTimer = setTimeout(() => liveStatus("", ""), 6000);
    }
  });
  document.body.addEventListener("htmx:wsClose", (event) => {
    document.body.dataset.ws = "closed";
    const code = event.detail && event.detail.event ? event.detail.event.code : 0;
    if ([1006, 1011, 1012, 1013].includes(code)) {
      lost = true;
      clearTimeout(restoredTimer);
      liveStatus("Live connection lost: reconnecting… What you see may be out of date.", "lost");
    }
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
