// The conversation pane: the header of the open dialog and its messages, stored and pending.
// Message nodes are keyed and reused, so a reply being sent turns into the stored one in place.

import { api } from "./api.js";
import { showClientCard } from "./client_panel.js";
import { renderList, upsertDialog } from "./dialog_list.js";
import { $, el, fill, reconcileChildren, unchanged } from "./dom.js";
import { attachmentNodes, showChips } from "./files.js";
import { STATUS_LABELS, channelLabel, clientName, dayKey, dayLabel, editStamp, fullFmt, paintAvatar, parseTime, timeFmt } from "./format.js";
import { discardPending, hideSendError, replyReset, retryPending } from "./reply_box.js";
import { renderRouting } from "./routing.js";
import { pendingFor, snapshot, state } from "./state.js";

const messageNodes = new Map(); // render key -> element

// A delivery status only moves forward: a slow snapshot never takes a live "Seen" back.
const RECEIPT_RANK = { sent: 1, delivered: 2, seen: 3, failed: 4 };
const RECEIPT_LABELS = { sent: "Sent", delivered: "Delivered", seen: "Seen", failed: "Failed" };
// The widget sends at most one typing frame per 2 s; 5 s without one means the visitor stopped.
const TYPING_SHOWN_MS = 5000;
const TYPING_EVERY_MS = 2000;
const typingUntil = new Map(); // dialog id -> when its "typing" line goes away
// A dialog opens at its newest page of messages (the hub's); earlier ones come a page at a time.
const EARLIER_PAGE = 100;
let typingTimer = null;
let typingSent = { dialogId: null, at: 0 };

/** Open dialog `id` (null: none), keeping the draft of the one left. */
export function openDialog(id) {
  const reply = $("reply");
  if (state.selectedId !== null) {
    if (reply.value) state.drafts.set(state.selectedId, reply.value);
    else state.drafts.delete(state.selectedId);
  }
  state.selectedId = id;
  state.threadGen += 1;
  hideSendError();
  reply.value = (id !== null && state.drafts.get(id)) || "";
  replyReset();
  showChips();
  showClientCard(id);
  if (id === null) {
    state.thread = null;
    renderList();
    renderConversation();
    return;
  }
  state.unread.delete(id);
  // gaps: ids of messages after which the thread may lack some (a search hit's neighbours
  // before the newest page); each shows a control that loads what is missing there.
  // loading and pageErrors: by the key of each page being loaded (`loadPage`).
  state.thread = {
    dialogId: id, messages: new Map(), loaded: false, error: null,
    gaps: new Set(), loading: new Set(), pageErrors: new Map(),
  };
  resetMessages();
  renderList();
  renderConversation();
  loadThread({ scroll: "bottom" });
  if (window.matchMedia("(min-width: 768px)").matches) reply.focus({ preventScroll: true });
}

/** Reload the open thread from the hub. */
export function loadThread(options) {
  return snapshot(() => fetchThread(options));
}

async function fetchThread({ scroll } = {}) {
  const thread = state.thread;
  if (!thread) return;
  const gen = state.threadGen;
  try {
    const data = await api("GET", `/api/dialogs/${thread.dialogId}`);
    if (gen !== state.threadGen) return;
    upsertDialog(data.dialog);
    const page = data.messages || [];
    if (!thread.loaded) {
      thread.earlier = Boolean(data.earlier);
    } else if (data.earlier && page.length && page[0].id > newestId(thread)) {
      // Reloaded after the socket was away while more than a page came: what came between the
      // messages shown and this page is unknown, so the thread starts again from this page.
      thread.messages.clear();
      thread.gaps.clear();
      thread.earlier = true;
    }
    for (const m of page) addThreadMessage(m);
    thread.loaded = true;
    thread.error = null;
  } catch (err) {
    if (gen !== state.threadGen) return;
    thread.error = err.status === 404 ? "This dialog is not available to you." : err.reason || String(err);
  }
  renderList();
  renderConversation({ scroll });
}

function newestId(thread) {
  let newest = 0;
  for (const id of thread.messages.keys()) if (id > newest) newest = id;
  return newest;
}

function oldestId(thread) {
  let oldest = Infinity;
  for (const id of thread.messages.keys()) if (id < oldest) oldest = id;
  return oldest;
}

