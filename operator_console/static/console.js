// Operator console: plain ES2020 module, no build step.
// Contract: docs/PROTOCOL.md, section "Console". Data from the hub is only ever put into the
// page through textContent / attributes, never parsed as HTML.

import { initRouting } from "./routing.js";

import { showClientCard } from "./crm.js";
import { initChannels } from "./channels.js";
import { initAdmin } from "./admin.js";
import { attachmentNodes, clearAttachments, initFiles, readyAttachments, showChips } from "./files.js";

const RECONNECT_MIN_MS = 1000;
const RECONNECT_MAX_MS = 15000;
// The hub pings every 20 s; two missed pings means the TCP connection is dead even if the
// browser has not noticed yet (laptops waking from sleep, NAT timeouts).
const SOCKET_SILENCE_MS = 45000;
// The backoff starts over only once a connection has lasted a little; a hub that greets and then
// drops us at once (crash loop, proxy limits) keeps getting slower retries.
const STABLE_CONNECTION_MS = 3000;
const MAX_TEXT = 4000;
const CLOSE_FALLBACK_MS = 4000;
// Live frames are held while a snapshot is in flight, so a hung request must not hold them long.
const REQUEST_TIMEOUT_MS = 20000;

const OPEN_STATUSES = new Set(["waiting", "open"]);

const CHANNEL_LABELS = {
  telegram: "Telegram",
  vk: "VK",
  viber: "Viber",
  webchat: "Web chat",
  email: "Email",
};

const STATUS_LABELS = { waiting: "Waiting", open: "Open", closed: "Closed" };
const ROLE_LABELS = { operator: "Operator", manager: "Manager", admin: "Admin" };

// ---------------------------------------------------------------------------------------------
// DOM helpers

const $ = (id) => document.getElementById(id);

// What each reusable node was last rendered from, so unchanged nodes are left alone.
const renderedAs = new WeakMap();
function unchanged(node, signature) {
  if (renderedAs.get(node) === signature) return true;
  renderedAs.set(node, signature);
  return false;
}

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

