// The client panel beside the conversation: the client's contacts (editable, each refusal
// shown next to its field), identities on every channel, leads, missing required fields with
// their points, earlier dialogs opened read only, duplicate suggestions with reasons, merge /
// not-a-duplicate / unmerge. It can be collapsed to a rail, and remembers that choice in this
// browser. Contract: docs/PROTOCOL.md, section "CRM". Hub data only ever goes in through
// textContent.

import { api } from "./api.js";
import { historySection, showReadOnlyDialog } from "./client_history.js";
import { $, el, fill, icon } from "./dom.js";
import { goBack } from "./navigation.js";
import { state } from "./state.js";

const COLLAPSED_KEY = "openlines.clientPanel.collapsed";
const FIELD_LABELS = { name: "Name", phone: "Phone", email: "Email", company: "Company" };
const LEAD_STATUS = { new: "New", in_work: "In work", won: "Won", lost: "Lost" };
let generation = 0;
let notice = "";

function fieldLabel(field) {
  return FIELD_LABELS[field] || String(field).replace(/^custom:/, "");
}

function section(title, items, ol) {
  if (!items.length) return null;
  return el("section", { class: "crm-section", dataset: ol ? { ol } : null },
    el("h3", { class: "crm-heading", text: title }), el("ul", { class: "crm-list" }, items));
}

function button(label, action, ol, ghost = false) {
  return el("button", { class: `btn btn--sm ${ghost ? "btn--ghost" : "btn--secondary"}`, type: "button", dataset: ol ? { ol } : null, onclick: action, text: label });
}

/**
 * One editable value: an input with Save (and Remove when `remove` is given). `save` gets the
 * trimmed text and sends the edit; a refusal is shown as a sentence under this field only.
 */
function fieldForm({ label, value = "", placeholder = "", type = "text", ol, inputOl, save, remove, verified, autocomplete }) {
  const input = el("input", { class: "input input--sm", type, value, placeholder, "aria-label": label, autocomplete: autocomplete || "off", dataset: { ol: inputOl } });
  const error = el("p", { class: "crm-field-error", role: "alert", dataset: { ol: "crm-error" } });
  const run = async (work) => {
    error.textContent = "";
    input.removeAttribute("aria-invalid");
    try {
      await work();
    } catch (err) {
      error.textContent = err.reason || String(err);
      input.setAttribute("aria-invalid", "true");
      input.focus();
    }
  };
  const saveButton = el("button", { class: "btn btn--sm btn--secondary", type: "submit", text: value ? "Save" : "Add" });
  const removeButton = remove ? el("button", { class: "btn btn--sm btn--ghost", type: "button", text: "Remove", "aria-label": `Remove ${value}`, onclick: () => run(remove) }) : null;
  // A stored contact offers Remove until its text is changed, then Save: one button at a
  // time leaves the number room to be read whole in a narrow panel.
  const toggle = () => {
    if (!removeButton) return;
    const changed = input.value.trim() !== value;
    saveButton.hidden = !changed;
    removeButton.hidden = changed;
  };
  input.addEventListener("input", toggle);
  toggle();
  const form = el("form", { class: "crm-field", dataset: { ol }, novalidate: true,
    onsubmit: (event) => { event.preventDefault(); run(() => save(input.value.trim())); } },
  el("span", { class: "crm-field-row" },
    input,
    verified ? el("span", { class: "crm-verified", title: "Verified by the channel", "aria-label": "Verified", text: "✓" }) : null,
    saveButton, removeButton),
  error);
  return form;
}

function labelled(title, ...forms) {
  return el("div", { class: "crm-field-group" }, el("span", { class: "crm-field-label", text: title }), forms);
}

function contactForms(card, kind, edit) {
  const key = kind === "phone" ? "phones" : "emails";
  const type = kind === "phone" ? "tel" : "email";
  const existing = card[key].map((c) => fieldForm({
    label: fieldLabel(kind), value: String(c.value ?? ""), type, ol: `crm-${kind}`, inputOl: `crm-input-${kind}`, verified: c.verified,
    save: (v) => (v === c.value ? Promise.resolve() : edit({ [`remove_${kind}`]: c.value, ...(v ? { [`add_${kind}`]: v } : {}) })),
    remove: () => edit({ [`remove_${kind}`]: c.value }),
  }));
  const add = fieldForm({
    label: `Add ${kind === "phone" ? "a phone" : "an email"}`, type, ol: `crm-add-${kind}`, inputOl: `crm-input-add-${kind}`,
    placeholder: kind === "phone" ? "+7 916 123-45-67" : "name@example.com",
    save: (v) => (v ? edit({ [`add_${kind}`]: v }) : Promise.resolve()),
  });
  return labelled(kind === "phone" ? "Phones" : "Emails", existing, add);
}

