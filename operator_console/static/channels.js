// Admin view of the channel accounts (Telegram bots, VK communities, Viber bots, mailboxes and
// web chats): list, add, edit, disable and enable. Contract: docs/PROTOCOL.md, section "Admin: channels".
// console.js calls initChannels once and refreshChannels() after every login; the view exists
// for admins only. Every text is set with textContent; nothing from the server is parsed as HTML.

import { api } from "./api.js";
import { addressLines, checkSummary, healthCell, platformPanel } from "./channel_health.js";
import { $, add, el, fill, toast } from "./dom.js";
import { state } from "./state.js";
import { showScreen } from "./topbar.js";

const KIND_LABELS = { telegram: "Telegram", vk: "VK", viber: "Viber", email: "Email", webchat: "Web chat" };

// The config fields of each kind, as the connectors' config models define them. Secrets come
// back masked; a secret input left empty keeps the stored value. Besides text: `number`,
// `options` (a select; `bool` turns "true"/"false" into booleans), `list` (comma-separated),
// `json` (objects and arrays, e.g. email routing rules) and `nullable` (empty sends null).
const FIELDS = {
  telegram: [
    { name: "token", label: "Bot token", secret: true },
    { name: "mode", label: "Updates by", options: ["webhook", "polling"] },
    { name: "webhook_secret", label: "Webhook secret (empty: the hub makes one)", secret: true },
    { name: "poll_timeout", label: "Long-poll timeout, s", number: true },
    { name: "goodbye", label: "Goodbye text", long: true },
  ],
  vk: [
    { name: "group_id", label: "Community id", number: true },
    { name: "token", label: "Community token", secret: true },
    { name: "mode", label: "Events by", options: ["callback", "longpoll"] },
    { name: "confirmation", label: "Callback confirmation code" },
    { name: "secret", label: "Callback secret key", secret: true },
    { name: "poll_wait", label: "Long-poll wait, s", number: true },
    { name: "goodbye", label: "Goodbye text", long: true },
  ],
  viber: [
    { name: "token", label: "Auth token", secret: true },
    { name: "sender_name", label: "Sender name" },
    { name: "sender_avatar", label: "Sender avatar URL" },
    { name: "greeting", label: "Greeting", long: true },
    { name: "goodbye", label: "Goodbye text", long: true },
  ],
  email: [
    { name: "imap_host", label: "IMAP host" },
    { name: "imap_port", label: "IMAP port", number: true },
    { name: "imap_tls", label: "IMAP TLS", options: ["ssl", "none"] },
    { name: "login", label: "IMAP login" },
    { name: "password", label: "IMAP password", secret: true },
    { name: "mailboxes", label: "Folders (comma-separated)", list: true },
    { name: "idle", label: "Use IMAP IDLE", options: ["true", "false"], bool: true },
    { name: "idle_seconds", label: "IDLE re-issue, s", number: true },
    { name: "poll_seconds", label: "Poll every, s", number: true },
    { name: "smtp_host", label: "SMTP host" },
    { name: "smtp_port", label: "SMTP port", number: true },
    { name: "smtp_tls", label: "SMTP TLS", options: ["starttls", "ssl", "none"] },
    { name: "smtp_login", label: "SMTP login (empty: none)", nullable: true },
    { name: "smtp_password", label: "SMTP password (empty: IMAP's)", secret: true },
    { name: "from_address", label: "From address" },
    { name: "from_name", label: "From name" },
    { name: "signature", label: "Signature", long: true },
    { name: "rules", label: "Routing rules (JSON list)", json: true },
    { name: "lines", label: "Per-line styles (JSON by line id)", json: true },
  ],
  webchat: [
    // Lets the site vouch for its logged-in users (docs/PROTOCOL.md, "Signed site identity").
    { name: "site_secret", label: "Site secret (signs user identities)", secret: true },
    { name: "prechat", label: "Ask name, email and phone before the chat", options: ["false", "true"], bool: true },
    { name: "forms", label: "Forms beside the chat: callback, contact", list: true },
    { name: "upload_max_mb", label: "Largest file a visitor may send, MiB (0: none)", number: true },
    { name: "upload_types", label: "File types visitors may send", list: true },
  ],
};


// The screen's section and the accounts, lines and kinds it shows.
const view = () => $("channels-screen");
let data = { channels: [], lines: [], kinds: [] };
let formOpen = false;
const REFRESH_MS = 10000;

/** Wire the Channels screen to its navigation button; while it shows (and no form is open)
 * the list is re-read every few seconds, so a channel's health stays current. */