/** Load the page of messages before the oldest one shown, keeping in view what was. */
export function loadEarlier() {
  const thread = state.thread;
  if (!thread || !thread.earlier) return;
  // One more than a page: whether there are more still.
  const path = `/api/dialogs/${thread.dialogId}/messages?before=${oldestId(thread)}&limit=${EARLIER_PAGE + 1}`;
  return loadPage("earlier", path, "keep", (got) => {
    thread.earlier = got.length > EARLIER_PAGE;
    for (const m of got.slice(-EARLIER_PAGE)) addThreadMessage(m);
  });
}

/**
 * Fetch a page of the open thread's messages from `path` and `add` them. While it loads, its
 * control (`key`) says so; a failure is shown on the control, which then tries again.
 */
async function loadPage(key, path, scroll, add) {
  const thread = state.thread;
  if (!thread || thread.loading.has(key)) return;
  const gen = state.threadGen;
  thread.loading.add(key);
  thread.pageErrors.delete(key);
  renderConversation({ scroll });
  try {
    const got = (await api("GET", path)).messages || [];
    if (gen !== state.threadGen) return;
    add(got);
  } catch (err) {
    if (gen !== state.threadGen) return;
    thread.pageErrors.set(key, err.reason || String(err));
  } finally {
    thread.loading.delete(key);
  }
  renderConversation({ scroll });
}

/**
 * Messages around a search hit (`/messages?around=hitId&limit=limit`, oldest first), which may
 * lie before everything shown: then a gap control below them loads the ones in between, and
 * whether there are earlier ones is told by how many came before the hit.
 */
export function addThreadAround(messages, hitId, limit) {
  const thread = state.thread;
  if (!thread || !messages.length) return;
  const shownFrom = oldestId(thread);
  const newest = messages[messages.length - 1].id;
  for (const m of messages) addThreadMessage(m);
  if (newest >= shownFrom) return;
  if (thread.earlier) thread.gaps.add(newest);
  // The endpoint gives the hit and half a page before it when there are that many.
  thread.earlier = messages.filter((m) => m.id <= hitId).length > Math.floor(limit / 2);
}

/** Load what is missing after message `afterId`, up to the next one shown. */
function loadGap(afterId) {
  const thread = state.thread;
  if (!thread) return;
  const path = `/api/dialogs/${thread.dialogId}/messages?after=${afterId}&limit=${EARLIER_PAGE}`;
  // "stay": the messages go in below the gap the operator is at; what is above stays put.
  return loadPage(`gap:${afterId}`, path, "stay", (got) => {
    let next = Infinity;
    for (const id of thread.messages.keys()) if (id > afterId && id < next) next = id;
    const missing = got.filter((m) => m.id < next);
    thread.gaps.delete(afterId);
    for (const m of missing) addThreadMessage(m);
    // A whole page and still short of the next one shown: the rest of the gap follows it.
    if (missing.length === EARLIER_PAGE) thread.gaps.add(missing[missing.length - 1].id);
  });
}

/** Add a stored message to the open thread; false when it is not of it or known already. */
export function addThreadMessage(message) {
  const thread = state.thread;
  if (!thread || message.dialog_id !== thread.dialogId) return false;
  // The same message again: a newer delivery status changes it, and so does a client's edit.
  const known = thread.messages.get(message.id);
  if (known) {
    // The stamps start with when the text was replaced, so a later edit sorts after.
    if (editStamp(message) > editStamp(known)) {
      thread.messages.set(message.id, { ...known, text: message.text, edits: message.edits });
      return true;
    }
    return moveDeliveryStatus(message);
  }
  thread.messages.set(message.id, message);
  if (message.author === "client") typingUntil.delete(message.dialog_id);
  settlePending(message);
  return true;
}

/** A delivery status that moved (a change of the socket's `delivery` frame, or a message seen
 * again): the open thread's message takes it when it is newer; false when nothing changed. A
 * message the thread has not loaded yet gets its status from that load. */
export function moveDeliveryStatus(change) {
  const thread = state.thread;
  if (!thread || change.dialog_id !== thread.dialogId) return false;
  const known = thread.messages.get(change.id);
  if (!known) return false;
  if ((RECEIPT_RANK[change.delivery_status] || 0) <= (RECEIPT_RANK[known.delivery_status] || 0)) return false;
  thread.messages.set(change.id, { ...known, delivery_status: change.delivery_status, delivery_error: change.delivery_error });
  return true;
}

