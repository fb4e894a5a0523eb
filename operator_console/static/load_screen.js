// The live load screen: each line's waiting queue (how many, the oldest wait ticking, long waits
// highlighted) and each operator's presence, dialogs against capacity and pending offers.
// Admins and analysts see every line, managers their own. The snapshot comes from
// GET /api/stats/load when the screen opens and then from the socket's `load` frames, which the
// hub sends whenever the load changes (at most once a second). Contract: docs/PROTOCOL.md,
// "Live load". Text goes in with textContent only.

import { api } from "./api.js";
import { $, el, fill } from "./dom.js";
import { ROLE_LABELS } from "./format.js";
import { state } from "./state.js";
import { showScreen } from "./topbar.js";

const VIEWERS = new Set(["admin", "analyst", "manager"]);
const STATUS_LABELS = { online: "Online", away: "Away", offline: "Offline" };
const view = () => $("load-screen");

let snapshot = null;
let receivedAt = 0; // performance.now() when `snapshot` arrived: waits tick on from there
let problem = "";
let ticker = null;

const mayView = () => Boolean(state.me && VIEWERS.has(state.me.role));

/** Wire the Load button of the top bar. */
export function initLoad() {
  $("nav-load").addEventListener("click", () => {
    showScreen(view());
    if (snapshot) render();
    else fill(view(), el("p", { class: "load-empty", text: "Loading the live load…" }));
    load();
  });
}

/** Called after every login and logout: the screen is for admins, analysts and managers. */
export function refreshLoad() {
  $("nav-load").hidden = !mayView();
  snapshot = null;
  if (!mayView() && !view().hidden) showScreen(null);
}

/** A `load` frame from the socket: the newest snapshot. */
export function applyLoadFrame(frame) {
  if (mayView() && Array.isArray(frame.lines) && Array.isArray(frame.operators)) accept(frame);
}

/** After a reconnect the frames missed are gone: read the load again if it is on screen. */
export function resyncLoad() {
  if (mayView() && !view().hidden) load();
}

async function load() {
  try {
    accept(await api("GET", "/api/stats/load"));
  } catch (err) {
    problem = `Could not load the live load: ${err.reason}`;
    render();
  }
}

function accept(data) {
  snapshot = data;
  receivedAt = performance.now();
  problem = "";
  render();
}

// Seconds waited now, from a figure the hub counted when it sent the snapshot.
const waitedNow = (seconds) => seconds + Math.floor((performance.now() - receivedAt) / 1000);

/** "45 s", "3 min 07 s", "2 h 05 min". */
export function waitText(seconds) {
  if (seconds < 60) return `${seconds} s`;
  const pad = (n) => String(n).padStart(2, "0");
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${pad(seconds % 60)} s`;
  return `${Math.floor(seconds / 3600)} h ${pad(Math.floor((seconds % 3600) / 60))} min`;
}

// A threshold in round words: "2 min", "1 h", else as a wait is written.
function limitText(seconds) {
  if (seconds % 3600 === 0) return `${seconds / 3600} h`;
  if (seconds % 60 === 0) return `${seconds / 60} min`;
  return waitText(seconds);
}

// A wait that ticks: the ticker rewrites every node holding `data-waited`.
function ticking(seconds, props = {}) {
  return el("span", { ...props, dataset: { ...(props.dataset || {}), waited: String(seconds) }, text: waitText(seconds) });
}

function tick() {
  const node = view();
  if (node.hidden) {
    clearInterval(ticker);
    ticker = null;
    return;
  }
  for (const span of node.querySelectorAll("[data-waited]")) {
    span.textContent = waitText(waitedNow(Number(span.dataset.waited)));
  }
  // A client who waited into the line's threshold since the snapshot is a long wait now.
  for (const card of node.querySelectorAll('[data-ol="load-line"]')) {
    const oldest = card.querySelector('[data-ol="load-oldest"]');
    if (oldest && waitedNow(Number(oldest.dataset.waited)) >= Number(card.dataset.threshold)) card.classList.add("load-queue--long");
  }
}

function figure(label, value, ol) {
  return el("div", { class: "load-figure" },
    el("span", { class: "load-figure-label", text: label }),
    typeof value === "object" ? value : el("span", { class: "load-figure-value", dataset: { ol }, text: String(value) }));
}

function queueCard(line) {
  const long = line.long_waits > 0;
  const oldest = line.oldest_wait_s === null
    ? el("span", { class: "load-figure-value", dataset: { ol: "load-oldest" }, text: "—" })
    : ticking(line.oldest_wait_s, { class: "load-figure-value", dataset: { ol: "load-oldest" } });
  const waits = line.longest.map((w) => el("li", { class: "load-long-item", dataset: { ol: "load-long", dialogId: String(w.dialog_id) } },
    el("span", { class: "load-long-name", text: w.client_name || `Dialog #${w.dialog_id}` }),
    ticking(w.waited_s, { class: "load-long-wait" })));
  const more = line.long_waits - line.longest.length;
  return el("article", {
    class: `load-queue${long ? " load-queue--long" : ""}`,
    dataset: { ol: "load-line", lineId: String(line.id), threshold: String(line.long_wait_s) },
  },
  el("h4", { class: "load-queue-name", text: line.name }),
  el("div", { class: "load-figures" },
    figure("Waiting", line.waiting, "load-waiting"),
    figure("Oldest wait", oldest),
    figure(`Waiting over ${limitText(line.long_wait_s)}`, line.long_waits, "load-long-count")),
  waits.length ? el("ul", { class: "load-long-list", role: "list", "aria-label": "Long waits" }, waits,
    more > 0 ? el("li", { class: "load-long-more", text: `and ${more} more` }) : null) : null);
}

