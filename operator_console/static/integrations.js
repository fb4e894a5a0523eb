// Admin view of integrations: API tokens (scopes, last use, revoke) and event webhooks (events,
// pause, delete) with each webhook's delivery log. A new token's value and a new webhook's
// signing secret are shown once, right after creating them; the hub keeps no readable copy of a
// token. console.js calls initIntegrations once and refreshIntegrations() after every login.
// Every text is set with textContent; nothing from the server is parsed as HTML.

import { api } from "./api.js";
import { $, el, fill, toast } from "./dom.js";
import { state } from "./state.js";
import { showScreen } from "./topbar.js";

const SCOPES = {
  "dialogs:read": "Read dialogs",
  "messages:send": "Send messages",
  "clients:manage": "Manage clients",
  "stats:read": "Read statistics",
};
const EVENTS = [
  "message.created", "message.updated", "dialog.opened", "dialog.assigned", "dialog.transferred", "dialog.closed",
  "client.created", "client.merged", "client.unmerged", "rating.received",
];

const view = () => $("integrations-screen");
let data = { tokens: [], webhooks: [] };
let shownOnce = null; // { label, value }: a new token or secret, until the next render
let log = null; // { webhook, deliveries }
const DELIVERIES_SHOWN = 100; // as many as GET …/deliveries gives

/** Wire the Integrations screen to its navigation button. */
export function initIntegrations() {
  $("nav-integrations").addEventListener("click", () => {
    showScreen(view());
    shownOnce = null;
    log = null;
    load();
  });
}

/** Called after every login and logout: the view is the admin's only. */
export function refreshIntegrations() {
  const admin = Boolean(state.me && state.me.role === "admin");
  $("nav-integrations").hidden = !admin;
  if (!admin && !view().hidden) showScreen(null);
}

async function load() {
  try {
    const [tokens, webhooks] = await Promise.all([api("GET", "/api/admin/tokens"), api("GET", "/api/admin/webhooks")]);
    data = { tokens: tokens.tokens, webhooks: webhooks.webhooks };
    render();
  } catch (err) {
    toast(`Could not load integrations: ${err.reason || err}`);
  }
}

const when = (iso) => (iso ? new Date(iso).toLocaleString() : "never");
const button = (text, ol, onclick, kind = "secondary") =>
  el("button", { class: `btn btn--${kind} btn--sm`, type: "button", dataset: { ol }, text, onclick });

function render() {
  const notice = shownOnce ? secretNotice() : null;
  shownOnce = null; // once: the next render (a revoke, a log opened) no longer shows it
  const back = button("Back to dialogs", "integrations-back", () => showScreen(null));
  fill(view(),
    el("div", { class: "screen-head" }, el("h2", { text: "Integrations" }), back),
    notice,
    el("section", { class: "integrations-part", "aria-label": "API tokens" },
      el("h3", { text: "API tokens" }),
      el("p", { class: "integrations-hint", text: "An integration sends a token as “Authorization: Bearer …”. It acts as you, limited to its scopes." }),
      tokenForm(), tableOf(["Name", "Token", "Scopes", "Last used", "State", ""], data.tokens.map(tokenRow), "tokens-list")),
    el("section", { class: "integrations-part", "aria-label": "Webhooks" },
      el("h3", { text: "Event webhooks" }),
      el("p", { class: "integrations-hint", text: "Signed JSON POSTs of the events chosen; failed ones are retried with growing waits." }),
      webhookForm(), tableOf(["Name", "URL", "Events", "State", ""], data.webhooks.map(webhookRow), "webhooks-list")),
    log ? deliveryLog() : null);
}

function secretNotice() {
  return el("div", { class: "integrations-secret", role: "status", dataset: { ol: "integrations-secret" } },
    el("strong", { text: `${shownOnce.label} — copy it now, it is not shown again:` }),
    el("code", { text: shownOnce.value }));
}

function tableOf(heads, rows, ol) {
  const body = rows.length ? rows : [el("tr", {}, el("td", { colspan: heads.length, text: "None yet." }))];
  return el("div", { class: "table-scroll" },
    el("table", { class: "channels-list integrations-list", dataset: { ol } },
      el("thead", {}, el("tr", {}, ...heads.map((t) => el("th", { text: t })))),
      el("tbody", {}, ...body)));
}

function checkboxes(name, options) {
  return el("fieldset", { class: "integrations-choices" }, el("legend", { text: name === "scopes" ? "Scopes" : "Events" }),
    ...Object.entries(options).map(([value, label]) =>
      el("label", {}, el("input", { type: "checkbox", name, value }), el("span", { text: label }))));
}

function chosen(form, name) {
  return [...form.querySelectorAll(`input[name="${name}"]:checked`)].map((box) => box.value);
}

function tokenForm() {
  const form = el("form", { class: "channels-form", dataset: { ol: "token-form" }, novalidate: true },
    el("label", {}, el("span", { text: "Name" }), el("input", { name: "name", required: true, maxlength: 128, autocomplete: "off" })),
    checkboxes("scopes", SCOPES),
    el("div", { class: "channels-actions" }, el("button", { class: "btn btn--primary btn--sm", type: "submit", dataset: { ol: "token-create" }, text: "Create token" })));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { name: form.elements.name.value.trim(), scopes: chosen(form, "scopes") };
    const made = await write("POST", "/api/admin/tokens", body);
    if (made) shownOnce = { label: `Token “${made.token.name}”`, value: made.value };
    if (made) await load();
  });
  return form;
}

