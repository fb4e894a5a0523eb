// The operator socket: live dialog and message frames from the hub, with a watchdog, backoff
// and a resync from the database after every (re)connect or gap in event ids.

import { api } from "./api.js";
import { addThreadMessage, loadThread, moveDeliveryStatus, renderConversation, settlePending, showVisitorTyping } from "./conversation.js";
import { applyDeliveryFrame } from "./integrations.js";
import { applyLoadFrame, resyncLoad } from "./load_screen.js";
import { notifyFrame } from "./notifications.js";
import { loadDialogs, mayKeep, renderListSoon, upsertDialog } from "./dialog_list.js";
import { toast } from "./dom.js";
import { clearRoute } from "./navigation.js";
import { takeAnswer, useSocket } from "./reply_channel.js";
import { pendingFor, deliverFrame, setFrameSink, snapshot, state } from "./state.js";
import { renderMe, setConn } from "./topbar.js";

const RECONNECT_MIN_MS = 1000;
const RECONNECT_MAX_MS = 15000;
// The hub pings every 20 s; two missed pings means the TCP connection is dead even if the
// browser has not noticed yet (laptops waking from sleep, NAT timeouts).
const SOCKET_SILENCE_MS = 45000;
// The backoff starts over only once a connection has lasted a little; a hub that greets and then
// drops us at once (crash loop, proxy limits) keeps getting slower retries.
const STABLE_CONNECTION_MS = 3000;
// Activity (for the hub's auto-away) is reported at most this often: presence changes in minutes.
const ACTIVITY_EVERY_MS = 60000;

function detach(ws, code, reason) {
  ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
  try { ws.close(code, reason); } catch (err) { /* already closed */ }
}