/** A stored message settles the pending reply that carried its client_msg_id. */
export function settlePending(message) {
  if (!message.client_msg_id) return;
  const map = pendingFor(message.dialog_id);
  if (map && map.delete(message.client_msg_id) && map.size === 0) state.pending.delete(message.dialog_id);
}

/** Forget the message nodes (another dialog, or a new session). */
export function resetMessages() {
  messageNodes.clear();
  $("messages").replaceChildren();
}

/** Draw the open dialog: header, reply box state, routing controls and messages. */
export function renderConversation({ scroll } = {}) {
  const id = state.selectedId;
  const dialog = id === null ? null : state.dialogs.get(id);
  $("conv-empty").hidden = id !== null;
  $("conv").hidden = id === null;
  if (id === null) {
    renderRouting(null);
    return;
  }
  renderHeader(id, dialog);
  const closed = dialog ? dialog.status === "closed" : false;
  const closeButton = $("close-dialog");
  const closing = state.closing.has(id);
  closeButton.hidden = closed;
  closeButton.disabled = closing || !dialog;
  closeButton.textContent = closing ? "Closing…" : "Close dialog";
  $("composer-closed").hidden = !closed;
  // Admins and managers may reopen; the hub says so if this manager is not on its line.
  $("reopen-dialog").hidden = !closed || !state.me || !["admin", "manager"].includes(state.me.role);
  $("reply").disabled = closed || !dialog;
  $("send").disabled = closed || !dialog;
  renderRouting(dialog);
  renderMessages(state.thread, scroll);
  renderTyping();
}

/** The visitor of dialog `dialogId` is typing: say so under its messages for a few seconds. */
export function showVisitorTyping(dialogId) {
  typingUntil.set(dialogId, Date.now() + TYPING_SHOWN_MS);
  if (dialogId === state.selectedId) renderTyping();
}

function renderTyping() {
  let line = $("typing-line");
  if (!line) {
    line = el("div", { class: "typing-line", id: "typing-line", dataset: { ol: "typing" }, role: "status", hidden: true });
    $("thread").append(line);
  }
  const left = (typingUntil.get(state.selectedId) || 0) - Date.now();
  line.hidden = left <= 0;
  line.textContent = left > 0 ? "Visitor is typing…" : "";
  clearTimeout(typingTimer);
  if (left > 0) typingTimer = setTimeout(renderTyping, left + 50);
  else typingUntil.delete(state.selectedId);
}

/** The operator types in the open dialog: tell the client's widget, once per 2 s at most. */
export function noteOperatorTyping() {
  const id = state.selectedId;
  const now = Date.now();
  if (id === null || !$("reply").value) return;
  if (typingSent.dialogId === id && now - typingSent.at < TYPING_EVERY_MS) return;
  typingSent = { dialogId: id, at: now };
  api("POST", `/api/dialogs/${id}/typing`).catch(() => {});
}

function renderHeader(id, dialog) {
  const name = dialog ? clientName(dialog) : `Dialog #${id}`;
  $("conv-name").textContent = name;
  $("conv-client").href = `#/dialogs/${id}/client`;
  paintAvatar($("conv-avatar"), name, `client-${id}`);
  fill($("conv-meta"), dialog && [
    el("span", { class: "badge badge--channel", dataset: { kind: String(dialog.channel_kind || "") }, text: channelLabel(dialog.channel_kind) }),
    el("span", { class: "conv-line", text: dialog.line_name || "" }),
    el("span", { class: `status status--${dialog.status}`, dataset: { ol: "conv-status" }, text: STATUS_LABELS[dialog.status] || dialog.status }),
  ]);
  $("conv").dataset.status = dialog ? dialog.status : "";
}

// Stored messages that carry a client_msg_id share the render key of their pending copy, so the
// bubble the operator watched being sent turns into the stored one in place.
function messageKey(message) {
  return message.client_msg_id ? `c:${message.client_msg_id}` : `m:${message.id}`;
}

