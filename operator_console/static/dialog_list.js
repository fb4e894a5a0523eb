// The dialog list: Open and Closed tabs, one item per dialog with its preview, channel, line,
// status and unread count. Only the items near the viewport are drawn (list_window.js); they
// are reused between drawings, so scroll and focus survive.

import { api } from "./api.js";
import { renderConversation } from "./conversation.js";
import { $, el, fill, reconcileChildren, unchanged } from "./dom.js";
import { ListWindow } from "./list_window.js";
import { STATUS_LABELS, channelLabel, clientName, editStamp, listTime, paintAvatar, parseTime, previewText } from "./format.js";
import { selectDialog } from "./navigation.js";
import { answersIn, unreadTitle } from "./notifications.js";
import { snapshot, state } from "./state.js";

const OPEN_STATUSES = new Set(["waiting", "open"]);
const listItems = new Map(); // dialog id -> <li>, drawn or not
let ordered = []; // the dialogs of the tab, as the list shows them
let listWindow = null;
let listGen = 0;
let latestListLoad = Promise.resolve();

function dialogActivity(dialog) {
  const at = parseTime(dialog.last_message && dialog.last_message.at) || parseTime(dialog.opened_at);
  return at ? at.getTime() : 0;
}

function inTab(dialog, tab) {
  return tab === "closed" ? dialog.status === "closed" : OPEN_STATUSES.has(dialog.status);
}

/**
 * Merges a dialog from the hub into the cache. last_message only moves forward: a dialog frame
 * or list snapshot may be older than a message frame already applied.
 */
export function upsertDialog(incoming) {
  const current = state.dialogs.get(incoming.id);
  const merged = { ...incoming };
  if (current && current.last_message && (!merged.last_message || merged.last_message.id < current.last_message.id)) {
    merged.last_message = current.last_message;
  }
  state.dialogs.set(merged.id, merged);
  return { previous: current, dialog: merged };
}

/** Whether this operator's list keeps `dialog`. */
export function mayKeep(dialog) {
  // Non-admins only see the dialogs they answer in; a frame for a dialog transferred to a
  // colleague tells us it left our list. Unassigned (waiting) dialogs offered to us stay.
  if (!state.me || state.me.role === "admin") return true;
  return answersIn(dialog);
}

/** Reload the list of the current tab from the hub. */
export function loadDialogs() {
  latestListLoad = snapshot(() => fetchDialogs(++listGen));
  return latestListLoad;
}

async function fetchDialogs(gen) {
  // The Open count in the tab bar needs the open list even while Closed is shown.
  const tabs = state.tab === "closed" ? ["open", "closed"] : ["open"];
  state.listLoading = true;
  state.listError = null;
  renderList();
  try {
    const results = await Promise.all(tabs.map((t) => api("GET", `/api/dialogs?status=${t}`)));
    // Superseded (tab switch, reconnect): whoever waits on us should wait for the newer load.
    if (gen !== listGen) return latestListLoad;
    tabs.forEach((tab, i) => applySnapshot(tab, results[i].dialogs || []));
    state.listError = null;
  } catch (err) {
    if (gen !== listGen) return latestListLoad;
    state.listError = err.reason || String(err);
  } finally {
    if (gen === listGen) {
      state.listLoading = false;
      renderList();
      renderConversation();
    }
  }
  return undefined;
}

function applySnapshot(tab, dialogs) {
  const seen = new Set();
  for (const incoming of dialogs) {
    seen.add(incoming.id);
    const { previous, dialog } = upsertDialog(incoming);
    // Messages that arrived while the socket was down were never counted; one is the honest
    // lower bound when the snapshot shows a newer client message.
    if (previous && previous.last_message && dialog.last_message && dialog.last_message.id > previous.last_message.id &&
        dialog.last_message.author === "client" && dialog.id !== state.selectedId) {
      state.unread.set(dialog.id, (state.unread.get(dialog.id) || 0) + 1);
    }
  }
  for (const [id, dialog] of state.dialogs) {
    if (!seen.has(id) && inTab(dialog, tab) && id !== state.selectedId) {
      state.dialogs.delete(id);
      state.unread.delete(id);
    }
  }
}

