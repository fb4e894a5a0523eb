// Client coverage: per operator, the clients they are responsible for (key clients first),
// which had a dialog in the period and which were left without one. A client opens its card
// and history in one click; admins and managers mark key clients and hand them over there.

import { api } from "./api.js";
import { historySection, showReadOnlyDialog } from "./client_history.js";
import { el, fill, toast } from "./dom.js";
import { fullFmt, parseTime } from "./format.js";

let generation = 0; // the card shown; a late answer for an older one is dropped

function lastDialog(client) {
  const at = parseTime(client.last_dialog_at);
  return at ? `last dialog ${fullFmt.format(at)}` : "no dialog yet";
}

function clientButton(client, open) {
  return el("li", {},
    el("button", { type: "button", class: "kpi-client", dataset: { ol: "coverage-client", clientId: String(client.client_id), covered: String(client.had_dialog) },
      onclick: () => open(client) },
    el("span", { class: "kpi-client-name", text: client.name || `Client #${client.client_id}` }),
    client.key_client ? el("span", { class: "kpi-key", text: "Key client" }) : null,
    el("span", { class: "kpi-client-meta", text: lastDialog(client) })));
}

function clientList(title, clients, open, kind) {
  return el("section", { class: "kpi-coverage-list", dataset: { ol: `coverage-${kind}` } },
    el("h4", { class: "crm-heading", text: `${title} (${clients.length})` }),
    clients.length ? el("ul", { class: "crm-list", role: "list" }, clients.map((c) => clientButton(c, open)))
      : el("p", { class: "kpi-empty", text: "None." }));
}

function operatorSection(row, open) {
  const summary = `${row.covered} of ${row.total} had a dialog` + (row.key_total ? ` · key clients ${row.key_covered} of ${row.key_total}` : "");
  return el("section", { class: "kpi-card kpi-coverage", dataset: { ol: "coverage-operator", operatorId: String(row.operator_id) } },
    el("header", { class: "kpi-card-head" }, el("h3", { text: row.name }), el("span", { class: "kpi-note", text: summary })),
    row.total ? el("div", { class: "kpi-coverage-lists" },
      clientList("Left without a dialog", row.clients.filter((c) => !c.had_dialog), open, "without"),
      clientList("Had a dialog", row.clients.filter((c) => c.had_dialog), open, "with"))
      : el("p", { class: "kpi-empty", text: "No clients assigned." }));
}

function contacts(card) {
  const values = [card.company, ...card.phones.map((p) => p.value), ...card.emails.map((e) => e.value)].filter(Boolean);
  return values.length ? el("p", { class: "kpi-note", text: values.join(" · ") }) : null;
}

function keyForm(card, people, saved) {
  const key = el("input", { type: "checkbox", dataset: { ol: "coverage-key" } });
  key.checked = Boolean(card.key_client);
  const owner = el("select", { class: "input input--sm", dataset: { ol: "coverage-responsible" } },
    el("option", { value: "", text: "Nobody" }), people.map((p) => el("option", { value: String(p.operator_id), text: p.name })));
  owner.value = card.responsible_id === null ? "" : String(card.responsible_id);
  return el("form", { class: "kpi-key-form", onsubmit: async (event) => {
    event.preventDefault();
    try {
      await api("PUT", `/api/kpi/coverage/clients/${card.id}`, { key_client: key.checked, responsible_id: owner.value ? Number(owner.value) : null });
      toast("Saved.");
      await saved();
    } catch (err) {
      toast(`Not saved: ${err.reason}`);
    }
  } },
  el("label", { class: "kpi-check" }, key, "Key client"),
  el("label", { class: "kpi-inline" }, el("span", { text: "Responsible" }), owner),
  el("button", { type: "submit", class: "btn btn--secondary btn--sm", dataset: { ol: "coverage-save" }, text: "Save" }));
}

/** The coverage of every operator in `data`; clicking a client shows its card in `node`. */
export function coverageView(node, data, me, reload) {
  const supervisor = me.role === "admin" || me.role === "manager";
  const showList = () => fill(node, data.rows.length ? data.rows.map((row) => operatorSection(row, openCard)) : el("p", { class: "kpi-empty", text: "No operators to show." }));
  async function openCard(client) {
    const gen = ++generation;
    const stillShown = () => gen === generation;
    const back = el("button", { type: "button", class: "btn btn--ghost btn--sm", dataset: { ol: "coverage-back" }, text: "Back to coverage", onclick: () => { generation += 1; showList(); } });
    const body = el("div", { class: "kpi-client-card", dataset: { ol: "coverage-card" } }, el("p", { class: "kpi-empty", text: "Loading the client…" }));
    fill(node, back, body);
    try {
      const [answer, history] = await Promise.all([api("GET", `/api/crm/clients/${client.client_id}`), api("GET", `/api/crm/clients/${client.client_id}/dialogs`)]);
      if (!stillShown()) return;
      const card = answer.client;
      const render = () => fill(body,
        el("h3", { class: "kpi-client-title", text: card.name || `Client #${card.id}` }, card.key_client ? el("span", { class: "kpi-key", text: "Key client" }) : null),
        contacts(card),
        supervisor ? keyForm(card, data.rows, reload) : null,
        historySection(history.dialogs, null, (summary) => showReadOnlyDialog(body, card.id, summary, render, stillShown)));
      render();
    } catch (err) {
      if (stillShown()) fill(body, el("p", { class: "admin-error", role: "alert", text: `Could not open the client: ${err.reason}` }));
    }
  }
  showList();
  return node;
}