export function initChannels() {
  $("nav-channels").addEventListener("click", () => {
    showScreen(view());
    load();
  });
  setInterval(() => {
    if (!view().hidden && !formOpen && isAdmin()) load(true);
  }, REFRESH_MS);
}

/** Called after every login and logout: the view is the admin's only. */
export function refreshChannels() {
  $("nav-channels").hidden = !isAdmin();
  if (!isAdmin()) close();
}

function isAdmin() {
  return Boolean(state.me && state.me.role === "admin");
}

async function load(quiet = false) {
  try {
    data = await api("GET", "/api/admin/channels");
    if (!(quiet && formOpen)) render(null);
  } catch (err) {
    if (!quiet) toast(`Could not load channels: ${err.reason || err}`);
  }
}

function close() {
  if (!view().hidden) showScreen(null);
}

function render(editing) {
  formOpen = Boolean(editing);
  const add = el("button", { class: "btn btn--primary btn--sm", type: "button", dataset: { ol: "channels-add" }, text: "Add account", onclick: () => render({}) });
  const back = el("button", { class: "btn btn--secondary btn--sm", type: "button", text: "Back to dialogs", onclick: close });
  const rows = data.channels.map((channel) => row(channel));
  const table = el("table", { class: "channels-list", dataset: { ol: "channels-list" } },
    el("thead", {}, el("tr", {}, ...["Kind", "Name", "Key", "Line", "Address", "State", ""].map((t) => el("th", { text: t })))),
    el("tbody", {}, ...rows));
  const empty = data.channels.length ? null : el("p", { text: "No channel accounts yet." });
  fill(view(),
    el("div", { class: "screen-head" }, el("h2", { text: "Channels" }), add, back),
    editing ? form(editing) : null, el("div", { class: "table-scroll" }, table), empty);
}

function lineName(id) {
  const line = data.lines.find((l) => l.id === id);
  return line ? line.name : `#${id}`;
}

function row(channel) {
  const toggle = el("button", {
    class: "btn btn--secondary btn--sm", type: "button", dataset: { ol: "channel-toggle" },
    text: channel.enabled ? "Disable" : "Enable",
    onclick: () => write("POST", `/api/admin/channels/${channel.id}/${channel.enabled ? "disable" : "enable"}`),
  });
  const edit = el("button", { class: "btn btn--ghost btn--sm", type: "button", dataset: { ol: "channel-edit" }, text: "Edit", onclick: () => render(channel) });
  return el("tr", { class: channel.enabled ? "" : "channels-off", dataset: { channel: String(channel.id) } },
    el("td", { class: "channel-kind", text: KIND_LABELS[channel.kind] || channel.kind }),
    el("td", { class: "channel-name", text: channel.name }),
    el("td", { dataset: { label: "Key" }, text: channel.key }),
    el("td", { dataset: { label: "Line" }, text: lineName(channel.line_id) }),
    el("td", { class: "channel-address", dataset: { label: "Address" } }, ...address(channel)),
    el("td", { class: "channel-state", dataset: { label: "State" } }, ...healthCell(channel)),
    el("td", {}, edit, " ", toggle));
}

// Where the channel is reached: a webhook path, a mailbox, or a web chat's page and snippet.
function address(channel) {
  if (channel.kind === "webchat") {
    return [
      el("a", { href: channel.chat_url, target: "_blank", rel: "noopener", dataset: { ol: "channel-chat-link" }, text: channel.chat_url }),
      el("code", { class: "channels-embed", dataset: { ol: "channel-embed" }, title: "Paste into the site's HTML", text: channel.embed }),
    ];
  }
  if (channel.kind === "email") return [(channel.config && channel.config.from_address) || ""];
  return addressLines(channel);
}

// A stored value as its input shows it.
function shown(spec, value) {
  if (value === undefined || value === null) return "";
  if (spec.list) return value.join(", ");
  if (spec.json) return JSON.stringify(value, null, 2);
  return String(value);
}

// An input's text as the config wants it; undefined leaves the field out of the body.
function parsed(spec, value, creating) {
  if (spec.number) return value ? Number(value) : undefined;
  if (spec.bool) return value === "true";
  if (spec.list) {
    const items = value.split(",").map((v) => v.trim()).filter(Boolean);
    return items.length || !creating ? items : undefined;
  }
  if (spec.json) {
    if (!value) return creating ? undefined : (spec.name === "lines" ? {} : []);
    try {
      return JSON.parse(value);
    } catch {
      throw new Error(`config.${spec.name}: not valid JSON`);
    }
  }
  if (spec.nullable && !value) return null;
  return value || !creating ? value : undefined;
}