function operatorRow(op) {
  const full = op.capacity !== null && op.load >= op.capacity;
  const unlimited = op.capacity === null;
  const share = op.capacity ? Math.min(1, op.load / op.capacity) : 0;
  // Without a limit there is nothing to fill: the bar is drawn empty and dashed.
  const bar = el("span", { class: `load-bar${full ? " load-bar--full" : ""}${unlimited ? " load-bar--none" : ""}`, role: "meter",
    "aria-label": "Dialogs against capacity", "aria-valuemin": "0", "aria-valuenow": String(op.load), "aria-valuemax": String(op.capacity ?? op.load) },
  el("span", { class: "load-bar-fill" }));
  bar.firstChild.style.width = `${unlimited ? 0 : full ? 100 : Math.round(share * 100)}%`;
  const offers = op.offers === 1 ? "1 offer" : `${op.offers} offers`;
  return el("li", { class: "load-op", dataset: { ol: "load-operator", operatorId: String(op.id), status: op.status } },
    el("span", { class: "load-op-who" },
      el("span", { class: "load-dot", dataset: { status: op.status }, title: STATUS_LABELS[op.status] || op.status }),
      el("span", { class: "sr-only", text: `${STATUS_LABELS[op.status] || op.status}: ` }),
      el("span", { class: "load-op-name", text: op.name }),
      el("span", { class: "load-op-role", text: ROLE_LABELS[op.role] || op.role })),
    bar,
    el("span", { class: "load-op-count", dataset: { ol: "load-count" }, text: `${op.load} / ${op.capacity === null ? "no limit" : op.capacity}` }),
    el("span", { class: `load-op-offers${op.offers ? " load-op-offers--some" : ""}`, dataset: { ol: "load-offers" }, text: offers }));
}

function render() {
  const node = view();
  if (node.hidden) return;
  const head = el("header", { class: "screen-head" }, el("h2", { text: "Operator load" }),
    el("span", { class: "load-live", text: "Updates live" }));
  if (!snapshot) {
    fill(node, head, problem ? el("p", { class: "admin-error", role: "alert", text: problem }) : null);
    return;
  }
  const online = snapshot.operators.filter((op) => op.status === "online").length;
  fill(node, head,
    problem ? el("p", { class: "admin-error", role: "alert", text: problem }) : null,
    el("section", { class: "load-section", "aria-label": "Queues" },
      el("h3", { class: "load-heading", text: "Queues" }),
      snapshot.lines.length ? el("div", { class: "load-queues", dataset: { ol: "load-lines" } }, snapshot.lines.map(queueCard))
        : el("p", { class: "load-empty", text: "No lines to show." })),
    el("section", { class: "load-section", "aria-label": "Operators" },
      el("h3", { class: "load-heading", text: `Operators · ${online} online of ${snapshot.operators.length}` }),
      snapshot.operators.length ? el("ul", { class: "load-ops", role: "list", dataset: { ol: "load-operators" } }, snapshot.operators.map(operatorRow))
        : el("p", { class: "load-empty", text: "Nobody is in the queues of these lines." })));
  if (!ticker) ticker = setInterval(tick, 1000);
}
