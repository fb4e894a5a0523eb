// Client card beside the conversation: contacts, leads, missing required fields with inputs,
// duplicate suggestions with reasons, merge / not-a-duplicate / unmerge.
// Contract: docs/PROTOCOL.md, section "CRM". Hub data only ever goes in through textContent.

let generation = 0;

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "class") node.className = value;
    else if (key === "on") for (const [type, fn] of Object.entries(value)) node.addEventListener(type, fn);
    else if (key.startsWith("data-")) node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

async function call(method, path, body) {
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) throw new Error((data && data.error) || `${response.status}`);
  return data;
}

function panel() {
  let node = document.getElementById("crm-card");
  if (!node) {
    node = el("aside", { id: "crm-card", class: "crm-card", "data-ol": "crm-card" });
    node.setAttribute("aria-label", "Client card");
    // Own layout, so the panel needs nothing from console.css beside the conversation.
    Object.assign(node.style, { overflowY: "auto", padding: "12px", minWidth: "240px", maxWidth: "320px" });
    document.getElementById("workspace").append(node);
  }
  return node;
}

const FIELD_LABELS = { name: "Name", phone: "Phone", email: "Email", company: "Company" };

function fieldLabel(field) {
  return FIELD_LABELS[field] || field.replace(/^custom:/, "");
}

function editFor(field, value) {
  if (field === "phone") return { add_phone: value };
  if (field === "email") return { add_email: value };
  if (field === "name" || field === "company") return { [field]: value };
  return { custom_fields: { [field.replace(/^custom:/, "")]: value } };
}

function contactList(title, items) {
  if (!items.length) return null;
  return el("section", { class: "crm-section" },
    el("h3", {}, title),
    el("ul", {}, ...items.map((c) => el("li", {}, c.value, c.verified ? " ✓" : ""))));
}

function render(card, me, reload) {
  const node = panel();
  const isAdmin = me && me.role === "admin";
  const status = el("p", { class: "crm-status", role: "status" });
  const act = async (fn) => {
    status.textContent = "";
    try {
      await fn();
      await reload();
    } catch (err) {
      status.textContent = err.message;
    }
  };
  const missing = card.missing.map((m) => {
    const input = el("input", { class: "input", placeholder: fieldLabel(m.field), "data-ol": `crm-fill-${m.field}` });
    const save = el("button", { class: "btn btn--sm", type: "button", on: {
      click: () => act(() => call("PATCH", `/api/crm/clients/${card.id}`, editFor(m.field, input.value))),
    } }, "Save");
    return el("li", {}, el("label", {}, `${fieldLabel(m.field)} (+${m.points}) `, input), save);
  });
  const duplicates = card.duplicates.map((d) => el("li", { "data-ol": "crm-duplicate" },
    el("strong", {}, d.other_name || `#${d.other_id}`),
    el("ul", {}, ...d.reasons.map((r) => el("li", {}, r))),
    el("button", { class: "btn btn--sm", type: "button", on: {
      click: () => act(() => call("POST", "/api/crm/merges", { client_id: card.id, other_id: d.other_id })),
    } }, "Merge"),
    el("button", { class: "btn btn--ghost btn--sm", type: "button", on: {
      click: () => act(() => call("POST", "/api/crm/not-duplicates", { client_id: card.id, other_id: d.other_id })),
    } }, "Not a duplicate")));
  const merges = card.merges.filter((m) => !m.undone && m.main_id === card.id).map((m) => el("li", {},
    `Merged #${m.dup_id} (${m.reason}) `,
    isAdmin ? el("button", { class: "btn btn--ghost btn--sm", type: "button", "data-ol": "crm-unmerge", on: {
      click: () => act(() => call("POST", `/api/crm/merges/${m.id}/undo`)),
    } }, "Undo merge") : null));
  node.replaceChildren(
    el("h2", { class: "crm-name" }, card.name || `Client #${card.id}`),
    card.company ? el("p", {}, card.company) : null,
    contactList("Phones", card.phones),
    contactList("Emails", card.emails),
    el("section", { class: "crm-section" }, el("h3", {}, "Channels"),
      el("ul", {}, ...card.identities.map((i) => el("li", {}, `${i.channel_kind}: ${i.name || i.channel}`)))),
    card.leads.length ? el("section", { class: "crm-section" }, el("h3", {}, "Leads"),
      el("ul", {}, ...card.leads.map((l) => el("li", {}, `${l.title} · ${l.status}`)))) : null,
    missing.length ? el("section", { class: "crm-section" }, el("h3", {}, "Missing fields"), el("ul", {}, ...missing)) : null,
    duplicates.length ? el("section", { class: "crm-section" }, el("h3", {}, "Possible duplicates"), el("ul", {}, ...duplicates)) : null,
    merges.length ? el("section", { class: "crm-section" }, el("h3", {}, "Merges"), el("ul", {}, ...merges)) : null,
    status,
  );
}

// Show the card of the client of dialog ``dialogId``; null hides the panel.
export async function showClientCard(dialogId, me) {
  const gen = ++generation;
  const node = panel();
  if (dialogId === null) {
    node.hidden = true;
    return;
  }
  node.hidden = false;
  const reload = async () => {
    const data = await call("GET", `/api/crm/dialogs/${dialogId}/client`);
    if (gen === generation) render(data.client, me, reload);
  };
  try {
    await reload();
  } catch (err) {
    if (gen === generation) node.replaceChildren(el("p", { class: "crm-status" }, err.message));
  }
}
