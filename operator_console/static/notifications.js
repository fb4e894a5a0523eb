// Notifications: a short tone and a desktop notification for a new dialog, an offer, a message
// in a dialog that is not open, and a reminder about a client waiting for an answer; the count
// of the operator's dialogs with unread messages in the page title. Each kind can be switched
// off; the choice is kept in this browser per operator (localStorage). New dialogs and messages
// are announced only where this operator answers: a supervisor's list shows every dialog of the
// hub, and a tone for each of their messages would never stop on a busy hub.

import { $, el, toast } from "./dom.js";
import { clientName } from "./format.js";
import { state } from "./state.js";

const KINDS = {
  dialog: "New dialogs",
  offer: "Offers",
  message: "Messages in other dialogs",
  reminder: "Clients waiting for an answer",
};
const DEFAULTS = { sound: true, desktop: true, dialog: true, offer: true, message: true, reminder: true };
const BASE_TITLE = "Openlines";

let audio = null;
// A burst of messages rings once: tones laid over each other are noise to the operator, and a
// busy operator's tab spent two fifths of its script making them.
const CHIME_GAP_S = 1;
let chimedAt = -Infinity;
let choices = null; // { key, value }: this operator's choices, read from localStorage once
// The message a new dialog was announced with: its own message frame follows and is not news.
const announcedWith = new Map(); // dialog id -> message id

function settingsKey() {
  return `openlines.notify.${state.me ? state.me.id : 0}`;
}

/**
 * Whether this operator answers in `dialog`: theirs, nobody's yet, or one they were invited
 * into or joined (not one a supervisor only looks on).
 */
export function answersIn(dialog) {
  if (!dialog || !state.me) return false;
  if ((dialog.participants || []).includes(state.me.id)) return true;
  return dialog.operator_id === null || dialog.operator_id === undefined || dialog.operator_id === state.me.id;
}

/** This operator's notification choices; every frame asks, so they are read once. */
export function notifySettings() {
  const key = settingsKey();
  if (!choices || choices.key !== key) {
    let value;
    try {
      value = { ...DEFAULTS, ...JSON.parse(localStorage.getItem(key) || "{}") };
    } catch (err) {
      value = { ...DEFAULTS };
    }
    choices = { key, value };
  }
  return choices.value;
}

function saveSetting(name, on) {
  const key = settingsKey();
  choices = { key, value: { ...notifySettings(), [name]: on } };
  try { localStorage.setItem(key, JSON.stringify(choices.value)); } catch (err) { /* private mode */ }
}

// The operator's other tabs change the same choices.
window.addEventListener("storage", (event) => {
  if (choices && event.key === choices.key) choices = null;
});

/**
 * How many dialogs this operator answers in have client messages this page has not shown. A
 * supervisor's list marks every dialog's unread messages, but the title, seen from other tabs,
 * counts only what waits for them: on a busy hub every dialog of the others has some.
 */
export function unreadDialogCount() {
  let count = 0;
  for (const [id, n] of state.unread) if (n > 0 && answersIn(state.dialogs.get(id))) count += 1;
  return count;
}

/** The page title: the number of the operator's dialogs with unread messages, then the product. */
export function unreadTitle(base = BASE_TITLE) {
  const count = unreadDialogCount();
  return count ? `(${count}) ${base}` : base;
}

// Browsers start audio and ask for permissions only in answer to a user gesture.
function onFirstGesture() {
  document.removeEventListener("pointerdown", onFirstGesture, true);
  document.removeEventListener("keydown", onFirstGesture, true);
  const Ctx = window.AudioContext || window.webkitAudioContext;
  if (Ctx && !audio) audio = new Ctx();
  if (audio && audio.state === "suspended") audio.resume().catch(() => {});
  askPermissionOnce();
}

function askPermissionOnce() {
  if (!("Notification" in window) || Notification.permission !== "default") return;
  if (!notifySettings().desktop) return;
  const asked = "openlines.notify.asked";
  if (localStorage.getItem(asked)) return;
  localStorage.setItem(asked, "1");
  Notification.requestPermission().catch(() => {});
}

/** A short two-note chime made on the spot (no audio file is needed); once for a burst. */
export function chime() {
  if (!audio || audio.state !== "running") return false;
  const now = audio.currentTime;
  if (now - chimedAt < CHIME_GAP_S) return false;
  chimedAt = now;
  [[880, 0], [1320, 0.12]].forEach(([freq, at]) => {
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.type = "sine";
    osc.frequency.value = freq;
    gain.gain.setValueAtTime(0.0001, now + at);
    gain.gain.exponentialRampToValueAtTime(0.2, now + at + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, now + at + 0.18);
    osc.connect(gain).connect(audio.destination);
    osc.start(now + at);
    osc.stop(now + at + 0.2);
  });
  return true;
}

function notify(kind, title, body, dialogId) {
  const choice = notifySettings();
  if (!choice[kind]) return;
  if (choice.sound) chime();
  const away = document.visibilityState !== "visible" || !document.hasFocus();
  if (choice.desktop && away && "Notification" in window && Notification.permission === "granted") {
    const shown = new Notification(title, { body, tag: `openlines-${kind}-${dialogId}` });
    shown.onclick = () => { window.focus(); location.hash = `#/dialogs/${dialogId}`; shown.close(); };
  }
}

