// Open-line routing controls of the console: take or skip an offer, transfer, invite a
// colleague or leave, join as a supervisor, hidden notes, the routing audit and the rating.
// The transfer tools and the audit open over the messages, so they never shrink them.
// Every text is set with textContent; nothing from the server is ever parsed as HTML.

import { api } from "./api.js";
import { $, el, fill, icon, toast } from "./dom.js";
import { state } from "./state.js";

const EVENT_LABELS = {
  assign: "Assigned", offer: "Offered", take: "Taken", skip: "Skipped", timeout: "Offer timed out",
  withdraw: "Offer withdrawn", wait: "Waiting", requeue: "Returned to queue", transfer: "Transferred",
  invite: "Colleague invited", join: "Supervisor joined", leave: "Left", reject: "Refused",
  close: "Closed", no_answer: "No answer in time",
};
const SUPERVISORS = new Set(["admin", "manager"]);

let ui = null;
let colleagues = { operators: [], lines: [] };
let current = null;

function button(text, ol, kind = "secondary") {
  return el("button", { class: `btn btn--${kind} btn--sm`, type: "button", dataset: { ol }, text });
}

function buildBar() {
  const offerText = el("span", { class: "routing-offer-text" });
  const take = button("Take", "take", "primary");
  const skip = button("Skip", "skip");
  const offer = el("div", { class: "routing-offer", dataset: { ol: "offer" } }, offerText, take, skip);
  const rating = el("span", { class: "routing-rating", dataset: { ol: "rating" } });
  const people = el("span", { class: "routing-people", dataset: { ol: "participants" } });
  const join = button("Join", "join");
  const leave = button("Leave", "leave");
  const toolsToggle = el("button", { class: "btn btn--ghost btn--sm", type: "button", dataset: { ol: "routing-tools-toggle" },
    "aria-expanded": "false", "aria-controls": "routing-tools" },
    el("span", { class: "label-long", text: "Transfer / invite" }), el("span", { class: "label-short", text: "Transfer" }), icon("more", 16));
  const auditToggle = el("button", { class: "btn btn--ghost btn--sm", type: "button", dataset: { ol: "audit-toggle" },
    "aria-expanded": "false", "aria-controls": "routing-audit" },
    el("span", { class: "label-long", text: "Routing audit" }), el("span", { class: "label-short", text: "Audit" }));
  const bar = el("div", { class: "routing-bar", dataset: { ol: "routing-bar" } },
    offer, rating, people, el("span", { class: "routing-spacer" }), join, leave, toolsToggle, auditToggle);
  return { bar, offer, offerText, take, skip, rating, people, join, leave, toolsToggle, auditToggle };
}

function buildTools() {
  const target = el("select", { class: "routing-select", dataset: { ol: "transfer-target" }, "aria-label": "Transfer to" });
  const comment = el("input", { class: "routing-input", type: "text", maxlength: "1000", placeholder: "Comment", dataset: { ol: "transfer-comment" }, "aria-label": "Transfer comment" });
  const transfer = button("Transfer", "transfer", "primary");
  const colleague = el("select", { class: "routing-select", dataset: { ol: "invite-target" }, "aria-label": "Invite colleague" });
  const invite = button("Invite", "invite");
  const tools = el("div", { class: "routing-tools overlay", id: "routing-tools", dataset: { ol: "routing-tools" }, hidden: true },
    el("div", { class: "routing-tools-row" }, el("span", { class: "routing-tools-label", text: "Transfer" }), target, comment, transfer),
    el("div", { class: "routing-tools-row" }, el("span", { class: "routing-tools-label", text: "Invite" }), colleague, invite));
  return { tools, target, comment, transfer, colleague, invite };
}

function buildAudit() {
  const auditList = el("ol", { class: "routing-audit-list", dataset: { ol: "audit" } });
  const auditClose = el("button", { class: "btn btn--ghost btn--sm", type: "button", dataset: { ol: "audit-close" }, text: "Hide" });
  const audit = el("section", { class: "routing-audit overlay", id: "routing-audit", "aria-label": "Routing audit", hidden: true },
    el("header", { class: "overlay-head" }, el("h3", { class: "overlay-title", text: "Routing audit" }), auditClose), auditList);
  return { audit, auditList, auditClose };
}