/** The console's one socket to the hub. */
export const socket = {
  ws: null,
  running: false,
  delay: RECONNECT_MIN_MS,
  timer: null,
  watchdog: null,
  heardAt: 0,
  lastEventId: null,
  greetedAt: 0,
  resyncing: false,
  gotHello: false,

  lastActivity: 0,

  /** Tell the hub the operator is using the console (throttled). */
  reportActivity() {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN || Date.now() - this.lastActivity < ACTIVITY_EVERY_MS) return;
    this.lastActivity = Date.now();
    ws.send(JSON.stringify({ type: "activity" }));
  },

  start() {
    this.running = true;
    this.delay = RECONNECT_MIN_MS;
    this.connect();
  },

  stop() {
    this.running = false;
    clearTimeout(this.timer);
    this.stopWatchdog();
    this.timer = null;
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      useSocket(null);
      detach(ws, 1000, "logout");
    }
    setConn("offline", "Offline");
  },

  connect() {
    clearTimeout(this.timer);
    this.timer = null;
    if (!this.running) return;
    // The last events-stream id seen lets the hub replay what this tab missed while away.
    // In lists: a busy hub sends a batch's frames as one message, one task here instead of many.
    const after = this.lastStreamId ? `&after=${encodeURIComponent(this.lastStreamId)}` : "";
    const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/api/ws?batch=1${after}`;
    setConn("offline", "Connecting…");
    let ws;
    try {
      ws = new WebSocket(url);
    } catch (err) {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    useSocket(null);
    this.gotHello = false;
    this.lastEventId = null;
    ws.onmessage = (event) => this.onMessage(ws, event);
    ws.onclose = () => this.onClose(ws);
    ws.onerror = () => { /* onclose follows and does the work */ };
    this.kick();
  },

  onMessage(ws, event) {
    if (ws !== this.ws) return;
    this.kick();
    let frames;
    try {
      frames = JSON.parse(event.data);
    } catch (err) {
      return;
    }
    if (!Array.isArray(frames)) frames = [frames];
    for (const frame of frames) {
      // A frame may end this socket (a hello for another role reloads the page).
      if (ws !== this.ws) return;
      if (frame && typeof frame === "object") this.onFrame(frame);
    }
  },

  onClose(ws) {
    if (ws !== this.ws) return;
    this.ws = null;
    useSocket(null);
    this.stopWatchdog();
    if (this.gotHello && Date.now() - this.greetedAt >= STABLE_CONNECTION_MS) this.delay = RECONNECT_MIN_MS;
    this.scheduleReconnect();
    // A close or a refused upgrade says nothing about why; asking /api/me tells an ended
    // session (→ login screen, via the 401 handler) from a network problem (→ keep retrying).
    api("GET", "/api/me").catch(() => {});
  },

  // Every frame counts as a sign of life. A busy hub sends hundreds a second: each notes the
  // time, and the one timer, when it fires, looks at how long the socket has really been quiet.
  kick() {
    this.heardAt = performance.now();
    if (this.watchdog === null) this.watchdog = setTimeout(() => this.checkSilence(), SOCKET_SILENCE_MS);
  },

  checkSilence() {
    this.watchdog = null;
    if (!this.ws) return;
    const quiet = performance.now() - this.heardAt;
    if (quiet < SOCKET_SILENCE_MS) {
      this.watchdog = setTimeout(() => this.checkSilence(), SOCKET_SILENCE_MS - quiet);
      return;
    }
    const ws = this.ws;
    this.ws = null;
    useSocket(null);
    detach(ws, 4000, "silent");
    this.scheduleReconnect();
  },

  stopWatchdog() {
    clearTimeout(this.watchdog);
    this.watchdog = null;
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
        if (frame.operator.role && state.me.role && frame.operator.role !== state.me.role) {
          // An admin changed this operator's role (the hub closed the last socket with 4003):
          // the screens drawn so far follow the old one, so the page starts again.
          window.location.reload();
          return;
        }
        state.me = { ...state.me, ...frame.operator };
        renderMe();
      }
      setConn("online", "Live");
      useSocket(this.ws);
      this.lastActivity = 0;
      this.resync();
      return;
    }
    if (typeof frame.stream_id === "string") this.lastStreamId = frame.stream_id;
    if (Number.isInteger(frame.event_id)) {
      // Event ids grow by one per frame; a gap means frames were lost, so the snapshot is
      // the only trustworthy state.
      const gap = this.lastEventId !== null && frame.event_id !== this.lastEventId + 1;
      this.lastEventId = frame.event_id;
      if (gap && !this.resyncing) this.resync();
    }
    // Not held with the live frames while a snapshot is read: the reply box waits for it.
    if (takeAnswer(frame)) return;
    deliverFrame(frame);
  },

  async resync() {
    this.resyncing = true;
    try {
      resyncLoad();
      await snapshot(() => Promise.all([loadDialogs(), state.thread ? loadThread() : null]));
    } finally {
      this.resyncing = false;
    }
  },
};

function applyFrame(frame) {
  if (!state.me) return;
  notifyFrame(frame);
  if (frame.type === "typing" && Number.isInteger(frame.dialog_id)) showVisitorTyping(frame.dialog_id);
  else if (frame.type === "dialog" && frame.dialog && Number.isInteger(frame.dialog.id)) {
    applyDialogFrame(frame.dialog, frame.gone === true);
  } else if (frame.type === "message" && frame.message && Number.isInteger(frame.message.id)) {
    applyMessageFrame(frame.message);
  } else if (frame.type === "delivery" && Array.isArray(frame.changes)) {
    applyStatusFrame(frame.changes);
  } else if (frame.type === "load") {
    applyLoadFrame(frame);
  } else if (frame.type === "webhook_delivery" && Number.isInteger(frame.webhook_id)) {
    applyDeliveryFrame(frame);
  } else if (frame.type === "presence" && frame.operator_id === state.me.id) {
    // The router's decision (a grace that ran out, an admin, another tab), not our wish.
    state.me = { ...state.me, status: frame.status };
    renderMe();
  }
  // `ping` needs nothing beyond resetting the watchdog, done on receipt.
}

setFrameSink(applyFrame);

for (const type of ["keydown", "pointerdown"]) {
  document.addEventListener(type, () => socket.reportActivity(), { passive: true, capture: true });
}

function applyDialogFrame(incoming, gone) {
  if (gone || !mayKeep(incoming)) {
    // Transferred or taken by a colleague: it leaves this list, and if it was open here the
    // console goes back to the list (replying to it would be refused anyway).
    state.dialogs.delete(incoming.id);
    state.unread.delete(incoming.id);
    renderListSoon();
    if (incoming.id === state.selectedId) {
      toast(`${incoming.client_name || "The dialog"} went to a colleague`);
      clearRoute();
      window.dispatchEvent(new HashChangeEvent("hashchange"));
    }
    return;
  }
  const { previous, dialog } = upsertDialog(incoming);
  if (dialog.status === "closed") state.closing.delete(dialog.id);
  // A dialog new to this list (a new client, an offer, a transfer to us) waits on a client
  // message nobody here has read: it counts in the badges until it is opened. The message frame
  // that follows names the same message, so it is counted once.
  const lm = dialog.last_message;
  if (!previous && dialog.status !== "closed" && lm && lm.author === "client" && dialog.id !== state.selectedId) {
    state.unread.set(dialog.id, Math.max(state.unread.get(dialog.id) || 0, 1));
  }
  // Frames about a change (a transfer, an offer passed on) carry no message; a dialog new to
  // this list needs its preview from the database.
  if (!previous && !lm) fetchUnknownDialog(dialog.id);
  renderListSoon();
  if (dialog.id === state.selectedId) renderConversation();
}

const fetchingUnknown = new Set();

// A message for a dialog we have not heard of (its dialog frame was lost): fetch the dialog.
function fetchUnknownDialog(id) {
  if (fetchingUnknown.has(id)) return;
  fetchingUnknown.add(id);
  api("GET", `/api/dialogs/${id}`)
    .then((data) => { if (mayKeep(data.dialog)) { upsertDialog(data.dialog); renderListSoon(); } })
    .catch(() => {})
    .finally(() => fetchingUnknown.delete(id));
}

/** Delivery statuses that moved: only the open conversation shows them, and nothing else is
 * drawn again (a busy hub sends one of these for every few replies). */
function applyStatusFrame(changes) {
  let moved = false;
  for (const change of changes) {
    if (change && Number.isInteger(change.id)) moved = moveDeliveryStatus(change) || moved;
  }
  if (moved) renderConversation({});
}

function applyMessageFrame(message) {
  const dialog = state.dialogs.get(message.dialog_id);
  const isNewest = !dialog || !dialog.last_message || message.id > dialog.last_message.id;
  // The preview shows the conversation: the line's greeting after the client's question is
  // not what the operator needs to see in the list.
  if (dialog && isNewest && message.author !== "system") dialog.last_message = message;
  // A client's edit of the message the list previews: the preview shows the new text.
  else if (dialog && dialog.last_message && dialog.last_message.id === message.id) dialog.last_message = message;
  if (!dialog) fetchUnknownDialog(message.dialog_id);
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
  renderListSoon();
  if (selected) renderConversation({ scroll });
}
