// Admin views of lines and operators: lines with their settings, working hours, queue and CRM
// rules (line_form.js, line_crm.js), operators with roles, limits and disabling, and groups of
// operators (admin_groups.js). Contract: docs/PROTOCOL.md, "Admin: lines and operators".
// console.js calls initAdmin once and refreshAdmin() after every login; managers see the views
// read-only. Every text is set with textContent; nothing is parsed as HTML.

import { api } from "./api.js";
import { $, add, el, fill, toast } from "./dom.js";
import { state } from "./state.js";
import { showScreen } from "./topbar.js";
import { choice as select, clearErrors, field, input, isAdmin, showErrors } from "./admin_fields.js";
import { groupsSection } from "./admin_groups.js";
import { lineCrm } from "./line_crm.js";
import { lineForm } from "./line_form.js";

const ROLES = ["operator", "analyst", "manager", "admin"];

// The screen's section, what it shows ("lines" or "operators") and the data it shows.
const view = () => $("admin-screen");
const buttons = () => [$("nav-lines"), $("nav-operators")];
let data = { lines: [], operators: [], groups: [] };
let showing = "lines";

const role = () => (state.me ? state.me.role : "");
const opName = (id) => (data.operators.find((o) => o.id === id) || { name: `#${id}` }).name;

/** Wire the Lines and Operators screens to their navigation buttons. */
export function initAdmin() {
  buttons().forEach((button, i) => button.addEventListener("click", () => {
    showing = i === 0 ? "lines" : "operators";
    view().dataset.screen = showing;
    showScreen(view());
    // The other screen's buttons must not stay clickable while this one loads.
    fill(view(), el("p", { class: "admin-help", text: "Loading…" }));
    load();
  }));
}

/** Called after every login and logout: admins edit, managers read, operators see nothing. */
export function refreshAdmin() {
  const allowed = role() === "admin" || role() === "manager";
  buttons().forEach((b) => { b.hidden = !allowed; });
  if (!allowed) close();
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
  const form = editing ? (showing === "lines" ? editLine(editing) : operatorForm(editing)) : null;
  view().dataset.screen = showing;
  fill(view(), el("div", { class: "screen-head" }, el("h2", { text: title }), add, back), form, body);
  if (editing) form.scrollIntoView({ block: "start", behavior: "instant" });
  if (showing === "operators") groupsSection(data.operators).then((groups) => { if (view().dataset.screen === "operators") view().append(groups); });
}

// The line form, and for a saved line its CRM rules under it.
function editLine(line) {
  const form = lineForm(line, data, { done: load, cancel: () => render(null) });
  if (!line.id) return form;
  const crm = el("div", { class: "admin-wide" });
  lineCrm(line.id, data).then((node) => crm.replaceChildren(node)).catch((err) => toast(`Could not load the CRM rules: ${err.reason || err}`));
  return el("div", { dataset: { ol: "line-editor" } }, form, crm);
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

function operatorForm(op) {
  const creating = !op.id;
  const node = el("form", { class: "admin-form", dataset: { ol: "operator-form" }, novalidate: true });
  const f = { login: input("login", op.login), name: input("name", op.name), role: select("role", ROLES, op.role || "operator"),
    password: input("password", "", "password"), max_open_dialogs: input("max_open_dialogs", op.max_open_dialogs, "number"),
    email: input("email", op.email, "email") };
  f.login.disabled = !creating || !isAdmin();
  f.password.placeholder = creating ? "at least 8 characters" : "unchanged";
  const error = el("p", { class: "admin-error", role: "alert", dataset: { ol: "operator-error" }, hidden: true });
  add(node, field("Login", f.login, { path: "login", help: "What they sign in with; it cannot change later." }),
    field("Name", f.name, { path: "name", help: "Shown to colleagues and, on some channels, to clients." }),
    field("Role", f.role, { path: "role", help: "Operators answer, managers also supervise their lines, analysts only read statistics, admins set everything up." }),
    field("Password", f.password, { path: "password", help: creating ? "At least 8 characters." : "Leave empty to keep the password." }),
    field("Max open dialogs (all lines)", f.max_open_dialogs, { path: "max_open_dialogs", help: "They get no new dialog while they hold this many. Empty: no limit." }),
    field("Email (weekly digest)", f.email, { path: "email", help: "Where their weekly figures go. Empty: no digest." }),
    el("div", { class: "admin-wide admin-actions" }, el("button", { class: "btn btn--primary btn--sm", type: "submit", dataset: { ol: "operator-save" }, text: creating ? "Add" : "Save" }), " ",
      el("button", { class: "btn btn--ghost btn--sm", type: "button", text: "Cancel", onclick: () => render(null) }), error));
  node.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(node);
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
      showErrors(node, err, error);
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