function earlierNode(thread) {
  if (!thread || !thread.loaded || !thread.earlier) return null;
  return pageControl(thread, "earlier", "earlier", loadEarlier,
    { idle: "Show earlier messages", busy: "Loading earlier messages…", failed: "Earlier messages did not load" });
}

function gapNode(thread, afterId) {
  return pageControl(thread, `gap:${afterId}`, "gap", () => loadGap(afterId),
    { idle: "Show more messages", busy: "Loading messages…", failed: "Messages did not load" });
}

/** The control (`data-ol` `ol`) that loads the page `key` (`loadPage`) when clicked. */
function pageControl(thread, key, ol, load, labels) {
  const create = () => el("div", { class: "thread-more" },
    el("button", { type: "button", class: "link-button", dataset: { ol }, onclick: () => load() }));
  return keyed(`more:${key}`, create, (node) => {
    const button = node.firstChild;
    const loading = thread.loading.has(key);
    const failed = thread.pageErrors.get(key);
    // Busy rather than disabled: a disabled button would drop the keyboard's focus.
    button.setAttribute("aria-busy", loading ? "true" : "false");
    button.dataset.failed = failed && !loading ? "true" : "false";
    button.textContent = loading ? labels.busy : failed ? `${labels.failed} (${failed}). Try again` : labels.idle;
  });
}

function threadState(thread) {
  if (thread && thread.error) {
    return keyed("state:error", () => el("div", { class: "thread-state thread-state--error" }), (n) => { n.textContent = thread.error; });
  }
  if (thread && !thread.loaded && thread.messages.size === 0) {
    return keyed("state:loading", () => el("div", { class: "thread-state", text: "Loading messages…" }));
  }
  return null;
}

function renderMessages(thread, scroll) {
  const box = $("messages");
  const nearBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 80;
  const fromBottom = box.scrollHeight - box.scrollTop;
  const nodes = [earlierNode(thread), threadState(thread)].filter(Boolean);
  const messages = thread ? [...thread.messages.values()].sort((a, b) => a.id - b.id) : [];
  const pending = thread ? [...(pendingFor(thread.dialogId) || new Map()).values()] : [];
  let lastDay = null;
  let previous = null;
  const push = (item, isPending) => {
    const at = parseTime(item.at) || new Date();
    const dk = dayKey(at);
    if (dk !== lastDay) {
      lastDay = dk;
      nodes.push(keyed(`day:${dk}`, () => el("div", { class: "day-sep", role: "separator" }, el("span", { text: dayLabel(at) }))));
      previous = null;
    }
    const grouped = Boolean(previous && previous.author === item.author && previous.author_name === item.author_name &&
      at - (parseTime(previous.at) || at) < 5 * 60000);
    nodes.push(isPending ? pendingNode(item, grouped) : messageNode(item, grouped));
    previous = item;
  };
  for (const m of messages) {
    push(m, false);
    if (thread.gaps.has(m.id)) {
      nodes.push(gapNode(thread, m.id));
      previous = null;
    }
  }
  for (const p of pending) push(p, true);
  if (thread && thread.loaded && messages.length === 0 && pending.length === 0) {
    nodes.push(keyed("state:empty", () => el("div", { class: "thread-state", text: "No messages in this dialog yet." })));
  }
  const live = new Set(nodes);
  for (const [key, node] of messageNodes) if (!live.has(node)) messageNodes.delete(key);
  reconcileChildren(box, nodes);
  // "keep": earlier messages went in above; what was in view stays where it was.
  if (scroll === "keep") box.scrollTop = box.scrollHeight - fromBottom;
  else if (scroll === "stay") return;
  else if (scroll === "bottom" || nearBottom) box.scrollTop = box.scrollHeight;
}

function keyed(key, create, update) {
  let node = messageNodes.get(key);
  if (!node) {
    node = create();
    messageNodes.set(key, node);
  }
  if (update) update(node);
  return node;
}

function bubbleParts(author, authorName, text, grouped) {
  const showName = author !== "system" && !grouped;
  const bubble = el("div", { class: "msg-bubble" }, el("div", { class: "msg-text", text }));
  const name = showName ? el("div", { class: "msg-author", text: authorName || (author === "client" ? "Client" : "Operator") }) : null;
  return { parts: [name, bubble], bubble };
}

