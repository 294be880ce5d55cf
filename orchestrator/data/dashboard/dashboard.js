// Live updates: the server pushes a release's whole fragment over SSE when its status file
// changes; we swap that one fragment in place. No reload, no polling: EventSource reconnects
// by itself, and the server sends every release again on each (re)connect.
"use strict";
window.orchdLoadedAt = Date.now();

function swapRelease(id, html) {
  const old = document.getElementById("release-" + id);
  const holder = document.createElement("div");
  holder.innerHTML = html;
  const fresh = holder.firstElementChild;
  if (!fresh) return;
  if (old) {
    fresh.open = old.open; // keep what the reader opened or closed
    old.replaceWith(fresh);
  } else {
    document.getElementById("releases").appendChild(fresh);
  }
  document.body.dataset.updates = String(Number(document.body.dataset.updates || 0) + 1);
}

function connect() {
  const live = document.getElementById("live");
  const source = new EventSource(document.body.dataset.events);
  source.addEventListener("open", () => {
    live.dataset.state = "live";
    live.textContent = "live";
  });
  source.addEventListener("error", () => {
    live.dataset.state = "reconnecting";
    live.textContent = "reconnecting…";
  });
  source.addEventListener("release", (event) => {
    const data = JSON.parse(event.data);
    swapRelease(data.id, data.html);
  });
  source.addEventListener("removed", (event) => {
    const old = document.getElementById("release-" + JSON.parse(event.data).id);
    if (old) old.remove();
  });
}

document.addEventListener("click", (event) => {
  const button = event.target.closest("button.copy");
  if (!button || !navigator.clipboard) return;
  navigator.clipboard.writeText(button.dataset.copy).then(() => {
    button.textContent = "copied";
  });
});

connect();