function visibleDialogs() {
  const out = [];
  for (const dialog of state.dialogs.values()) {
    // The selected dialog stays in the Open tab after it is closed so the operator keeps their
    // place; the Closed tab shows only closed dialogs.
    const keptInPlace = dialog.id === state.selectedId && state.tab === "open" && dialog.status === "closed";
    if (inTab(dialog, state.tab) || keptInPlace) out.push({ dialog, at: dialogActivity(dialog) });
  }
  // Each dialog's time is read once: in the comparisons, a supervisor's hundreds of dialogs
  // cost thousands of date parses a drawing.
  out.sort((a, b) => b.at - a.at || b.dialog.id - a.dialog.id);
  return out.map((entry) => entry.dialog);
}

// A busy hub's supervisor gets frames all the time; the list need not follow faster than a
// person reads it, and each drawing costs the tab a layout and a paint.
const DRAW_EVERY_MS = 500;
let drawing = 0;
let drawnAt = -Infinity;

/**
 * Draw the list once the frames that came together are applied: at once when it was not drawn
 * for DRAW_EVERY_MS, else that long after the last drawing. A router's batch reaches a socket
 * as many frames at once, and a supervisor gets one for every message of every dialog.
 */
export function renderListSoon() {
  if (!drawing) drawing = setTimeout(renderList, Math.max(0, drawnAt + DRAW_EVERY_MS - performance.now()));
}

/** Draw the list from the state. */
export function renderList() {
  clearTimeout(drawing);
  drawing = 0;
  drawnAt = performance.now();
  ordered = visibleDialogs();
  drawWindow();
  for (const [id, item] of listItems) {
    if (!state.dialogs.has(id)) {
      listItems.delete(id);
      item.remove();
    }
  }
  let openCount = 0;
  for (const d of state.dialogs.values()) if (OPEN_STATUSES.has(d.status)) openCount += 1;
  $("open-count").textContent = openCount ? String(openCount) : "";
  renderEmpty(ordered.length === 0);
  updateTitle();
}

/** Draw the items of `ordered` that are in or near the viewport; scrolling draws again. */
function drawWindow() {
  const list = $("dialog-list");
  if (!listWindow) listWindow = new ListWindow(list, drawWindow);
  let { first, last } = listWindow.range(ordered.length);
  // Focus must not fall out of the document when the operator scrolls away from its item.
  const focused = focusedIndex();
  if (focused !== -1) {
    first = Math.min(first, focused);
    last = Math.max(last, focused + 1);
  }
  const setSize = String(ordered.length);
  const nodes = [];
  for (let index = first; index < last; index += 1) {
    const dialog = ordered[index];
    let item = listItems.get(dialog.id);
    if (!item) {
      item = createListItem(dialog.id);
      listItems.set(dialog.id, item);
    }
    fillListItem(item, dialog);
    // Screen readers count the whole list, not the drawn part.
    setAttributeIfChanged(item, "aria-setsize", setSize);
    setAttributeIfChanged(item, "aria-posinset", String(index + 1));
    nodes.push(item);
  }
  reconcileChildren(list, nodes);
  listWindow.place(first, last, ordered.length);
}

function focusedIndex() {
  const active = document.activeElement;
  const item = active && active.closest('#dialog-list [data-ol="dialog"]');
  if (!item) return -1;
  const id = Number(item.dataset.dialogId);
  return ordered.findIndex((dialog) => dialog.id === id);
}

function setAttributeIfChanged(node, name, value) {
  if (node.getAttribute(name) !== value) node.setAttribute(name, value);
}

/** The ids of the tab's dialogs, in the order of the list. */
export function listedDialogIds() {
  return ordered.map((dialog) => dialog.id);
}