function messageNode(message, grouped) {
  return keyed(messageKey(message), () => el("div", { class: "msg" }), (node) => {
    const author = ["client", "operator", "system"].includes(message.author) ? message.author : "system";
    const at = parseTime(message.at);
    node.dataset.ol = "message";
    node.dataset.author = author;
    node.dataset.id = String(message.id);
    if (message.client_msg_id) node.dataset.clientMsgId = message.client_msg_id;
    delete node.dataset.pending;
    node.className = `msg msg--${author}${grouped ? " msg--grouped" : ""}${message.hidden ? " msg--hidden" : ""}`;
    node.dataset.hidden = message.hidden ? "true" : "false";
    const edits = Array.isArray(message.edits) ? message.edits : [];
    if (unchanged(node, `${message.id}|${grouped}|${message.delivery_status}|${message.delivery_error}|${editStamp(message)}`)) return;
    const { parts, bubble } = bubbleParts(author, message.author_name, String(message.text ?? ""), grouped);
    bubble.append(...attachmentNodes(message.attachments));
    if (at) {
      const stamp = timeFmt.format(at) + (edits.length ? " · edited" : "");
      bubble.append(el("time", { class: "msg-time", datetime: message.at, title: fullFmt.format(at), text: stamp }));
    }
    fill(node, parts, editsNode(edits), receiptNode(message));
  });
}

// A client who changed a message: the operator reads the text meant now, and can still see
// what it said before, which is what an earlier answer may have answered.
function editsNode(edits) {
  if (!edits.length) return null;
  const label = edits.length === 1 ? "Earlier text" : `Earlier texts (${edits.length})`;
  const items = edits.map((e) => {
    const when = parseTime(e.replaced_at);
    return el("li", { class: "msg-edit" },
      el("span", { class: "msg-edit-text", text: String(e.text ?? "") || "(no text)" }),
      when ? el("time", { class: "msg-edit-time", datetime: e.replaced_at, text: `replaced ${fullFmt.format(when)}` }) : null);
  });
  return el("details", { class: "msg-edits", dataset: { ol: "edits" } },
    el("summary", { text: label }), el("ol", { class: "msg-edit-list" }, ...items));
}

// Whether the channel took an operator's message, delivered it, showed it, or failed (and why).
// Of the line's own auto-replies only a failure is shown: the operator then knows the client
// never got the greeting, and why; "Sent" under every greeting would only be noise.
function receiptNode(message) {
  const status = message.delivery_status;
  if (message.hidden || !RECEIPT_LABELS[status]) return null;
  if (message.author !== "operator" && !(message.author === "system" && status === "failed")) return null;
  const text = status === "failed" ? `Failed: ${message.delivery_error || "not delivered"}` : RECEIPT_LABELS[status];
  return el("div", { class: `msg-receipt msg-receipt--${status}`, dataset: { ol: "receipt", status }, text });
}

function pendingNode(p, grouped) {
  return keyed(`c:${p.client_msg_id}`, () => el("div", { class: "msg" }), (node) => {
    node.dataset.ol = "message";
    node.dataset.author = "operator";
    node.dataset.pending = p.state;
    node.dataset.clientMsgId = p.client_msg_id;
    delete node.dataset.id;
    node.className = `msg msg--operator msg--pending${p.state === "failed" ? " msg--failed" : ""}${grouped ? " msg--grouped" : ""}`;
    if (unchanged(node, `pending|${p.state}|${p.error || ""}|${grouped}`)) return;
    const { parts, bubble } = bubbleParts("operator", p.author_name, p.text, grouped);
    bubble.append(el("span", { class: "msg-time msg-time--pending", text: p.state === "failed" ? "Not sent" : "Sending…" }));
    const failure = p.state === "failed" ? el("div", { class: "msg-failure" },
      el("span", { text: p.error || "Not sent." }),
      el("button", { type: "button", class: "link-button", dataset: { ol: "retry" }, onclick: () => retryPending(p.dialog_id, p.client_msg_id), text: "Retry" }),
      el("button", { type: "button", class: "link-button", dataset: { ol: "discard" }, onclick: () => discardPending(p.dialog_id, p.client_msg_id), text: "Discard" }),
    ) : null;
    fill(node, parts, failure);
  });
}
