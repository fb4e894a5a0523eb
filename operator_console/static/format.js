// How the console words and dates things: times, day separators, initials, avatar hues,
// channel and status labels. Pure functions of their arguments (and of today's date).

const CHANNEL_LABELS = { telegram: "Telegram", vk: "VK", viber: "Viber", webchat: "Web chat", email: "Email" };

/** Status of a dialog as operators read it. */
export const STATUS_LABELS = { waiting: "Waiting", open: "Open", closed: "Closed" };
/** Role of an operator as operators read it. */
export const ROLE_LABELS = { operator: "Operator", manager: "Manager", analyst: "Analyst", admin: "Admin" };

/** Hours and minutes, in the browser's locale. */
export const timeFmt = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const weekdayFmt = new Intl.DateTimeFormat(undefined, { weekday: "short" });
const shortDateFmt = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short" });
const longDateFmt = new Intl.DateTimeFormat(undefined, { weekday: "long", day: "numeric", month: "long", year: "numeric" });
/** Date and time for tooltips. */
export const fullFmt = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

/** The Date of an ISO string, or null. */
export function parseTime(iso) {
  if (!iso) return null;
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? null : d;
}

function sameDay(a, b) {
  return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
}

const listTimes = new Map(); // ISO string -> its label, for the minute of listTimesAt
let listTimesAt = -1;

/**
 * The short time shown in the dialog list: today's time, this week's weekday, or a date. Kept
 * for the minute: the list asks for every dialog's at each drawing, and each would otherwise
 * parse the date again and format it in the browser's locale.
 */
export function listTime(iso) {
  const minute = Math.floor(Date.now() / 60000);
  if (minute !== listTimesAt) {
    listTimes.clear();
    listTimesAt = minute;
  }
  let label = listTimes.get(iso);
  if (label === undefined) {
    label = formatListTime(iso);
    listTimes.set(iso, label);
  }
  return label;
}

function formatListTime(iso) {
  const d = parseTime(iso);
  if (!d) return "";
  const now = new Date();
  if (sameDay(d, now)) return timeFmt.format(d);
  if (now - d < 6 * 86400000 && d < now) return weekdayFmt.format(d);
  return shortDateFmt.format(d);
}

/** The label of a day separator in the conversation. */
export function dayLabel(d) {
  const now = new Date();
  if (sameDay(d, now)) return "Today";
  const yesterday = new Date(now);
  yesterday.setDate(now.getDate() - 1);
  if (sameDay(d, yesterday)) return "Yesterday";
  return longDateFmt.format(d);
}

/** A key equal for two dates of the same local day. */
export function dayKey(d) {
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

/** Initials of `name` on a hue derived from `seed` (the name when no seed is given). */
export function paintAvatar(node, name, seed) {
  node.textContent = initials(name);
  node.style.setProperty("--avatar-hue", String(avatarHue(seed ?? name)));
}

/** The client's name as the dialog carries it, or "Guest #id". */
export function clientName(dialog) {
  return (dialog.client_name && String(dialog.client_name).trim()) || `Guest #${dialog.id}`;
}

/** A channel kind as people call it. */
export function channelLabel(kind) {
  return CHANNEL_LABELS[kind] || String(kind || "unknown");
}

/** One line of a message for the dialog list. */
export function previewText(message, myName = null) {
  if (!message) return "No messages yet";
  const text = String(message.text || "").replace(/\s+/g, " ").trim();
  if (message.author !== "operator") return text;
  // A colleague's reply (before a transfer, or by an invited colleague) is theirs, not yours.
  const who = myName === null || message.author_name === myName ? "You" : message.author_name;
  return `${who}: ${text}`.trim();
}

// crypto.randomUUID only exists in secure contexts; a console reached over plain http on a LAN
// address still needs idempotency keys that fit the protocol's [A-Za-z0-9_-]{1,64}.
/** A fresh idempotency key for a reply. */
/** Which version of a client's message this is: "" for one never edited, else when its
 * latest earlier text was replaced and the text now. */
export function editStamp(message) {
  const edits = Array.isArray(message.edits) ? message.edits : [];
  return edits.length ? `${edits[edits.length - 1].replaced_at}|${message.text}` : "";
}

export function newClientMsgId() {
  if (window.crypto && typeof window.crypto.randomUUID === "function") return window.crypto.randomUUID();
  const bytes = new Uint8Array(16);
  window.crypto.getRandomValues(bytes);
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