/** Scroll the list to the dialog, drawing it if it was out of the window. */
export function revealDialog(id) {
  const index = ordered.findIndex((dialog) => dialog.id === id);
  if (index !== -1 && listWindow) listWindow.reveal(index, () => listItems.get(id));
}

function renderEmpty(isEmpty) {
  const empty = $("list-empty");
  empty.hidden = !isEmpty;
  if (!isEmpty) return;
  empty.classList.toggle("list-empty--error", Boolean(state.listError));
  if (state.listError) empty.textContent = `Could not load dialogs: ${state.listError}`;
  else if (state.listLoading) empty.textContent = "Loading dialogs…";
  else empty.textContent = state.tab === "closed" ? "No closed dialogs." : "No open dialogs. New conversations will appear here.";
}

function createListItem(id) {
  const button = el("button", { type: "button", class: "dialog-item-button", onclick: () => selectDialog(id) });
  return el("li", { class: "dialog-item", dataset: { ol: "dialog", dialogId: String(id) } }, button);
}

function fillListItem(item, dialog) {
  const unread = state.unread.get(dialog.id) || 0;
  const selected = dialog.id === state.selectedId;
  const lm = dialog.last_message;
  const when = listTime((lm && lm.at) || dialog.opened_at);
  // Every live frame re-renders the list; only items whose visible content changed are rebuilt.
  const signature = JSON.stringify([dialog.status, unread, selected, dialog.client_name, dialog.channel_kind,
    dialog.line_name, lm ? lm.id : null, lm ? editStamp(lm) : "", when]);
  if (unchanged(item, signature)) return;
  item.dataset.status = dialog.status;
  item.dataset.unread = String(unread);
  item.classList.toggle("is-selected", selected);
  item.classList.toggle("is-waiting", dialog.status === "waiting");
  item.classList.toggle("has-unread", unread > 0);
  const button = item.firstElementChild;
  button.setAttribute("aria-current", selected ? "true" : "false");
  const avatar = el("span", { class: "avatar", "aria-hidden": "true" });
  paintAvatar(avatar, clientName(dialog), `client-${dialog.id}`);
  const unreadBadge = unread > 0
    ? el("span", { class: "unread", dataset: { ol: "unread" }, "aria-label": `${unread} unread`, text: unread > 99 ? "99+" : String(unread) })
    : null;
  fill(button, avatar, el("span", { class: "dialog-body" },
    el("span", { class: "dialog-row" },
      el("span", { class: "dialog-name", text: clientName(dialog) }),
      el("time", { class: "dialog-time", text: when })),
    el("span", { class: "dialog-row dialog-row--preview" },
      el("span", { class: "dialog-preview", dataset: { ol: "preview" }, text: previewText(lm, state.me ? state.me.name || state.me.login : null) }), unreadBadge),
    el("span", { class: "dialog-row dialog-row--meta" },
      el("span", { class: "badge badge--channel", dataset: { kind: String(dialog.channel_kind || "") }, text: channelLabel(dialog.channel_kind) }),
      el("span", { class: "dialog-line", text: dialog.line_name || "" }),
      el("span", { class: `status status--${dialog.status}`, text: STATUS_LABELS[dialog.status] || dialog.status })),
  ));
}

/** Show the Open or Closed tab, loading it unless told not to. */
export function setTab(tab, { load = true } = {}) {
  state.tab = tab;
  for (const button of document.querySelectorAll(".tab")) {
    button.setAttribute("aria-selected", button.dataset.tab === tab ? "true" : "false");
  }
  renderList();
  if (load) loadDialogs();
}

/** The page title counts the dialogs with unread client messages. */
export function updateTitle() {
  document.title = unreadTitle();
}

/** Forget the items of the previous session; answers to its requests are dropped. */
export function resetList() {
  listGen += 1;
  listItems.clear();
  ordered = [];
  $("dialog-list").replaceChildren();
}
