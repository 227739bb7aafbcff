// copytrade control panel: self-refreshing panels and the copy page's select buttons (no inline script: CSP).
"use strict";

function refreshLoop(box) {
  const url = box.dataset.refreshUrl;
  const seconds = parseFloat(box.dataset.refreshSeconds || "3");
  async function tick() {
    if (box.dataset.final === "1") {
      return;
    }
    try {
      const answer = await fetch(url, {
        credentials: "same-origin",
        headers: { "X-Requested-With": "XMLHttpRequest" },
      });
      if (answer.ok) {
        box.innerHTML = await answer.text();
        const final = answer.headers.get("X-Refresh-Final");
        if (final !== null) {
          box.dataset.final = final;
        }
      } else if (answer.status === 302 || answer.status === 403) {
        return; // logged out: stop asking
      }
    } catch (error) {
      // the server restarting: try again at the next tick
    }
    if (box.dataset.final !== "1") {
      window.setTimeout(tick, seconds * 1000);
    }
  }
  window.setTimeout(tick, seconds * 1000);
}

function selectButtons() {
  document.querySelectorAll("button[data-select]").forEach((button) => {
    button.addEventListener("click", () => {
      const mode = button.dataset.select;
      document.querySelectorAll('input[type=checkbox][name="followers"]').forEach((box) => {
        box.checked = mode === "all" || (mode === "ready" && box.dataset.ready === "1");
      });
    });
  });
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-refresh-url]").forEach(refreshLoop);
  selectButtons();
});
