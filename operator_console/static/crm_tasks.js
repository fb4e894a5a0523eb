// The signed-in operator's fill-in tasks: clients a completeness check gave them whose
// required CRM fields are still empty, with what is missing. A task leaves the list by itself
// once the client's card has those fields (the hub reads them afresh on every load); filling
// one earns the field's points. Contract: docs/PROTOCOL.md, "CRM" (GET /api/crm/tasks).

import { el } from "./dom.js";

const LABELS = { name: "name", phone: "phone", email: "email", company: "company" };
const label = (field) => LABELS[field] || field.replace(/^custom:/, "");

/** The list of `tasks` (from GET /api/crm/tasks). */
export function tasksView(tasks) {
  if (!tasks.length) return el("p", { class: "kpi-empty", dataset: { ol: "tasks-empty" }, text: "No fill-in tasks: every client you were given is complete." });
  return el("div", { class: "table-scroll" }, el("table", { class: "admin-list", dataset: { ol: "tasks" } },
    el("thead", {}, el("tr", {}, el("th", { text: "Client" }), el("th", { text: "Still missing" }))),
    el("tbody", {}, ...tasks.map((t) => el("tr", { dataset: { ol: "task", client: String(t.client_id) } },
      el("td", { text: t.client_name || `Client #${t.client_id}` }),
      el("td", { text: t.missing.map(label).join(", ") }))))));
}
