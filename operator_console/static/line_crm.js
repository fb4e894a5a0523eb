// A line's CRM rules: which client fields operators must fill in and the points each earns,
// and completeness checks that hand the clients still missing a field to operators as fill-in
// tasks, with how far each operator has got. Contract: docs/PROTOCOL.md, "CRM".

import { api } from "./api.js";
import { el, toast } from "./dom.js";
import { button, clearErrors, errorSlot, field, input, isAdmin, numberOf, showErrors, tick } from "./admin_fields.js";

const LABELS = { name: "Name", phone: "Phone", email: "Email", company: "Company" };

function requiredForm(lineId, rules) {
  const rows = [];
  const list = el("div", { class: "admin-grid" });
  const addRow = (name, points, builtin) => {
    const on = tick(`req-${name}`, points !== null);
    const score = input(`points-${name}`, points ?? 0, "number", { min: 0, max: 1000, "aria-label": `Points for ${LABELS[name] || name}` });
    score.classList.add("admin-cap");
    const key = builtin ? null : input("custom-key", name.replace(/^custom:/, ""), "text", { "aria-label": "Custom field key", placeholder: "field key" });
    const row = { name, on, score, key };
    rows.push(row);
    const label = builtin ? el("span", { text: LABELS[name] }) : key;
    list.append(el("div", { class: "admin-field", dataset: { field: `fields.${name}`, ol: "required-field" } },
      el("div", { class: "admin-control crm-rule" }, on, label, score, el("span", { text: "points" })), errorSlot()));
  };
  for (const name of rules.builtin_fields) addRow(name, name in rules.fields ? rules.fields[name] : null, true);
  for (const [name, points] of Object.entries(rules.fields)) if (name.startsWith("custom:")) addRow(name, points, false);
  const form = el("form", { class: "admin-form", dataset: { ol: "required-form" }, novalidate: true });
  const error = el("p", { class: "admin-error", role: "alert", dataset: { ol: "required-error" }, hidden: true });
  const save = button("Save required fields", null, { kind: "primary", ol: "required-save", type: "submit" });
  form.append(el("fieldset", { class: "admin-section admin-wide" }, el("legend", { text: "Required client fields" }),
    el("small", { class: "admin-help", text: "Operators are asked to fill these in; each filled field earns its points once per client." }),
    list, el("div", { class: "admin-actions" }, button("Add a custom field", () => addRow("custom:", 5, false), { ol: "required-add-custom" }), save, error)));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const fields = {};
    for (const row of rows) {
      if (!row.on.checked) continue;
      const name = row.key ? `custom:${row.key.value.trim()}` : row.name;
      fields[name] = numberOf(row.score) ?? 0;
    }
    try {
      await api("PUT", `/api/crm/lines/${lineId}/required`, { fields });
      toast("Saved.");
    } catch (err) {
      showErrors(form, err, error);
    }
  });
  return form;
}

function progressTable(checks, names) {
  if (!checks.length) return el("p", { class: "admin-help", text: "No check has been run on this line yet." });
  return el("div", { class: "table-scroll" }, el("table", { class: "admin-list", dataset: { ol: "check-list" } },
    el("thead", {}, el("tr", {}, el("th", { text: "Check" }), el("th", { text: "Fill-in tasks, done of given" }))),
    el("tbody", {}, ...checks.map((c) => el("tr", { dataset: { ol: "check" } },
      el("td", { text: `#${c.check_id}, ${new Date(c.created_at).toLocaleString()}` }),
      el("td", { text: c.operators.length ? c.operators.map((o) => `${names(o.operator_id)}: ${o.done} of ${o.total}`).join("; ") : "Every client is complete." }))))));
}

function checksPanel(lineId, data) {
  const names = (id) => (data.operators.find((o) => o.id === id) || { name: `#${id}` }).name;
  const people = data.operators.filter((o) => o.role !== "analyst" && !o.disabled);
  const picks = people.map((o) => ({ id: o.id, box: tick(`check-${o.id}`, false) }));
  const table = el("div");
  const error = errorSlot();
  const reload = async () => {
    try {
      table.replaceChildren(progressTable((await api("GET", `/api/crm/lines/${lineId}/checks`)).checks, names));
    } catch (err) {
      table.replaceChildren(el("p", { class: "admin-error", text: err.reason || String(err) }));
    }
  };
  const run = button("Run a completeness check", async () => {
    error.hidden = true;
    try {
      await api("POST", `/api/crm/lines/${lineId}/checks`, { operator_ids: picks.filter((p) => p.box.checked).map((p) => p.id) });
      toast("Check started: the tasks are with the operators.");
      await reload();
    } catch (err) {
      error.textContent = err.reason || String(err);
      error.hidden = false;
    }
  }, { kind: "primary", ol: "check-run" });
  reload();
  return el("div", { class: "admin-form" }, el("fieldset", { class: "admin-section admin-wide", dataset: { ol: "checks" } }, el("legend", { text: "Completeness checks and fill-in tasks" }),
    el("small", { class: "admin-help", text: "A check lists this line's clients missing a required field and gives each to an operator as a fill-in task. Nobody ticked: each client's responsible." }),
    field("Give the tasks to", el("div", { class: "check-people" }, ...picks.map((p) => el("label", { class: "admin-field--check" }, p.box, el("span", { text: names(p.id) })))), { wide: true }),
    el("div", { class: "admin-actions" }, isAdmin() ? run : null, error), table));
}

/** The CRM rules and checks of line `lineId`, loaded from the hub. */
export async function lineCrm(lineId, data) {
  const rules = await api("GET", `/api/crm/lines/${lineId}/required`);
  return el("section", { class: "line-crm", dataset: { ol: "line-crm" } }, el("h3", { text: "CRM rules of this line" }),
    requiredForm(lineId, rules), checksPanel(lineId, data));
}
