// The client panel beside the conversation: contacts, channels, leads, missing required fields
// with inputs, duplicate suggestions with reasons, merge / not-a-duplicate / unmerge. It can be
// collapsed to a rail, and remembers that choice in this browser.
// Contract: docs/PROTOCOL.md, section "CRM". Hub data only ever goes in through textContent.

import { api } from "./api.js";
import { $, el, fill, icon } from "./dom.js";
import { goBack } from "./navigation.js";
import { state } from "./state.js";

const COLLAPSED_KEY = "openlines.clientPanel.collapsed";
const FIELD_LABELS = { name: "Name", phone: "Phone", email: "Email", company: "Company" };
let generation = 0;

function fieldLabel(field) {
  return FIELD_LABELS[field] || String(field).replace(/^custom:/, "");
}

function editFor(field, value) {
  if (field === "phone") return { add_phone: value };
  if (field === "email") return { add_email: value };
  if (field === "name" || field === "company") return { [field]: value };
  return { custom_fields: { [field.replace(/^custom:/, "")]: value } };
}

function section(title, items, ol) {
  if (!items.length) return null;
  return el("section", { class: "crm-section", dataset: ol ? { ol } : null },
    el("h3", { class: "crm-heading", text: title }), el("ul", { class: "crm-list" }, items));
}

function contacts(items) {
  return items.map((c) => el("li", {}, String(c.value ?? ""), c.verified ? el("span", { class: "crm-verified", text: " ✓", title: "Verified" }) : null));
}

function button(label, action, ol, ghost = false) {
  return el("button", { class: `btn btn--sm ${ghost ? "btn--ghost" : "btn--secondary"}`, type: "button", dataset: ol ? { ol } : null, onclick: action, text: label });
}

function missingItems(card, act) {
  return card.missing.map((m) => {
    const input = el("input", { class: "input input--sm", placeholder: fieldLabel(m.field), "aria-label": fieldLabel(m.field), dataset: { ol: `crm-fill-${m.field}` } });
    const save = button("Save", () => act(() => api("PATCH", `/api/crm/clients/${card.id}`, editFor(m.field, input.value))));
    return el("li", { class: "crm-missing" }, el("span", { class: "crm-missing-label", text: `${fieldLabel(m.field)} (+${m.points})` }), el("span", { class: "crm-missing-row" }, input, save));
  });
}

function duplicateItems(card, act) {
  return card.duplicates.map((d) => el("li", { class: "crm-duplicate", dataset: { ol: "crm-duplicate" } },
    el("strong", { text: d.other_name || `#${d.other_id}` }),
    el("ul", { class: "crm-reasons" }, d.reasons.map((r) => el("li", { text: r }))),
    button("Merge", () => act(() => api("POST", "/api/crm/merges", { client_id: card.id, other_id: d.other_id }))),
    button("Not a duplicate", () => act(() => api("POST", "/api/crm/not-duplicates", { client_id: card.id, other_id: d.other_id })), null, true)));
}

function mergeItems(card, act) {
  const isAdmin = state.me && state.me.role === "admin";
  return card.merges.filter((m) => !m.undone && m.main_id === card.id).map((m) => el("li", {},
    `Merged #${m.dup_id}${m.reason ? ` (${m.reason})` : ""} `,
    isAdmin ? button("Undo merge", () => act(() => api("POST", `/api/crm/merges/${m.id}/undo`)), "crm-unmerge", true) : null));
}

function render(card, reload) {
  const status = el("p", { class: "crm-status", role: "status" });
  const act = async (work) => {
    status.textContent = "";
    try {
      await work();
      await reload();
    } catch (err) {
      status.textContent = err.reason || String(err);
    }
  };
  fill($("crm-card"),
    el("h3", { class: "crm-name", dataset: { ol: "crm-name" }, text: card.name || `Client #${card.id}` }),
    card.company ? el("p", { class: "crm-company", text: card.company }) : null,
    section("Phones", contacts(card.phones)),
    section("Emails", contacts(card.emails)),
    section("Channels", card.identities.map((i) => el("li", { text: [i.channel_kind, i.name || i.channel].filter(Boolean).join(": ") }))),
    section("Leads", card.leads.map((l) => el("li", { text: [l.title || `Lead #${l.id}`, l.status].filter(Boolean).join(" · ") }))),
    section("Missing fields", missingItems(card, act), "crm-missing"),
    section("Possible duplicates", duplicateItems(card, act)),
    section("Merges", mergeItems(card, act)),
    status,
  );
}

/** Show the card of the client of dialog `dialogId`; null shows the panel's empty state. */
export async function showClientCard(dialogId) {
  const gen = ++generation;
  const body = $("crm-card");
  if (dialogId === null) {
    fill(body, el("p", { class: "crm-empty", text: "Open a dialog to see its client." }));
    return;
  }
  fill(body, el("p", { class: "crm-empty", text: "Loading the client…" }));
  const reload = async () => {
    const data = await api("GET", `/api/crm/dialogs/${dialogId}/client`);
    if (gen === generation) render(data.client, reload);
  };
  try {
    await reload();
  } catch (err) {
    if (gen === generation) fill(body, el("p", { class: "crm-status", text: err.reason || String(err) }));
  }
}

function storedCollapsed() {
  try {
    return localStorage.getItem(COLLAPSED_KEY) === "true";
  } catch (err) {
    return false; // storage blocked: the panel starts open
  }
}

function setCollapsed(collapsed, remember = true) {
  $("workspace").dataset.panel = collapsed ? "collapsed" : "open";
  const toggle = $("panel-toggle");
  toggle.setAttribute("aria-expanded", String(!collapsed));
  toggle.setAttribute("aria-label", collapsed ? "Show the client panel" : "Hide the client panel");
  toggle.title = toggle.getAttribute("aria-label");
  fill(toggle, icon(collapsed ? "panelOpen" : "panelClose"));
  if (!remember) return;
  try {
    localStorage.setItem(COLLAPSED_KEY, String(collapsed));
  } catch (err) {
    // Storage blocked: the choice lasts for this page only.
  }
}

/** Wire the panel's collapse toggle and its phone back button; restore the stored choice. */
export function initClientPanel() {
  setCollapsed(storedCollapsed(), false);
  $("panel-toggle").addEventListener("click", () => setCollapsed($("workspace").dataset.panel !== "collapsed"));
  $("panel-back").addEventListener("click", goBack);
  showClientCard(null);
}
