// Admin views of lines and operators: lines with their routing settings and queue order,
// operators with roles, limits and disabling. Contract: docs/PROTOCOL.md, "Admin: lines and
// operators". console.js calls initAdmin once and refreshAdmin() after every login; managers
// see the views read-only. Every text is set with textContent; nothing is parsed as HTML.

import { api } from "./api.js";
import { $, add, el, fill, toast } from "./dom.js";
import { state } from "./state.js";
import { showScreen } from "./topbar.js";

const MODES = ["evenly", "sequence", "all"];
const RATINGS = ["none", "stars", "like"];
const ROLES = ["operator", "analyst", "manager", "admin"];
const REPLIES = ["greeting", "no_answer", "out_of_hours", "close"];

// The screen's section, what it shows ("lines" or "operators") and the data it shows.
const view = () => $("admin-screen");
const buttons = () => [$("nav-lines"), $("nav-operators")];
let data = { lines: [], operators: [] };
let showing = "lines";

const role = () => (state.me ? state.me.role : "");
const isAdmin = () => role() === "admin";
const opName = (id) => (data.operators.find((o) => o.id === id) || { name: `#${id}` }).name;

/** Wire the Lines and Operators screens to their navigation buttons. */
export function initAdmin() {
  buttons().forEach((button, i) => button.addEventListener("click", () => {
    showing = i === 0 ? "lines" : "operators";
    view().dataset.screen = showing;
    showScreen(view());
    load();
  }));
}

/** Called after every login and logout: admins edit, managers read, operators see nothing. */
export function refreshAdmin() {
  const allowed = role() === "admin" || role() === "manager";
  buttons().forEach((b) => { b.hidden = !allowed; });
  if (!allowed) close();
}

function field(label, input, wide = false) {
  return el("label", { class: wide ? "admin-wide" : "" }, el("span", { text: label }), input);
}

function input(name, value, type = "text") {
  const node = el("input", { name, type });
  node.value = value === undefined || value === null ? "" : String(value);
  node.disabled = !isAdmin();
  return node;
}

function select(name, options, value) {
  const node = el("select", { name }, ...options.map((o) => el("option", { value: o, text: o })));
  node.value = value;
  node.disabled = !isAdmin();
  return node;
}

function area(name, value) {
  const node = el("textarea", { name, rows: 3 });
  node.value = value || "";
  node.disabled = !isAdmin();
  return node;
}

async function load() {
  try {
    data = await api("GET", "/api/admin/lines");
    render(null);
  } catch (err) {
    toast(`Could not load: ${err.reason || err}`);
  }
}

function close() {
  if (!view().hidden) showScreen(null);
}

function render(editing) {
  const title = showing === "lines" ? "Lines" : "Operators";
  const add = isAdmin() ? el("button", { class: "btn btn--primary btn--sm", type: "button", dataset: { ol: "admin-add" }, text: showing === "lines" ? "Add line" : "Add operator", onclick: () => render({}) }) : null;
  const back = el("button", { class: "btn btn--secondary btn--sm", type: "button", text: "Back to dialogs", onclick: close });
  const body = showing === "lines" ? linesTable() : operatorsTable();
  const form = editing ? (showing === "lines" ? lineForm(editing) : operatorForm(editing)) : null;
  view().dataset.screen = showing;
  fill(view(), el("div", { class: "screen-head" }, el("h2", { text: title }), add, back), form, body);
}

function table(heads, rows) {
  return el("div", { class: "table-scroll" }, el("table", { class: "admin-list" },
    el("thead", {}, el("tr", {}, ...heads.map((t) => el("th", { text: t })))), el("tbody", {}, ...rows)));
}

function linesTable() {
  return table(["Name", "Key", "Mode", "Queue", "Channels", "Source", ""], data.lines.map((line) => el("tr", { dataset: { line: String(line.id) } },
    el("td", { text: line.name }), el("td", { text: line.key }), el("td", { text: line.distribution }),
    el("td", { text: line.queue.map(entryName).join(", ") }),
    el("td", { text: line.channels.map((c) => `${c.kind}:${c.key}`).join(", ") }),
    el("td", { text: line.read_only ? "openlines.toml (read-only)" : "console" }),
    el("td", {}, el("button", { class: "btn btn--ghost btn--sm", type: "button", dataset: { ol: "line-edit" }, text: isAdmin() && !line.read_only ? "Edit" : "View", onclick: () => render(line) }),
      el("a", { class: "btn btn--ghost btn--sm", href: `/whatif?line=${line.id}`, dataset: { ol: "line-whatif" }, text: "What if…" })))));
}