function tokenRow(token) {
  const revoked = Boolean(token.revoked_at);
  const revoke = revoked ? null : button("Revoke", "token-revoke", async () => {
    if (await write("POST", `/api/admin/tokens/${token.id}/revoke`)) await load();
  });
  return el("tr", { class: revoked ? "channels-off" : "", dataset: { token: String(token.id) } },
    el("td", { text: token.name }),
    el("td", {}, el("code", { text: `${token.prefix}…` })),
    el("td", { text: token.scopes.map((s) => SCOPES[s] || s).join(", ") }),
    el("td", { dataset: { ol: "token-last-used" }, text: when(token.last_used_at) }),
    el("td", { text: revoked ? `Revoked ${when(token.revoked_at)}` : "Active" }),
    el("td", {}, revoke));
}

function webhookForm() {
  const form = el("form", { class: "channels-form", dataset: { ol: "webhook-form" }, novalidate: true },
    el("label", {}, el("span", { text: "Name" }), el("input", { name: "name", required: true, maxlength: 128, autocomplete: "off" })),
    el("label", {}, el("span", { text: "URL" }), el("input", { name: "url", type: "url", required: true, placeholder: "https://…", autocomplete: "off" })),
    checkboxes("events", Object.fromEntries(EVENTS.map((e) => [e, e]))),
    el("div", { class: "channels-actions" }, el("button", { class: "btn btn--primary btn--sm", type: "submit", dataset: { ol: "webhook-create" }, text: "Add webhook" })));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { name: form.elements.name.value.trim(), url: form.elements.url.value.trim(), events: chosen(form, "events") };
    const made = await write("POST", "/api/admin/webhooks", body);
    if (made) shownOnce = { label: `Signing secret of “${made.webhook.name}”`, value: made.secret };
    if (made) await load();
  });
  return form;
}

function webhookRow(hook) {
  const pause = button(hook.active ? "Pause" : "Resume", "webhook-toggle", async () => {
    if (await write("PATCH", `/api/admin/webhooks/${hook.id}`, { active: !hook.active })) await load();
  });
  const remove = button("Delete", "webhook-delete", async () => {
    if (!confirm(`Delete the webhook “${hook.name}” and its delivery log?`)) return;
    if (await write("DELETE", `/api/admin/webhooks/${hook.id}`)) { log = null; await load(); }
  }, "ghost");
  const deliveries = button("Deliveries", "webhook-deliveries", () => openLog(hook));
  return el("tr", { class: hook.active ? "" : "channels-off", dataset: { webhook: String(hook.id) } },
    el("td", { text: hook.name }),
    el("td", { class: "integrations-url", text: hook.url }),
    el("td", { text: hook.events.join(", ") }),
    el("td", { text: hook.active ? "Active" : "Paused" }),
    el("td", { class: "integrations-actions" }, deliveries, pause, remove));
}

async function openLog(hook) {
  try {
    const found = await api("GET", `/api/admin/webhooks/${hook.id}/deliveries`);
    log = { webhook: hook, deliveries: found.deliveries };
    render();
    view().querySelector("[data-ol=delivery-log]").scrollIntoView({ block: "nearest" });
  } catch (err) {
    toast(`Could not load deliveries: ${err.reason || err}`);
  }
}

/** A delivery logged or tried (socket frame `webhook_delivery`): shown at once in the open log of
 * its webhook, newest first. Only the log is redrawn, so a form being filled in keeps its input. */
export function applyDeliveryFrame(frame) {
  const shown = view().querySelector("[data-ol=delivery-log]");
  if (!log || !shown || log.webhook.id !== frame.webhook_id || !frame.delivery) return;
  const others = log.deliveries.filter((d) => d.id !== frame.delivery.id);
  log.deliveries = [frame.delivery, ...others].sort((a, b) => b.id - a.id).slice(0, DELIVERIES_SHOWN);
  shown.replaceWith(deliveryLog());
}

function deliveryLog() {
  const rows = log.deliveries.map((d) => el("tr", { class: `delivery--${d.status}` },
    el("td", { text: d.event }),
    el("td", { text: d.status }),
    el("td", { text: String(d.attempts) }),
    el("td", { text: d.response_status === null ? "no answer" : String(d.response_status) }),
    el("td", {}, el("code", { class: "integrations-answer", text: d.response_body })),
    el("td", { text: when(d.last_attempt_at) })));
  return el("section", { class: "integrations-part", "aria-label": "Delivery log", dataset: { ol: "delivery-log" } },
    el("h3", { text: `Deliveries to “${log.webhook.name}”` }),
    tableOf(["Event", "Status", "Tries", "Answer", "Last response", "Last try"], rows, "deliveries-list"));
}

async function write(method, path, body) {
  try {
    return (await api(method, path, body)) || {};
  } catch (err) {
    toast(`Could not save: ${err.reason || err}`);
    return null;
  }
}