/**
 * Look at a live frame before it is applied (the state still holds what was known before) and
 * notify about what is new to this operator.
 */
export function notifyFrame(frame) {
  if (!state.me) return;
  if (frame.type === "dialog" && frame.dialog) {
    const incoming = frame.dialog;
    const known = state.dialogs.get(incoming.id);
    const offered = (incoming.offered_to || []).includes(state.me.id);
    const wasOffered = Boolean(known && (known.offered_to || []).includes(state.me.id));
    if (offered && !wasOffered) {
      notify("offer", "Dialog offered to you", clientName(incoming), incoming.id);
    } else if (!known && incoming.status !== "closed" && answersIn(incoming)) {
      notify("dialog", "New dialog", clientName(incoming), incoming.id);
    }
    if (!known && incoming.last_message) announcedWith.set(incoming.id, incoming.last_message.id);
  } else if (frame.type === "message" && frame.message) {
    const m = frame.message;
    const open = m.dialog_id === state.selectedId && document.visibilityState === "visible";
    // A client's edit is the same message again: announced when it came.
    const edit = Array.isArray(m.edits) && m.edits.length > 0;
    const fresh = !edit && !(state.thread && state.thread.messages.has(m.id)) && announcedWith.get(m.dialog_id) !== m.id;
    announcedWith.delete(m.dialog_id);
    if (m.author === "client" && !open && fresh && answersIn(state.dialogs.get(m.dialog_id))) {
      notify("message", clientName(state.dialogs.get(m.dialog_id)), String(m.text || "").slice(0, 120), m.dialog_id);
    }
  } else if (frame.type === "reminder") {
    const who = frame.client_name || `dialog #${frame.dialog_id}`;
    const text = `${who} has waited ${frame.waited_minutes} min for an answer`;
    notify("reminder", "A client is waiting", text, frame.dialog_id);
    toast(text);
  }
}

function settingsPanel() {
  const choice = notifySettings();
  const row = (name, label) => el("label", { class: "notify-option" },
    el("input", { type: "checkbox", dataset: { ol: `notify-${name}` }, checked: Boolean(choice[name]),
      onchange: (event) => { saveSetting(name, event.target.checked); if (name === "desktop") askPermissionOnce(); } }),
    el("span", { text: label }));
  return el("div", { class: "notify-panel", id: "notify-panel", dataset: { ol: "notify-panel" }, role: "group", "aria-label": "Notifications", hidden: true },
    row("sound", "Sound"), row("desktop", "Desktop notifications"),
    el("div", { class: "notify-sep", role: "separator" }),
    ...Object.entries(KINDS).map(([name, label]) => row(name, label)));
}

const BELL = '<svg viewBox="0 0 20 20" width="18" height="18" aria-hidden="true"><path d="M10 3a4.5 4.5 0 0 0-4.5 4.5V11L4 13.5h12L14.5 11V7.5A4.5 4.5 0 0 0 10 3zM8 15.5a2 2 0 0 0 4 0" fill="none" stroke="currentColor" stroke-width="1.6" stroke-linejoin="round"/></svg>';

const PHONE = "(max-width: 480px)";

function togglePanel(button, wrap) {
  const old = $("notify-panel");
  if (old) { old.remove(); button.setAttribute("aria-expanded", "false"); return; }
  const panel = settingsPanel();
  panel.hidden = false;
  panel.addEventListener("keydown", (event) => {
    if (event.key === "Escape") { panel.remove(); button.setAttribute("aria-expanded", "false"); button.focus(); }
  });
  // On a phone the top bar has no room for a bell: the switches open from the screens menu,
  // as a sheet under the top bar.
  (window.matchMedia(PHONE).matches ? document.body : wrap).append(panel);
  button.setAttribute("aria-expanded", "true");
}

/** Put the notification switches in the top bar (the screens menu on a phone) and listen for
 * the first gesture. */
export function wireNotifications() {
  document.addEventListener("pointerdown", onFirstGesture, true);
  document.addEventListener("keydown", onFirstGesture, true);
  if ($("notify-toggle")) return;
  const button = el("button", { class: "btn btn--ghost btn--sm notify-toggle", type: "button", id: "notify-toggle",
    dataset: { ol: "notify-toggle" }, "aria-expanded": "false", "aria-controls": "notify-panel", title: "Notifications" });
  button.innerHTML = BELL; // a constant icon, no data from the hub
  button.append(el("span", { class: "sr-only", text: "Notifications" }));
  const wrap = el("div", { class: "notify" }, button);
  button.addEventListener("click", () => togglePanel(button, wrap));
  $("presence-wrap").before(wrap);
  const item = el("button", { class: "nav-button notify-nav", type: "button", dataset: { ol: "notify-nav" },
    "aria-controls": "notify-panel", text: "Notifications" });
  item.addEventListener("click", () => {
    if ($("topnav").dataset.open === "true") $("nav-toggle").click();
    togglePanel(item, wrap);
  });
  $("topnav").append(item);
}

wireNotifications();