function input(spec, value) {
  if (spec.options) {
    const select = el("select", { name: spec.name }, ...spec.options.map((o) => el("option", { value: o, text: o })));
    if (value !== undefined && value !== null) select.value = String(value);
    return select;
  }
  if (spec.long || spec.json) {
    const area = el("textarea", { name: spec.name, rows: spec.json ? 3 : 2 });
    area.value = shown(spec, value);
    return area;
  }
  const props = { name: spec.name, type: spec.number ? "number" : (spec.secret ? "password" : "text"), autocomplete: "off" };
  const node = el("input", props);
  // A stored secret is only shown masked, as a hint; the input itself stays empty.
  if (spec.secret) node.placeholder = value ? `${value} (unchanged)` : "";
  else node.value = shown(spec, value);
  return node;
}

function form(channel) {
  const creating = !channel.id;
  const node = el("form", { class: "channels-form", dataset: { ol: "channel-form" }, novalidate: true });
  const kind = el("select", { name: "kind", disabled: !creating }, ...data.kinds.map((k) => el("option", { value: k, text: KIND_LABELS[k] || k })));
  kind.value = channel.kind || data.kinds[0] || "telegram";
  const name = el("input", { name: "name", required: true });
  name.value = channel.name || "";
  const key = el("input", { name: "key", required: true, pattern: "[A-Za-z0-9_-]{1,64}" });
  key.value = channel.key || "";
  const line = el("select", { name: "line_id" }, ...data.lines.map((l) => el("option", { value: String(l.id), text: l.name })));
  if (channel.line_id) line.value = String(channel.line_id);
  const fields = el("div", { class: "form-contents" });
  const error = el("p", { class: "channels-error", role: "alert", dataset: { ol: "channel-error" }, hidden: true });
  const fillFields = () => {
    const config = channel.config || {};
    fields.replaceChildren(...(FIELDS[kind.value] || []).map((spec) => el("label", {}, el("span", { text: spec.label }), input(spec, config[spec.name]))));
    if (channel.embed) add(fields, el("label", {}, el("span", { text: "Embed snippet" }), el("code", { class: "channels-embed", text: channel.embed })));
  };
  kind.addEventListener("change", fillFields);
  fillFields();
  const save = el("button", { class: "btn btn--primary btn--sm", type: "submit", dataset: { ol: "channel-save" }, text: creating ? "Add" : "Save" });
  const cancel = el("button", { class: "btn btn--ghost btn--sm", type: "button", text: "Cancel", onclick: () => render(null) });
  add(node,
    el("label", {}, el("span", { text: "Kind" }), kind),
    el("label", {}, el("span", { text: "Name" }), name),
    el("label", {}, el("span", { text: "Key (webhook path, chat address)" }), key),
    el("label", {}, el("span", { text: "Line" }), line),
    fields,
    creating ? null : platformPanel(channel),
    el("div", { class: "channels-actions" }, save, cancel, error));
  node.addEventListener("submit", (event) => {
    event.preventDefault();
    saveChannel(channel, node, { kind, name, key, line, save, error });
  });
  return node;
}

// The form's config fields as the connector's config wants them; errors show on the form.
async function saveChannel(channel, node, { kind, name, key, line, save, error }) {
  const creating = !channel.id;
  const config = {};
  save.disabled = true;
  error.hidden = true;
  try {
    for (const spec of FIELDS[kind.value] || []) {
      const value = node.elements[spec.name].value.trim();
      if (spec.secret && !value && !creating) continue; // keep the stored secret
      const out = parsed(spec, value, creating);
      if (out !== undefined) config[spec.name] = out;
    }
    const body = { name: name.value.trim(), key: key.value.trim(), line_id: Number(line.value), config };
    if (creating) body.kind = kind.value;
    await write(creating ? "POST" : "PATCH", creating ? "/api/admin/channels" : `/api/admin/channels/${channel.id}`, body, true);
  } catch (err) {
    error.textContent = err.reason || err.message || String(err);
    error.hidden = false;
  } finally {
    save.disabled = false;
  }
}

async function write(method, path, body, rethrow = false) {
  try {
    const answer = await api(method, path, body);
    toast(`Saved. Connectors pick the change up within seconds.${checkSummary(answer && answer.check)}`);
    await load();
  } catch (err) {
    if (rethrow) throw err;
    toast(`Could not save: ${err.reason || err}`);
  }
}