function operatorsTable() {
  return table(["Name", "Login", "Role", "Max open", "State", ""], data.operators.map((op) => {
    const toggle = isAdmin() && op.id !== state.me.id ? el("button", {
      class: "btn btn--secondary btn--sm", type: "button", dataset: { ol: "operator-toggle" }, text: op.disabled ? "Enable" : "Disable",
      onclick: () => write("POST", `/api/admin/operators/${op.id}/${op.disabled ? "enable" : "disable"}`),
    }) : null;
    const edit = isAdmin() ? el("button", { class: "btn btn--ghost btn--sm", type: "button", dataset: { ol: "operator-edit" }, text: "Edit", onclick: () => render(op) }) : null;
    return el("tr", { dataset: { operator: String(op.id) } },
      el("td", { text: op.name }), el("td", { text: op.login }), el("td", { text: op.role }),
      el("td", { text: op.max_open_dialogs === null ? "—" : String(op.max_open_dialogs) }),
      el("td", { text: op.disabled ? "Disabled" : op.status }), el("td", {}, edit, " ", toggle));
  }));
}

// A queue entry is an operator or a group of operators (kept and saved as it came).
function entryName(q) {
  if (q.group_id == null) return opName(q.operator_id);
  const group = (data.groups || []).find((g) => g.id === q.group_id);
  return `group: ${group ? group.name : "#" + q.group_id}`;
}

function queueEditor(queue) {
  // Kept as an ordered array; the list is redrawn after every move.
  const items = queue.map((q) => ({ ...q }));
  const list = el("ol", { class: "admin-queue", dataset: { ol: "line-queue" } });
  const pick = el("select", {}, ...data.operators.map((o) => el("option", { value: String(o.id), text: o.name })));
  const draw = () => list.replaceChildren(...items.map((q, i) => {
    const cap = input("cap", q.max_open_dialogs, "number");
    cap.placeholder = "max open";
    cap.classList.add("admin-cap");
    cap.addEventListener("change", () => { q.max_open_dialogs = cap.value ? Number(cap.value) : null; });
    const move = (d) => { const j = i + d; if (j < 0 || j >= items.length) return; [items[i], items[j]] = [items[j], items[i]]; draw(); };
    const btn = (text, fn) => el("button", { class: "btn btn--ghost btn--sm", type: "button", text, disabled: !isAdmin(), onclick: fn });
    return el("li", {}, el("span", { text: entryName(q) }), cap, btn("↑", () => move(-1)), btn("↓", () => move(1)), btn("Remove", () => { items.splice(i, 1); draw(); }));
  }));
  draw();
  const addBtn = el("button", { class: "btn btn--ghost btn--sm", type: "button", text: "Add to queue", disabled: !isAdmin(), onclick: () => {
    const id = Number(pick.value);
    if (id && !items.some((q) => q.operator_id === id)) { items.push({ operator_id: id, max_open_dialogs: null }); draw(); }
  } });
  pick.disabled = !isAdmin();
  return { node: el("div", { class: "admin-wide" }, el("span", { text: "Queue (in order)" }), list, pick, " ", addBtn), items };
}

function lineForm(line) {
  const creating = !line.id;
  const s = line.settings || {};
  const replies = s.auto_replies || {};
  const node = el("form", { class: "admin-form", dataset: { ol: "line-form" }, novalidate: true });
  const f = {
    name: input("name", line.name), key: input("key", line.key), language: input("language", line.language || "en"),
    timezone: input("timezone", line.timezone || "UTC"), distribution: select("distribution", MODES, line.distribution || "evenly"),
    offer_seconds: input("offer_seconds", s.offer_seconds ?? 60, "number"), max_per_operator: input("max_per_operator", s.max_per_operator, "number"),
    rating: select("rating", RATINGS, s.rating || "none"), auto_close_minutes: input("auto_close_minutes", s.auto_close_minutes, "number"),
    long_wait_seconds: input("long_wait_seconds", s.long_wait_seconds ?? 120, "number"),
    schedule: area("schedule", s.schedule ? JSON.stringify(s.schedule, null, 2) : ""),
  };
  f.schedule.placeholder = '{"week": {"mon": ["09:00-18:00"]}, "holidays": ["01.01"]}';
  const texts = Object.fromEntries(REPLIES.map((k) => [k, area(k, replies[k])]));
  const queue = creating ? null : queueEditor(line.queue);
  const error = el("p", { class: "admin-error", role: "alert", dataset: { ol: "line-error" }, hidden: true });
  const readOnly = line.read_only || !isAdmin();
  if (line.read_only) error.textContent = "Defined in openlines.toml: change it in the file.", error.hidden = false;
  const save = el("button", { class: "btn btn--primary btn--sm", type: "submit", dataset: { ol: "line-save" }, text: creating ? "Add" : "Save", hidden: readOnly });
  add(node, field("Name", f.name), field("Key", f.key), field("Language", f.language), field("Time zone", f.timezone),
    field("Distribution", f.distribution), field("Offer time, s (sequence)", f.offer_seconds), field("Max open per operator", f.max_per_operator),
    field("Rating on close", f.rating), field("Auto-close after client silence, min", f.auto_close_minutes),
    field("Long wait in the queue after, s", f.long_wait_seconds),
    field("Working hours (JSON; empty: always open)", f.schedule, true),
    ...REPLIES.map((k) => field(`Auto-reply: ${k.replace(/_/g, " ")}`, texts[k])),
    queue ? queue.node : null,
    el("div", { class: "admin-wide" }, save, " ", el("button", { class: "btn btn--ghost btn--sm", type: "button", text: "Cancel", onclick: () => render(null) }), error));
  node.addEventListener("submit", (event) => {
    event.preventDefault();
    saveLine(line, { s, f, texts, queue, error });
  });
  return node;
}