function contactsSection(card, edit) {
  return el("section", { class: "crm-section", dataset: { ol: "crm-contacts" } },
    el("h3", { class: "crm-heading", text: "Contacts" }),
    labelled("Name", fieldForm({ label: "Name", value: card.name_generated ? "" : card.name, placeholder: "Not given yet", ol: "crm-edit-name", inputOl: "crm-input-name", autocomplete: "off", save: (v) => edit({ name: v }) })),
    contactForms(card, "phone", edit),
    contactForms(card, "email", edit),
    labelled("Company", fieldForm({ label: "Company", value: card.company, placeholder: "Not given yet", ol: "crm-edit-company", inputOl: "crm-input-company", save: (v) => edit({ company: v }) })));
}

function missingItems(card, edit) {
  return card.missing.map((m) => {
    const points = el("span", { class: "crm-points", text: `+${Number(m.points) || 0} points` });
    const target = FIELD_LABELS[m.field] ? $("crm-card").querySelector(`[data-ol="crm-input-${m.field === "phone" || m.field === "email" ? `add-${m.field}` : m.field}"]`) : null;
    if (!m.field.startsWith("custom:")) {
      return el("li", { class: "crm-missing", dataset: { ol: "crm-missing-item", field: m.field } },
        el("span", { class: "crm-missing-label", text: fieldLabel(m.field) }), points,
        target ? el("button", { class: "link-button", type: "button", text: "Fill in", onclick: () => target.focus() }) : null);
    }
    const form = fieldForm({ label: fieldLabel(m.field), placeholder: fieldLabel(m.field), ol: `crm-fill-${m.field}`, inputOl: `crm-input-${m.field}`,
      save: (v) => (v ? edit({ custom_fields: { [m.field.replace(/^custom:/, "")]: v } }) : Promise.resolve()) });
    return el("li", { class: "crm-missing crm-missing--custom", dataset: { ol: "crm-missing-item", field: m.field } },
      el("span", { class: "crm-missing-label", text: fieldLabel(m.field) }), points, form);
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

function leadItems(card) {
  return card.leads.map((l) => el("li", { class: "crm-lead", dataset: { ol: "crm-lead" } },
    el("span", { text: l.title || `Lead #${l.id}` }),
    el("span", { class: `crm-pill crm-pill--lead-${l.status}`, text: LEAD_STATUS[l.status] || String(l.status || "New") })));
}

function identityItems(card) {
  return card.identities.map((i) => el("li", { class: "crm-identity", dataset: { ol: "crm-identity" }, title: i.channel || null, text: i.label || i.channel_kind }));
}

function nameHeader(card) {
  return [
    el("h3", { class: "crm-name", dataset: { ol: "crm-name" }, text: card.name || `Client #${card.id}` }),
    card.name_generated ? el("p", { class: "crm-name-note", text: "The client has not given a name yet." }) : null,
    card.company ? el("p", { class: "crm-company", text: card.company }) : null,
  ];
}

function render(view) {
  const { card, history, dialogId, reload } = view;
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
  // A contact edit fails loudly to its own field (fieldForm shows it); success reloads.
  const edit = async (changes) => {
    const answer = await api("PATCH", `/api/crm/clients/${card.id}`, changes);
    notice = answer && answer.points_earned > 0 ? `Saved. You earned ${answer.points_earned} points.` : "Saved.";
    await reload();
  };
  const body = $("crm-card");
  const gen = generation;
  const openEarlier = (summary) => showReadOnlyDialog(body, card.id, summary, () => render(view), () => gen === generation);
  fill(body,
    nameHeader(card),
    notice ? el("p", { class: "crm-notice", role: "status", dataset: { ol: "crm-notice" }, text: notice }) : null,
    contactsSection(card, edit),
    section("Channels", identityItems(card), "crm-identities"),
    section("Lead", leadItems(card), "crm-leads"),
    history ? historySection(history, dialogId, openEarlier) : null,
    section("Possible duplicates", duplicateItems(card, act)),
    section("Merges", mergeItems(card, act)),
    status,
  );
  // Missing fields point at the inputs above, so they are built once those exist.
  const missing = section("Missing fields", missingItems(card, edit), "crm-missing");
  if (missing) body.querySelector('[data-ol="crm-contacts"]').before(missing);
  notice = "";
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
    if (gen !== generation) return;
    // The history is a second read: a card still shows if it fails.
    const history = await api("GET", `/api/crm/clients/${data.client.id}/dialogs`).catch(() => null);
    if (gen === generation) render({ card: data.client, history: history && history.dialogs, dialogId, reload });
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