// Reorders `container` to match `nodes` while moving as few elements as possible, so that
// scroll position, focus and text selection survive live updates.
function reconcileChildren(container, nodes) {
  const wanted = new Set(nodes);
  for (const child of [...container.children]) {
    if (!wanted.has(child)) child.remove();
  }
  let cursor = container.firstElementChild;
  for (const node of nodes) {
    if (node === cursor) {
      cursor = cursor.nextElementSibling;
    } else {
      container.insertBefore(node, cursor);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Formatting

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const weekdayFmt = new Intl.DateTimeFormat(undefined, { weekday: "short" });
const shortDateFmt = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short" });
const longDateFmt = new Intl.DateTimeFormat(undefined, { weekday: "long", day: "numeric", month: "long", year: "numeric" });
const fullFmt = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

function parseTime(iso) {
  if (!iso) return null;
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? null : d;
}

function sameDay(a, b) {
  return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
}

function listTime(iso) {
  const d = parseTime(iso);
  if (!d) return "";
  const now = new Date();
  if (sameDay(d, now)) return timeFmt.format(d);
  if (now - d < 6 * 86400000 && d < now) return weekdayFmt.format(d);
  return shortDateFmt.format(d);
}

function dayLabel(d) {
  const now = new Date();
  if (sameDay(d, now)) return "Today";
  const yesterday = new Date(now);
  yesterday.setDate(now.getDate() - 1);
  if (sameDay(d, yesterday)) return "Yesterday";
  return longDateFmt.format(d);
}

function dayKey(d) {
  return `${d.getFullYear()}-${d.getMonth() + 1}-${d.getDate()}`;
}

function initials(name) {
  // Only words that start with a letter or digit: "Guest #4" gives "G", not "G#".
  const words = String(name || "").trim().split(/\s+/).filter((w) => /^[\p{L}\p{N}]/u.test(w));
  if (words.length === 0) return "?";
  const first = Array.from(words[0])[0] || "";
  const second = words.length > 1 ? Array.from(words[words.length - 1])[0] || "" : "";
  return (first + second).toUpperCase();
}

// A stable hue per name keeps avatars recognisable without adding loud colours.
function avatarHue(seed) {
  // FNV-1a, then a golden-ratio step: seeds that differ in one character land far apart.
  let h = 0x811c9dc5;
  for (const ch of String(seed)) h = Math.imul(h ^ ch.codePointAt(0), 0x01000193) >>> 0;
  return Math.floor(((h * 0.618033988749895) % 1) * 360);
}

function paintAvatar(node, name, seed) {
  node.textContent = initials(name);
  node.style.setProperty("--avatar-hue", String(avatarHue(seed ?? name)));
}

function clientName(dialog) {
  return (dialog.client_name && String(dialog.client_name).trim()) || `Guest #${dialog.id}`;
}

function channelLabel(kind) {
  return CHANNEL_LABELS[kind] || String(kind || "unknown");
}

function previewText(message) {
  if (!message) return "No messages yet";
  const text = String(message.text || "").replace(/\s+/g, " ").trim();
  if (message.author === "operator") return `You: ${text}`.trim();
  return text;
}

// crypto.randomUUID only exists in secure contexts; a console reached over plain http on a LAN
// address still needs idempotency keys that fit the protocol's [A-Za-z0-9_-]{1,64}.
function newClientMsgId() {
  if (window.crypto && typeof window.crypto.randomUUID === "function") return window.crypto.randomUUID();
  const bytes = new Uint8Array(16);
  window.crypto.getRandomValues(bytes);
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

// ---------------------------------------------------------------------------------------------
// REST

class ApiError extends Error {
  constructor(status, reason) {
    super(reason);
    this.status = status;
    this.reason = reason;
  }
}

async function api(method, path, body) {
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), REQUEST_TIMEOUT_MS);
  init.signal = abort.signal;
  let response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    clearTimeout(timer);
    throw new ApiError(0, abort.signal.aborted ? "The server did not answer in time." : "Cannot reach the server. Check your connection.");
  }
  let data = null;
  const type = response.headers.get("Content-Type") || "";
  if (response.status !== 204 && type.includes("json")) {
    try {
      data = await response.json();
    } catch (err) {
      data = null;
    }
  }
  clearTimeout(timer);
  if (!response.ok) {
    const reason = (data && typeof data.error === "string" && data.error) || `${response.status} ${response.statusText || "error"}`.trim();
    const error = new ApiError(response.status, reason);
    // Any endpoint answering 401 means the session is gone; the login call handles its own.
    if (response.status === 401 && path !== "/api/login") onSessionLost();
    throw error;
  }
  return data;
}

// ---------------------------------------------------------------------------------------------
// State

const state = {
  me: null,
  tab: "open",
  dialogs: new Map(), // id -> Dialog
  unread: new Map(), // id -> count of client messages not seen by this page
  selectedId: null,
  // The conversation pane: stored messages by id plus the load generation that guards against
  // a slow GET for a dialog the operator has already left.
  thread: null, // { dialogId, messages: Map<id, Message>, loaded: bool, error: string|null }
  threadGen: 0,
  pending: new Map(), // dialogId -> Map<client_msg_id, Pending>
  drafts: new Map(), // dialogId -> unsent reply text, so switching dialogs loses nothing
  closing: new Set(), // dialog ids with a close request in flight or awaiting the frame
  listLoading: false,
  listError: null,
};

// Every GET that replaces local state with the database's goes through here. Live frames that
// arrive meanwhile are held and replayed afterwards in order, so a snapshot taken before a
// change can never overwrite that change.
let snapshotsInFlight = 0;
let heldFrames = [];

async function snapshot(work) {
  snapshotsInFlight += 1;
  try {
    return await work();
  } finally {
    snapshotsInFlight -= 1;
    if (snapshotsInFlight === 0 && heldFrames.length) {
      const frames = heldFrames;
      heldFrames = [];
      for (const frame of frames) applyFrame(frame);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Screens

function showScreen(name) {
  $("boot").hidden = name !== "boot";
  $("login-view").hidden = name !== "login";
  $("app-view").hidden = name !== "app";
}

function showLogin(message) {
  showScreen("login");
  const err = $("login-error");
  err.textContent = message || "";
  err.hidden = !message;
  const login = document.querySelector('[data-ol="login"]');
  const password = document.querySelector('[data-ol="password"]');
  (login.value ? password : login).focus();
}

function resetSession() {
  socket.stop();
  state.me = null;
  state.dialogs.clear();
  state.unread.clear();
  state.pending.clear();
  state.drafts.clear();
  state.closing.clear();
  state.selectedId = null;
  state.thread = null;
  state.threadGen += 1;
  state.tab = "open";
  listGen += 1; // answers to requests made by the previous session are dropped
  heldFrames = [];
  listItems.clear();
  messageNodes.clear();
  $("dialog-list").replaceChildren();
  $("messages").replaceChildren();
  $("reply").value = "";
  updateTitle();
}

let sessionLost = false;
function onSessionLost() {
  if (!state.me || sessionLost) return;
  sessionLost = true;
  resetSession();
  showLogin("Your session has ended. Please sign in again.");
}

async function enterApp(operator) {
  sessionLost = false;
  state.me = operator;
  renderMe();
  showScreen("app");
  setTab("open", { load: false });
  applyRoute();
  socket.start();
  routing.refresh();
  channels.refresh(); // channels.js: the admin's Channels view
  admin.refresh(); // admin.js: Lines and Operators views
  // The list is loaded here and again on every socket hello; this first load makes the page
  // useful even if the socket is blocked by a proxy.
  await loadDialogs();
}

let routing = null;
let channels = null;
let admin = null;

async function boot() {
  wireEvents();
  routing = initRouting({ api, state, el, toast });
  channels = initChannels({ api, state, el, toast });
  admin = initAdmin({ api, state, el, toast });
  initFiles({ el, selectedId: () => state.selectedId });
  try {
    const data = await api("GET", "/api/me");
    await enterApp(data.operator);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) showLogin("");
    else showLogin(err.reason || String(err));
  }
}

// ---------------------------------------------------------------------------------------------
// Login / logout / presence

async function submitLogin(event) {
  event.preventDefault();
  const loginInput = document.querySelector('[data-ol="login"]');
  const passwordInput = document.querySelector('[data-ol="password"]');
  const button = document.querySelector('[data-ol="login-submit"]');
  const errorLine = $("login-error");
  const login = loginInput.value.trim();
  const password = passwordInput.value;
  if (!login || !password) {
    errorLine.textContent = "Enter your login and password.";
    errorLine.hidden = false;
    (login ? passwordInput : loginInput).focus();
    return;
  }
  button.disabled = true;
  button.textContent = "Signing in…";
  errorLine.hidden = true;
  try {
    const data = await api("POST", "/api/login", { login, password });
    passwordInput.value = "";
    await enterApp(data.operator);
  } catch (err) {
    errorLine.textContent = err.reason || String(err);
    errorLine.hidden = false;
    passwordInput.select();
    passwordInput.focus();
  } finally {
    button.disabled = false;
    button.textContent = "Sign in";
  }
}

async function logout() {
  const button = $("logout");
  button.disabled = true;
  try {
    await api("POST", "/api/logout");
  } catch (err) {
    // The local session is dropped regardless: an operator who asked to leave must not stay in.
  } finally {
    button.disabled = false;
  }
  resetSession();
  history.replaceState(null, "", location.pathname + location.search);
  showLogin("");
}

async function changePresence() {
  const select = $("presence");
  const wanted = select.value;
  const previous = state.me.status;
  renderPresence(wanted);
  select.disabled = true;
  try {
    await api("POST", "/api/presence", { status: wanted });
    state.me.status = wanted;
  } catch (err) {
    renderPresence(previous);
    if (err.status !== 401) toast(`Could not change presence: ${err.reason}`);
  } finally {
    select.disabled = false;
  }
}

function renderMe() {
  const me = state.me;
  $("me-name").textContent = me.name || me.login;
  $("me-role").textContent = ROLE_LABELS[me.role] || me.role || "";
  paintAvatar($("me-avatar"), me.name || me.login, me.login);
  renderPresence(me.status);
}

function renderPresence(status) {
  const value = ["online", "away", "offline"].includes(status) ? status : "offline";
  $("presence").value = value;
  $("presence-wrap").dataset.status = value;
}

// ---------------------------------------------------------------------------------------------
// Dialog list

function dialogActivity(dialog) {
  const at = parseTime(dialog.last_message && dialog.last_message.at) || parseTime(dialog.opened_at);
  return at ? at.getTime() : 0;
}

function inTab(dialog, tab) {
  return tab === "closed" ? dialog.status === "closed" : OPEN_STATUSES.has(dialog.status);
}

// Merges a dialog from the hub into the cache. last_message only moves forward: a dialog frame
// or list snapshot may be older than a message frame we have already applied.
function upsertDialog(incoming) {
  const current = state.dialogs.get(incoming.id);
  const merged = { ...incoming };
  if (current && current.last_message && (!merged.last_message || merged.last_message.id < current.last_message.id)) {
    merged.last_message = current.last_message;
  }
  state.dialogs.set(merged.id, merged);
  return { previous: current, dialog: merged };
}

function mayKeep(dialog) {
  // Non-admins only see their own dialogs; a frame for a dialog transferred to a colleague
  // tells us it left our list. Unassigned (waiting) dialogs offered to us stay.
  if (!state.me || state.me.role === "admin") return true;
  if ((dialog.participants || []).includes(state.me.id)) return true; // invited or joined
  return dialog.operator_id === null || dialog.operator_id === undefined || dialog.operator_id === state.me.id;
}

let listGen = 0;
let latestListLoad = Promise.resolve();
function loadDialogs() {
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

const listItems = new Map(); // dialog id -> <li>

function visibleDialogs() {
  const out = [];
  for (const dialog of state.dialogs.values()) {
    // The selected dialog stays in view after it is closed so the operator keeps their place.
    if (inTab(dialog, state.tab) || dialog.id === state.selectedId) out.push(dialog);
  }
  out.sort((a, b) => dialogActivity(b) - dialogActivity(a) || b.id - a.id);
  return out;
}

function renderList() {
  const list = $("dialog-list");
  const dialogs = visibleDialogs();
  const nodes = dialogs.map((dialog) => {
    let item = listItems.get(dialog.id);
    if (!item) {
      item = createListItem(dialog.id);
      listItems.set(dialog.id, item);
    }
    fillListItem(item, dialog);
    return item;
  });
  for (const [id, item] of listItems) {
    if (!state.dialogs.has(id)) {
      listItems.delete(id);
      item.remove();
    }
  }
  reconcileChildren(list, nodes);

  let openCount = 0;
  for (const d of state.dialogs.values()) if (OPEN_STATUSES.has(d.status)) openCount += 1;
  $("open-count").textContent = openCount ? String(openCount) : "";

  const empty = $("list-empty");
  if (dialogs.length === 0) {
    empty.hidden = false;
    empty.classList.toggle("list-empty--error", Boolean(state.listError));
    if (state.listError) empty.textContent = `Could not load dialogs: ${state.listError}`;
    else if (state.listLoading) empty.textContent = "Loading dialogs…";
    else empty.textContent = state.tab === "closed" ? "No closed dialogs." : "No open dialogs. New conversations will appear here.";
  } else {
    empty.hidden = true;
  }
  updateTitle();
}

function createListItem(id) {
  const button = el("button", { type: "button", class: "dialog-item-button" });
  const item = el("li", { class: "dialog-item", dataset: { ol: "dialog", dialogId: String(id) } }, button);
  button.addEventListener("click", () => selectDialog(id));
  return item;
}

function fillListItem(item, dialog) {
  const unread = state.unread.get(dialog.id) || 0;
  const selected = dialog.id === state.selectedId;
  const lm = dialog.last_message;
  const when = listTime((lm && lm.at) || dialog.opened_at);
  // Every live frame re-renders the list; only items whose visible content changed are rebuilt.
  const signature = JSON.stringify([dialog.status, unread, selected, dialog.client_name, dialog.channel_kind,
    dialog.line_name, lm ? lm.id : null, when]);
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

  const name = el("span", { class: "dialog-name", text: clientName(dialog) });
  const time = el("time", { class: "dialog-time", text: when });
  const preview = el("span", { class: "dialog-preview", dataset: { ol: "preview" }, text: previewText(dialog.last_message) });
  const badge = el("span", { class: "badge badge--channel", dataset: { kind: String(dialog.channel_kind || "") }, text: channelLabel(dialog.channel_kind) });
  const line = el("span", { class: "dialog-line", text: dialog.line_name || "" });
  const status = el("span", { class: `status status--${dialog.status}`, text: STATUS_LABELS[dialog.status] || dialog.status });
  const unreadBadge = unread > 0
    ? el("span", { class: "unread", dataset: { ol: "unread" }, "aria-label": `${unread} unread`, text: unread > 99 ? "99+" : String(unread) })
    : null;

  button.replaceChildren(
    avatar,
    el("span", { class: "dialog-body" },
      el("span", { class: "dialog-row" }, name, time),
      el("span", { class: "dialog-row" }, preview, unreadBadge),
      el("span", { class: "dialog-row dialog-row--meta" }, badge, line, status),
    ),
  );
}

function setTab(tab, { load = true } = {}) {
  state.tab = tab;
  for (const button of document.querySelectorAll(".tab")) {
    button.setAttribute("aria-selected", button.dataset.tab === tab ? "true" : "false");
  }
  renderList();
  if (load) loadDialogs();
}

function updateTitle() {
  let total = 0;
  for (const n of state.unread.values()) total += n;
  document.title = total ? `(${total}) Openlines` : "Openlines";
}

// ---------------------------------------------------------------------------------------------
// Selection and routing: #/dialogs/{id} so reloads and the phone's back button behave.

function routeDialogId() {
  const m = /^#\/dialogs\/(\d+)$/.exec(location.hash);
  return m ? Number(m[1]) : null;
}

function selectDialog(id) {
  const hash = `#/dialogs/${id}`;
  if (location.hash === hash) applyRoute();
  else location.hash = hash;
}

function applyRoute() {
  if (!state.me) return;
  const id = routeDialogId();
  if (id === state.selectedId) {
    $("workspace").dataset.pane = id === null ? "list" : "conversation";
    return;
  }
  openDialog(id);
}

function openDialog(id) {
  const reply = $("reply");
  if (state.selectedId !== null) {
    if (reply.value) state.drafts.set(state.selectedId, reply.value);
    else state.drafts.delete(state.selectedId);
  }
  state.selectedId = id;
  state.threadGen += 1;
  $("workspace").dataset.pane = id === null ? "list" : "conversation";
  hideSendError();
  reply.value = (id !== null && state.drafts.get(id)) || "";
  autosize();
  showChips();
  if (id === null) {
    state.thread = null;
    renderList();
    renderConversation();
    return;
  }
  state.unread.delete(id);
  state.thread = { dialogId: id, messages: new Map(), loaded: false, error: null };
  messageNodes.clear();
  $("messages").replaceChildren();
  renderList();
  renderConversation();
  loadThread({ scroll: "bottom" });
  showClientCard(id, state.me);
  if (window.matchMedia("(min-width: 768px)").matches) $("reply").focus({ preventScroll: true });
}

function loadThread(options) {
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
    for (const m of data.messages || []) addThreadMessage(m);
    thread.loaded = true;
    thread.error = null;
  } catch (err) {
    if (gen !== state.threadGen) return;
    thread.error = err.status === 404 ? "This dialog is not available to you." : err.reason || String(err);
  }
  renderList();
  renderConversation({ scroll });
}

// ---------------------------------------------------------------------------------------------
// Conversation pane

const messageNodes = new Map(); // render key -> element

function pendingFor(dialogId, create = false) {
  let map = state.pending.get(dialogId);
  if (!map && create) {
    map = new Map();
    state.pending.set(dialogId, map);
  }
  return map;
}

function addThreadMessage(message) {
  const thread = state.thread;
  if (!thread || message.dialog_id !== thread.dialogId) return false;
  if (thread.messages.has(message.id)) return false;
  thread.messages.set(message.id, message);
  settlePending(message);
  return true;
}

function settlePending(message) {
  if (!message.client_msg_id) return;
  const map = pendingFor(message.dialog_id);
  if (map && map.delete(message.client_msg_id) && map.size === 0) state.pending.delete(message.dialog_id);
}

// Stored messages that carry a client_msg_id share the render key of their pending copy, so the
// bubble the operator watched being sent turns into the stored one in place.
function messageKey(message) {
  return message.client_msg_id ? `c:${message.client_msg_id}` : `m:${message.id}`;
}

function renderConversation({ scroll } = {}) {
  const id = state.selectedId;
  const dialog = id === null ? null : state.dialogs.get(id);
  $("conv-empty").hidden = id !== null;
  $("conv").hidden = id === null;
  if (id === null) return;

  const thread = state.thread;
  const name = dialog ? clientName(dialog) : `Dialog #${id}`;
  $("conv-name").textContent = name;
  paintAvatar($("conv-avatar"), name, `client-${id}`);
  const meta = $("conv-meta");
  if (dialog) {
    meta.replaceChildren(
      el("span", { class: "badge badge--channel", dataset: { kind: String(dialog.channel_kind || "") }, text: channelLabel(dialog.channel_kind) }),
      el("span", { class: "conv-line", text: dialog.line_name || "" }),
      el("span", { class: `status status--${dialog.status}`, dataset: { ol: "conv-status" }, text: STATUS_LABELS[dialog.status] || dialog.status }),
    );
  } else {
    meta.replaceChildren();
  }
  $("conv").dataset.status = dialog ? dialog.status : "";

  const closed = dialog ? dialog.status === "closed" : false;
  const closeButton = $("close-dialog");
  const closing = state.closing.has(id);
  closeButton.hidden = closed;
  closeButton.disabled = closing || !dialog;
  closeButton.textContent = closing ? "Closing…" : "Close dialog";
  $("composer-closed").hidden = !closed;
  $("reply").disabled = closed || !dialog;
  $("send").disabled = closed || !dialog;
  if (routing) routing.render(dialog); // routing.js: offers, transfer, colleagues, notes, audit

  renderMessages(thread, scroll);
}

function renderMessages(thread, scroll) {
  const box = $("messages");
  const nearBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 80;
  const nodes = [];

  if (thread && thread.error) {
    nodes.push(keyed("state:error", () => el("div", { class: "thread-state thread-state--error" }), (n) => { n.textContent = thread.error; }));
  } else if (thread && !thread.loaded && thread.messages.size === 0) {
    nodes.push(keyed("state:loading", () => el("div", { class: "thread-state", text: "Loading messages…" })));
  }

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
    const grouped = previous && previous.author === item.author && previous.author_name === item.author_name &&
      at - (parseTime(previous.at) || at) < 5 * 60000;
    nodes.push(isPending ? pendingNode(item, grouped) : messageNode(item, grouped));
    previous = item;
  };
  for (const m of messages) push(m, false);
  for (const p of pending) push(p, true);

  if (thread && thread.loaded && messages.length === 0 && pending.length === 0) {
    nodes.push(keyed("state:empty", () => el("div", { class: "thread-state", text: "No messages in this dialog yet." })));
  }

  const live = new Set(nodes);
  for (const [key, node] of messageNodes) if (!live.has(node)) messageNodes.delete(key);
  reconcileChildren(box, nodes);

  if (scroll === "bottom" || nearBottom) box.scrollTop = box.scrollHeight;
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
  const parts = [];
  if (showName) parts.push(el("div", { class: "msg-author", text: authorName || (author === "client" ? "Client" : "Operator") }));
  const bubble = el("div", { class: "msg-bubble" }, el("div", { class: "msg-text", text }));
  parts.push(bubble);
  return { parts, bubble };
}

function messageNode(message, grouped) {
  return keyed(messageKey(message), () => el("div", { class: "msg" }), (node) => {
    const author = ["client", "operator", "system"].includes(message.author) ? message.author : "system";
    const at = parseTime(message.at);
    const signature = `${message.id}|${grouped}`;
    node.dataset.ol = "message";
    node.dataset.author = author;
    node.dataset.id = String(message.id);
    if (message.client_msg_id) node.dataset.clientMsgId = message.client_msg_id;
    delete node.dataset.pending;
    node.className = `msg msg--${author}${grouped ? " msg--grouped" : ""}${message.hidden ? " msg--hidden" : ""}`;
    node.dataset.hidden = message.hidden ? "true" : "false";
    if (unchanged(node, signature)) return;
    const { parts, bubble } = bubbleParts(author, message.author_name, String(message.text ?? ""), grouped);
    bubble.append(...attachmentNodes(el, message.attachments));
    if (at) bubble.append(el("time", { class: "msg-time", datetime: message.at, title: fullFmt.format(at), text: timeFmt.format(at) }));
    node.replaceChildren(...parts);
  });
}

function pendingNode(p, grouped) {
  return keyed(`c:${p.client_msg_id}`, () => el("div", { class: "msg" }), (node) => {
    const signature = `pending|${p.state}|${p.error || ""}|${grouped}`;
    node.dataset.ol = "message";
    node.dataset.author = "operator";
    node.dataset.pending = p.state;
    node.dataset.clientMsgId = p.client_msg_id;
    delete node.dataset.id;
    node.className = `msg msg--operator msg--pending${p.state === "failed" ? " msg--failed" : ""}${grouped ? " msg--grouped" : ""}`;
    if (unchanged(node, signature)) return;
    const { parts, bubble } = bubbleParts("operator", p.author_name, p.text, grouped);
    const label = p.state === "failed" ? "Not sent" : "Sending…";
    bubble.append(el("span", { class: "msg-time msg-time--pending", text: label }));
    if (p.state === "failed") {
      parts.push(el("div", { class: "msg-failure" },
        el("span", { text: p.error || "Not sent." }),
        el("button", { type: "button", class: "link-button", dataset: { ol: "retry" }, onclick: () => retryPending(p.dialog_id, p.client_msg_id), text: "Retry" }),
        el("button", { type: "button", class: "link-button", dataset: { ol: "discard" }, onclick: () => discardPending(p.dialog_id, p.client_msg_id), text: "Discard" }),
      ));
    }
    node.replaceChildren(...parts);
  });
}

// ---------------------------------------------------------------------------------------------
// Sending and closing

function showSendError(text) {
  const line = $("send-error");
  line.textContent = text;
  line.hidden = false;
}

function hideSendError() {
  $("send-error").hidden = true;
  $("send-error").textContent = "";
}

function sendReply() {
  const id = state.selectedId;
  const dialog = id === null ? null : state.dialogs.get(id);
  if (!dialog) return;
  const input = $("reply");
  const text = input.value.replace(/^\s*\n/, "").replace(/\s+$/, "");
  const upload = readyAttachments(id);
  if (upload.busy) {
    showSendError("Wait until the files have uploaded.");
    return;
  }
  if (!text.trim() && !upload.files.length) return;
  if (text.length > MAX_TEXT) {
    showSendError(`The reply is too long (${text.length} of ${MAX_TEXT} characters).`);
    return;
  }
  if (dialog.status === "closed") {
    showSendError("This dialog is closed.");
    return;
  }
  const p = {
    client_msg_id: newClientMsgId(),
    dialog_id: id,
    text,
    author: "operator",
    author_name: state.me.name || state.me.login,
    at: new Date().toISOString(),
    state: "sending",
    error: null,
    attachments: upload.files,
  };
  clearAttachments(id);
  pendingFor(id, true).set(p.client_msg_id, p);
  state.drafts.delete(id);
  input.value = "";
  autosize();
  hideSendError();
  renderConversation({ scroll: "bottom" });
  postPending(p);
}

async function postPending(p) {
  try {
    await api("POST", `/api/dialogs/${p.dialog_id}/messages`, { text: p.text, client_msg_id: p.client_msg_id, attachments: p.attachments || [] });
    // Accepted by the bus; the bubble stays "Sending…" until the stored copy comes back.
    p.state = "sent";
  } catch (err) {
    p.state = "failed";
    p.error = `Not sent: ${err.reason}`;
    if (err.status === 409) {
      // A 409 almost always means the dialog was closed under us; fetch the truth.
      refreshDialog(p.dialog_id);
    }
    if (state.selectedId === p.dialog_id) showSendError(p.error);
  }
  if (state.selectedId === p.dialog_id) renderConversation();
}

function retryPending(dialogId, cmid) {
  const p = (pendingFor(dialogId) || new Map()).get(cmid);
  if (!p) return;
  p.state = "sending";
  p.error = null;
  hideSendError();
  renderConversation();
  // Same client_msg_id: if the first attempt did reach the hub, it is not stored twice.
  postPending(p);
}

function discardPending(dialogId, cmid) {
  const map = pendingFor(dialogId);
  if (map) map.delete(cmid);
  hideSendError();
  renderConversation();
}

function refreshDialog(id) {
  return snapshot(() => fetchDialogInto(id));
}

async function fetchDialogInto(id) {
  try {
    const data = await api("GET", `/api/dialogs/${id}`);
    if (!state.me) return;
    upsertDialog(data.dialog);
    if (state.thread && state.thread.dialogId === id) for (const m of data.messages || []) addThreadMessage(m);
    renderList();
    if (state.selectedId === id) renderConversation();
  } catch (err) {
    // Nothing better to show than what we have; the next socket event or reconnect will fix it.
  }
}

async function closeDialog() {
  const id = state.selectedId;
  if (id === null || state.closing.has(id)) return;
  state.closing.add(id);
  hideSendError();
  renderConversation();
  try {
    await api("POST", `/api/dialogs/${id}/close`);
    // 202: the router closes it and a dialog frame follows; if the frame is lost (socket down),
    // ask the database instead of waiting forever.
    setTimeout(() => {
      const d = state.dialogs.get(id);
      if (state.closing.has(id) && d && d.status !== "closed") refreshDialog(id).then(() => finishClosing(id));
      else finishClosing(id);
    }, CLOSE_FALLBACK_MS);
  } catch (err) {
    state.closing.delete(id);
    if (state.selectedId === id) {
      showSendError(`Could not close the dialog: ${err.reason}`);
      renderConversation();
    }
  }
}

function finishClosing(id) {
  if (!state.closing.delete(id)) return;
  if (state.selectedId === id) renderConversation();
}

// ---------------------------------------------------------------------------------------------
// Operator socket

const socket = {
  ws: null,
  running: false,
  delay: RECONNECT_MIN_MS,
  timer: null,
  watchdog: null,
  lastEventId: null,
  greetedAt: 0,
  resyncing: false,
  gotHello: false,

  start() {
    this.running = true;
    this.delay = RECONNECT_MIN_MS;
    this.connect();
  },

  stop() {
    this.running = false;
    clearTimeout(this.timer);
    clearTimeout(this.watchdog);
    this.timer = null;
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      try { ws.close(1000, "logout"); } catch (err) { /* already closed */ }
    }
    setConn("offline", "Offline");
  },

  connect() {
    clearTimeout(this.timer);
    this.timer = null;
    if (!this.running) return;
    const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/api/ws`;
    setConn("offline", "Connecting…");
    let ws;
    try {
      ws = new WebSocket(url);
    } catch (err) {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    this.gotHello = false;
    this.lastEventId = null;
    ws.onmessage = (event) => {
      if (ws !== this.ws) return;
      this.kick();
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch (err) {
        return;
      }
      if (frame && typeof frame === "object") this.onFrame(frame);
    };
    ws.onclose = () => {
      if (ws !== this.ws) return;
      this.ws = null;
      clearTimeout(this.watchdog);
      if (this.gotHello && Date.now() - this.greetedAt >= STABLE_CONNECTION_MS) this.delay = RECONNECT_MIN_MS;
      this.scheduleReconnect();
      // A close or a refused upgrade says nothing about why; asking /api/me tells an ended
      // session (→ login screen, via the 401 handler) from a network problem (→ keep retrying).
      api("GET", "/api/me").catch(() => {});
    };
    ws.onerror = () => { /* onclose follows and does the work */ };
    this.kick();
  },

  kick() {
    clearTimeout(this.watchdog);
    this.watchdog = setTimeout(() => {
      if (this.ws) {
        const ws = this.ws;
        this.ws = null;
        ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
        try { ws.close(4000, "silent"); } catch (err) { /* ignore */ }
        this.scheduleReconnect();
      }
    }, SOCKET_SILENCE_MS);
  },

  scheduleReconnect() {
    if (!this.running || this.timer) return;
    const delay = this.delay;
    this.delay = Math.min(this.delay * 2, RECONNECT_MAX_MS);
    setConn("offline", `Reconnecting in ${Math.round(delay / 1000)} s`);
    this.timer = setTimeout(() => this.connect(), delay);
  },

  // Skip the wait when the browser tells us the network is back or the tab is looked at again.
  nudge() {
    if (!this.running || this.ws) return;
    this.delay = RECONNECT_MIN_MS;
    this.connect();
  },

  onFrame(frame) {
    if (frame.type === "hello") {
      this.gotHello = true;
      this.greetedAt = Date.now();
      this.lastEventId = Number.isInteger(frame.event_id) ? frame.event_id : null;
      if (frame.operator && state.me && frame.operator.id === state.me.id) {
        state.me = { ...state.me, ...frame.operator };
        renderMe();
      }
      setConn("online", "Live");
      this.resync();
      return;
    }
    if (Number.isInteger(frame.event_id)) {
      // Event ids grow by one per frame; a gap means frames were lost, so the snapshot is
      // the only trustworthy state.
      const gap = this.lastEventId !== null && frame.event_id !== this.lastEventId + 1;
      this.lastEventId = frame.event_id;
      if (gap && !this.resyncing) this.resync();
    }
    if (snapshotsInFlight > 0) heldFrames.push(frame);
    else applyFrame(frame);
  },

  async resync() {
    this.resyncing = true;
    try {
      await snapshot(() => Promise.all([loadDialogs(), state.thread ? loadThread() : null]));
    } finally {
      this.resyncing = false;
    }
  },
};

function setConn(stateName, label) {
  const node = $("conn");
  node.dataset.state = stateName;
  $("conn-label").textContent = label;
  node.title = stateName === "online" ? "Connected: updates arrive live" : "Not connected: updates are paused";
}

function applyFrame(frame) {
  if (!state.me) return;
  if (frame.type === "dialog" && frame.dialog && Number.isInteger(frame.dialog.id)) {
    applyDialogFrame(frame.dialog);
  } else if (frame.type === "message" && frame.message && Number.isInteger(frame.message.id)) {
    applyMessageFrame(frame.message);
  }
  // `ping` needs nothing beyond resetting the watchdog, done on receipt.
}

function applyDialogFrame(incoming) {
  if (!mayKeep(incoming) && incoming.id !== state.selectedId) {
    state.dialogs.delete(incoming.id);
    state.unread.delete(incoming.id);
    renderList();
    return;
  }
  const { dialog } = upsertDialog(incoming);
  if (dialog.status === "closed") state.closing.delete(dialog.id);
  renderList();
  if (dialog.id === state.selectedId) renderConversation();
}

const fetchingUnknown = new Set();

function applyMessageFrame(message) {
  const dialog = state.dialogs.get(message.dialog_id);
  const isNewest = !dialog || !dialog.last_message || message.id > dialog.last_message.id;
  if (dialog && isNewest) dialog.last_message = message;
  if (!dialog && !fetchingUnknown.has(message.dialog_id)) {
    // A message for a dialog we have not heard of (its dialog frame was lost): fetch it.
    fetchingUnknown.add(message.dialog_id);
    api("GET", `/api/dialogs/${message.dialog_id}`)
      .then((data) => { if (mayKeep(data.dialog)) { upsertDialog(data.dialog); renderList(); } })
      .catch(() => {})
      .finally(() => fetchingUnknown.delete(message.dialog_id));
  }

  let scroll;
  const selected = message.dialog_id === state.selectedId;
  if (selected && state.thread) {
    const hadPending = Boolean(message.client_msg_id && (pendingFor(message.dialog_id) || new Map()).has(message.client_msg_id));
    addThreadMessage(message);
    if (hadPending) scroll = "bottom";
  } else {
    settlePending(message);
  }
  // The open dialog counts as read only while someone can actually see it.
  const readNow = selected && document.visibilityState === "visible";
  if (isNewest && message.author === "client" && !readNow) {
    state.unread.set(message.dialog_id, (state.unread.get(message.dialog_id) || 0) + 1);
  }
  renderList();
  if (selected) renderConversation({ scroll });
}

// ---------------------------------------------------------------------------------------------
// Small UI bits

let toastTimer = null;
function toast(text) {
  const node = $("toast");
  node.textContent = text;
  node.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { node.hidden = true; }, 5000);
}

function autosize() {
  const input = $("reply");
  input.style.height = "auto";
  input.style.height = `${Math.min(input.scrollHeight, 200)}px`;
}

function wireEvents() {
  $("login-form").addEventListener("submit", submitLogin);
  $("logout").addEventListener("click", logout);
  $("presence").addEventListener("change", changePresence);
  for (const tab of document.querySelectorAll(".tab")) {
    tab.addEventListener("click", () => { if (tab.dataset.tab !== state.tab) setTab(tab.dataset.tab); });
  }
  $("send").addEventListener("click", () => { sendReply(); $("reply").focus(); });
  $("close-dialog").addEventListener("click", closeDialog);
  $("conv-back").addEventListener("click", () => {
    history.pushState(null, "", location.pathname + location.search);
    applyRoute();
  });
  const reply = $("reply");
  reply.addEventListener("keydown", (event) => {
    // isComposing: Enter confirms an IME candidate (Chinese, Japanese…) and must not send.
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
      event.preventDefault();
      sendReply();
    }
  });
  reply.addEventListener("input", () => { autosize(); if (!$("send-error").hidden) hideSendError(); });
  window.addEventListener("hashchange", applyRoute);
  window.addEventListener("popstate", applyRoute);
  window.addEventListener("online", () => socket.nudge());
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState !== "visible") return;
    socket.nudge();
    // Messages that arrived in the open dialog while the tab was hidden are read now.
    if (state.selectedId !== null && state.unread.delete(state.selectedId)) renderList();
  });
}

boot();