// The line form's fields as the API wants them; a bad schedule is reported on the form.
async function saveLine(line, { s, f, texts, queue, error }) {
  const creating = !line.id;
  const num = (x) => (x.value.trim() ? Number(x.value) : null);
  const settings = { ...s, offer_seconds: num(f.offer_seconds) ?? 60, max_per_operator: num(f.max_per_operator), rating: f.rating.value, auto_close_minutes: num(f.auto_close_minutes), long_wait_seconds: num(f.long_wait_seconds) ?? 120, auto_replies: Object.fromEntries(REPLIES.map((k) => [k, texts[k].value])) };
  try {
    settings.schedule = f.schedule.value.trim() ? JSON.parse(f.schedule.value) : null;
  } catch (err) {
    error.textContent = `settings.schedule: not valid JSON (${err.message})`;
    error.hidden = false;
    return;
  }
  const body = { name: f.name.value.trim(), key: f.key.value.trim(), language: f.language.value.trim(), timezone: f.timezone.value.trim(), distribution: f.distribution.value, settings };
  error.hidden = true;
  try {
    if (creating) await api("POST", "/api/admin/lines", body);
    else {
      await api("PATCH", `/api/admin/lines/${line.id}`, body);
      await api("PUT", `/api/admin/lines/${line.id}/queue`, { queue: queue.items });
    }
    toast("Saved.");
    await load();
  } catch (err) {
    error.textContent = err.reason || String(err);
    error.hidden = false;
  }
}

function operatorForm(op) {
  const creating = !op.id;
  const node = el("form", { class: "admin-form", dataset: { ol: "operator-form" }, novalidate: true });
  const f = { login: input("login", op.login), name: input("name", op.name), role: select("role", ROLES, op.role || "operator"),
    password: input("password", "", "password"), max_open_dialogs: input("max_open_dialogs", op.max_open_dialogs, "number"),
    email: input("email", op.email, "email") };
  f.login.disabled = !creating;
  f.password.placeholder = creating ? "at least 8 characters" : "unchanged";
  const error = el("p", { class: "admin-error", role: "alert", dataset: { ol: "operator-error" }, hidden: true });
  add(node, field("Login", f.login), field("Name", f.name), field("Role", f.role), field("Password", f.password), field("Max open dialogs (all lines)", f.max_open_dialogs),
    field("Email (weekly digest)", f.email),
    el("div", { class: "admin-wide" }, el("button", { class: "btn btn--primary btn--sm", type: "submit", dataset: { ol: "operator-save" }, text: creating ? "Add" : "Save" }), " ",
      el("button", { class: "btn btn--ghost btn--sm", type: "button", text: "Cancel", onclick: () => render(null) }), error));
  node.addEventListener("submit", async (event) => {
    event.preventDefault();
    const max = f.max_open_dialogs.value.trim();
    const body = { name: f.name.value.trim(), role: f.role.value, email: f.email.value.trim() };
    if (f.password.value) body.password = f.password.value;
    if (creating) Object.assign(body, { login: f.login.value.trim(), max_open_dialogs: max ? Number(max) : null });
    else if (max) body.max_open_dialogs = Number(max);
    else body.clear_max_open_dialogs = true;
    try {
      await api(creating ? "POST" : "PATCH", creating ? "/api/admin/operators" : `/api/admin/operators/${op.id}`, body);
      toast("Saved.");
      await load();
    } catch (err) {
      error.textContent = err.reason || String(err);
      error.hidden = false;
    }
  });
  return node;
}

async function write(method, path) {
  try {
    await api(method, path);
    await load();
  } catch (err) {
    toast(`Could not save: ${err.reason || err}`);
  }
}