function buildNote() {
  const noteInput = el("textarea", { class: "routing-note-input", rows: "1", maxlength: "4000", placeholder: "Hidden note for colleagues", dataset: { ol: "note-input" }, "aria-label": "Hidden note" });
  const noteSend = el("button", { class: "btn btn--sm routing-note-send", type: "button", dataset: { ol: "note-send" }, text: "Add note" });
  return { note: el("div", { class: "routing-note" }, noteInput, noteSend), noteInput, noteSend };
}

/** Build the routing controls into the conversation pane. */
export function initRouting() {
  ui = { ...buildBar(), ...buildTools(), ...buildAudit(), ...buildNote() };
  document.querySelector("#conv .conv-header").after(ui.bar);
  $("thread").append(ui.tools, ui.audit);
  $("composer").prepend(ui.note);
  wire();
  ui.bar.hidden = true;
  ui.note.hidden = true;
}

/** Load the colleagues and lines that transfers and invites offer. */
export async function refreshRouting() {
  try {
    colleagues = await api("GET", "/api/colleagues");
  } catch (err) {
    colleagues = { operators: [], lines: [] };
  }
  if (current) renderRouting(current);
}

function nameOf(id) {
  const op = colleagues.operators.find((o) => o.id === id);
  return op ? op.name : `#${id}`;
}

function fillSelect(select, options, placeholder) {
  const previous = select.value;
  fill(select, el("option", { value: "", text: placeholder }), options.map(([value, label]) => el("option", { value, text: label })));
  if ([...select.options].some((o) => o.value === previous)) select.value = previous;
}

async function send(path, body, failure) {
  try {
    await api("POST", path, body);
    return true;
  } catch (err) {
    if (err.status !== 401) toast(`${failure}: ${err.reason}`);
    return false;
  }
}

function renderOffer(dialog, me) {
  const offeredToMe = dialog.status === "waiting" && (dialog.offered_to || []).includes(me.id);
  const free = dialog.status === "waiting" && (dialog.offered_to || []).length === 0;
  // The router lets an operator skip a dialog given to them only until someone answered it
  // (a dialog transferred after a reply is theirs to keep or transfer on).
  const mayReturn = dialog.status === "open" && dialog.operator_id === me.id && !dialog.answered;
  ui.offer.hidden = !(offeredToMe || free || mayReturn);
  ui.offerText.textContent = offeredToMe ? "This dialog is offered to you." : free ? "Waiting for an operator." : "";
  ui.take.hidden = !(offeredToMe || free);
  ui.skip.hidden = !(offeredToMe || mayReturn);
}

/** Show the controls that fit `dialog` (null hides them). */
export function renderRouting(dialog) {
  current = dialog || null;
  const me = state.me;
  if (!ui) return;
  if (!dialog || !me) {
    ui.bar.hidden = true;
    ui.note.hidden = true;
    showOverlay(ui.tools, ui.toolsToggle, false);
    showOverlay(ui.audit, ui.auditToggle, false);
    return;
  }
  const open = dialog.status !== "closed";
  ui.bar.hidden = false;
  ui.note.hidden = !open;
  renderOffer(dialog, me);
  ui.rating.hidden = dialog.rating === null || dialog.rating === undefined;
  const comment = dialog.rating_comment ? ` — “${dialog.rating_comment}”` : "";
  ui.rating.textContent = ui.rating.hidden ? "" : `Rating: ${dialog.rating}/5${comment}`;
  const inside = dialog.participants || [];
  ui.people.hidden = inside.length === 0;
  ui.people.textContent = inside.length ? `With: ${inside.map(nameOf).join(", ")}` : "";
  // Never yourself: a transfer goes to someone else.
  const others = colleagues.operators.filter((o) => o.id !== dialog.operator_id && o.id !== me.id);
  fillSelect(ui.target, [
    ...others.map((o) => [`op:${o.id}`, `${o.name} (${o.status})`]),
    ...colleagues.lines.filter((l) => l.id !== dialog.line_id).map((l) => [`line:${l.id}`, `Line: ${l.name}`]),
  ], "Transfer to…");
  fillSelect(ui.colleague, others.filter((o) => !inside.includes(o.id)).map((o) => [String(o.id), o.name]), "Invite…");
  ui.toolsToggle.hidden = !open;
  if (!open) showOverlay(ui.tools, ui.toolsToggle, false);
  ui.join.hidden = !open || !SUPERVISORS.has(me.role) || inside.includes(me.id) || dialog.operator_id === me.id;
  ui.leave.hidden = !open || !inside.includes(me.id);
  if (!ui.audit.hidden) loadAudit();
}

function auditItem(r) {
  const who = r.operator_id ? ` — ${nameOf(r.operator_id)}` : "";
  const why = r.reason ? ` (${r.reason})` : "";
  const candidates = r.candidates && r.candidates.length
    ? r.candidates.map((c) => `${nameOf(c.operator_id)}: ${c.passed_over || "eligible"}`).join("; ") : "";
  return el("li", { class: "routing-audit-item", dataset: { ol: "audit-item", event: r.event } },
    el("span", { class: "routing-audit-event", text: `${EVENT_LABELS[r.event] || r.event}${who}${why}` }),
    r.mode ? el("span", { class: "routing-audit-mode", text: ` · ${r.mode}` }) : null,
    candidates ? el("div", { class: "routing-audit-candidates", text: candidates }) : null,
    r.detail ? el("div", { class: "routing-audit-detail", text: r.detail }) : null);
}

async function loadAudit() {
  if (!current) return;
  const id = current.id;
  try {
    const data = await api("GET", `/api/dialogs/${id}/audit`);
    if (!current || current.id !== id) return;
    fill(ui.auditList, data.audit.map(auditItem));
  } catch (err) {
    fill(ui.auditList, el("li", { text: `Could not load the audit: ${err.reason}` }));
  }
}

function showOverlay(overlay, toggle, shown) {
  overlay.hidden = !shown;
  toggle.setAttribute("aria-expanded", String(shown));
}

async function transferDialog() {
  if (!current || !ui.target.value) return;
  const [kind, raw] = ui.target.value.split(":");
  const body = kind === "op" ? { to_operator_id: Number(raw) } : { to_line_id: Number(raw) };
  body.comment = ui.comment.value.trim();
  if (await send(`/api/dialogs/${current.id}/transfer`, body, "Could not transfer")) {
    ui.comment.value = "";
    toast("Transfer requested");
  }
}

async function sendNote() {
  const text = ui.noteInput.value.trim();
  if (!current || !text) return;
  const id = `note-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
  if (await send(`/api/dialogs/${current.id}/notes`, { text, client_msg_id: id }, "Could not add the note")) ui.noteInput.value = "";
}

function wire() {
  const onCurrent = (path, failure) => () => current && send(`/api/dialogs/${current.id}/${path}`, undefined, failure);
  ui.take.addEventListener("click", onCurrent("take", "Could not take the dialog"));
  ui.skip.addEventListener("click", onCurrent("skip", "Could not skip the dialog"));
  ui.join.addEventListener("click", onCurrent("join", "Could not join"));
  ui.leave.addEventListener("click", onCurrent("leave", "Could not leave"));
  ui.transfer.addEventListener("click", transferDialog);
  ui.invite.addEventListener("click", async () => {
    if (!current || !ui.colleague.value) return;
    if (await send(`/api/dialogs/${current.id}/invite`, { colleague_id: Number(ui.colleague.value) }, "Could not invite")) toast("Colleague invited");
  });
  // One overlay at a time: the one opened last would hide the other's controls.
  ui.toolsToggle.addEventListener("click", () => {
    showOverlay(ui.audit, ui.auditToggle, false);
    showOverlay(ui.tools, ui.toolsToggle, ui.tools.hidden);
  });
  ui.auditToggle.addEventListener("click", () => {
    showOverlay(ui.tools, ui.toolsToggle, false);
    showOverlay(ui.audit, ui.auditToggle, ui.audit.hidden);
    if (!ui.audit.hidden) loadAudit();
  });
  ui.auditClose.addEventListener("click", () => showOverlay(ui.audit, ui.auditToggle, false));
  $("conv").addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    showOverlay(ui.tools, ui.toolsToggle, false);
    showOverlay(ui.audit, ui.auditToggle, false);
  });
  ui.noteSend.addEventListener("click", sendNote);
  ui.noteInput.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      sendNote();
    }
  });
}
