// Open-line routing controls of the console: take or skip an offer, transfer, invite a
// colleague or leave, join as a supervisor, hidden notes, the routing audit and the rating.
// console.js calls initRouting once and render(dialog) whenever the open dialog changes.
// Every text is set with textContent; nothing from the server is ever parsed as HTML.

const EVENT_LABELS = {
  assign: "Assigned", offer: "Offered", take: "Taken", skip: "Skipped", timeout: "Offer timed out",
  withdraw: "Offer withdrawn", wait: "Waiting", requeue: "Returned to queue", transfer: "Transferred",
  invite: "Colleague invited", join: "Supervisor joined", leave: "Left", reject: "Refused",
  close: "Closed", no_answer: "No answer in time",
};
const SUPERVISORS = new Set(["admin", "manager"]);

// Styles of these controls live here, so the console's own stylesheet stays untouched.
const STYLE = `
.routing-bar { display: flex; flex-wrap: wrap; gap: 6px 12px; align-items: center; padding: 6px 16px; border-bottom: 1px solid var(--border, #e4e4ea); font-size: 13px; }
.routing-offer, .routing-tools { display: flex; flex-wrap: wrap; gap: 6px; align-items: center; }
.routing-select, .routing-input { font: inherit; padding: 3px 6px; border: 1px solid var(--border, #d0d0da); border-radius: 6px; background: var(--surface, #fff); color: inherit; max-width: 14em; }
.routing-rating { font-weight: 600; }
.routing-audit { flex-basis: 100%; margin: 4px 0 0; padding-left: 20px; max-height: 30vh; overflow: auto; }
.routing-audit-candidates, .routing-audit-detail { color: var(--text-muted, #667); font-size: 12px; }
.routing-note { display: flex; gap: 6px; margin-bottom: 6px; padding: 6px; border: 1px dashed #c9a227; border-radius: 8px; background: #fff8dc; }
.routing-note-input { flex: 1; font: inherit; resize: vertical; border: 0; background: transparent; color: #5c4a00; }
.routing-note-send { background: #c9a227; color: #fff; }
.msg--hidden .msg-bubble, .msg--hidden [class*="bubble"] { background: #fff8dc !important; color: #5c4a00 !important; border: 1px dashed #c9a227; }
.msg--hidden::before { content: "Hidden note"; display: block; font-size: 11px; color: #8a6d00; margin: 2px 0; }
[hidden] { display: none !important; }
`;

export function initRouting({ api, state, el, toast }) {
  document.head.append(el("style", { text: STYLE }));
  const header = document.querySelector("#conv .conv-header");
  const bar = el("div", { class: "routing-bar", dataset: { ol: "routing-bar" } });
  header.after(bar);

  const offer = el("div", { class: "routing-offer", dataset: { ol: "offer" } });
  const offerText = el("span", { class: "routing-offer-text" });
  const take = el("button", { class: "btn btn--primary btn--sm", type: "button", dataset: { ol: "take" }, text: "Take" });
  const skip = el("button", { class: "btn btn--secondary btn--sm", type: "button", dataset: { ol: "skip" }, text: "Skip" });
  offer.append(offerText, take, skip);

  const rating = el("span", { class: "routing-rating", dataset: { ol: "rating" } });
  const people = el("span", { class: "routing-people", dataset: { ol: "participants" } });

  const target = el("select", { class: "routing-select", dataset: { ol: "transfer-target" }, "aria-label": "Transfer to" });
  const comment = el("input", { class: "routing-input", type: "text", maxlength: "1000", placeholder: "Comment (optional)", dataset: { ol: "transfer-comment" }, "aria-label": "Transfer comment" });
  const transfer = el("button", { class: "btn btn--secondary btn--sm", type: "button", dataset: { ol: "transfer" }, text: "Transfer" });
  const colleague = el("select", { class: "routing-select", dataset: { ol: "invite-target" }, "aria-label": "Invite colleague" });
  const invite = el("button", { class: "btn btn--secondary btn--sm", type: "button", dataset: { ol: "invite" }, text: "Invite" });
  const join = el("button", { class: "btn btn--secondary btn--sm", type: "button", dataset: { ol: "join" }, text: "Join" });
  const leave = el("button", { class: "btn btn--secondary btn--sm", type: "button", dataset: { ol: "leave" }, text: "Leave" });
  const auditToggle = el("button", { class: "btn btn--secondary btn--sm", type: "button", dataset: { ol: "audit-toggle" }, text: "Routing audit" });
  const tools = el("div", { class: "routing-tools" }, target, comment, transfer, colleague, invite, join, leave, auditToggle);

  const audit = el("ol", { class: "routing-audit", dataset: { ol: "audit" }, hidden: true });

  const noteInput = el("textarea", { class: "routing-note-input", rows: "1", maxlength: "4000", placeholder: "Hidden note for colleagues — the client never sees it", dataset: { ol: "note-input" }, "aria-label": "Hidden note" });
  const noteSend = el("button", { class: "btn btn--sm routing-note-send", type: "button", dataset: { ol: "note-send" }, text: "Add note" });
  const note = el("div", { class: "routing-note" }, noteInput, noteSend);
  document.getElementById("composer").prepend(note);

  bar.append(offer, rating, people, tools, audit);

  let colleagues = { operators: [], lines: [] };
  let current = null;

  async function loadColleagues() {
    try {
      colleagues = await api("GET", "/api/colleagues");
    } catch (err) {
      colleagues = { operators: [], lines: [] };
    }
    if (current) render(current);
  }

  function nameOf(id) {
    const op = colleagues.operators.find((o) => o.id === id);
    return op ? op.name : `#${id}`;
  }

  function fillSelect(select, options, placeholder) {
    const previous = select.value;
    select.replaceChildren(el("option", { value: "", text: placeholder }));
    for (const [value, label] of options) select.append(el("option", { value, text: label }));
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

  function render(dialog) {
    current = dialog || null;
    const me = state.me;
    if (!dialog || !me) {
      bar.hidden = true;
      note.hidden = true;
      return;
    }
    const open = dialog.status !== "closed";
    const offeredToMe = dialog.status === "waiting" && (dialog.offered_to || []).includes(me.id);
    const free = dialog.status === "waiting" && (dialog.offered_to || []).length === 0;
    bar.hidden = false;
    note.hidden = !open;
    offer.hidden = !(offeredToMe || free || (dialog.status === "open" && dialog.operator_id === me.id));
    offerText.textContent = offeredToMe ? "This dialog is offered to you." : free ? "Waiting for an operator." : "";
    take.hidden = !(offeredToMe || free);
    skip.hidden = !(offeredToMe || (dialog.status === "open" && dialog.operator_id === me.id));

    rating.hidden = dialog.rating === null || dialog.rating === undefined;
    rating.textContent = rating.hidden ? "" : `Rating: ${dialog.rating}/5`;
    const inside = dialog.participants || [];
    people.hidden = inside.length === 0;
    people.textContent = inside.length ? `With: ${inside.map(nameOf).join(", ")}` : "";

    const others = colleagues.operators.filter((o) => o.id !== dialog.operator_id);
    fillSelect(target, [
      ...others.map((o) => [`op:${o.id}`, `${o.name} (${o.status})`]),
      ...colleagues.lines.filter((l) => l.id !== dialog.line_id).map((l) => [`line:${l.id}`, `Line: ${l.name}`]),
    ], "Transfer to…");
    fillSelect(colleague, others.filter((o) => o.id !== me.id && !inside.includes(o.id)).map((o) => [String(o.id), o.name]), "Invite…");
    tools.hidden = !open;
    join.hidden = !SUPERVISORS.has(me.role) || inside.includes(me.id) || dialog.operator_id === me.id;
    leave.hidden = !inside.includes(me.id);
    if (!audit.hidden) loadAudit();
  }

  async function loadAudit() {
    if (!current) return;
    const id = current.id;
    try {
      const data = await api("GET", `/api/dialogs/${id}/audit`);
      if (!current || current.id !== id) return;
      audit.replaceChildren(...data.audit.map((r) => {
        const who = r.operator_id ? ` — ${nameOf(r.operator_id)}` : "";
        const why = r.reason ? ` (${r.reason})` : "";
        const item = el("li", { class: "routing-audit-item", dataset: { ol: "audit-item", event: r.event } });
        item.append(el("span", { class: "routing-audit-event", text: `${EVENT_LABELS[r.event] || r.event}${who}${why}` }));
        if (r.mode) item.append(el("span", { class: "routing-audit-mode", text: ` · ${r.mode}` }));
        if (r.candidates && r.candidates.length) {
          const list = r.candidates.map((c) => `${nameOf(c.operator_id)}: ${c.passed_over || "eligible"}`).join("; ");
          item.append(el("div", { class: "routing-audit-candidates", text: list }));
        }
        if (r.detail) item.append(el("div", { class: "routing-audit-detail", text: r.detail }));
        return item;
      }));
    } catch (err) {
      audit.replaceChildren(el("li", { text: `Could not load the audit: ${err.reason}` }));
    }
  }

  take.addEventListener("click", () => current && send(`/api/dialogs/${current.id}/take`, undefined, "Could not take the dialog"));
  skip.addEventListener("click", () => current && send(`/api/dialogs/${current.id}/skip`, undefined, "Could not skip the dialog"));
  transfer.addEventListener("click", async () => {
    if (!current || !target.value) return;
    const [kind, raw] = target.value.split(":");
    const body = kind === "op" ? { to_operator_id: Number(raw) } : { to_line_id: Number(raw) };
    body.comment = comment.value.trim();
    if (await send(`/api/dialogs/${current.id}/transfer`, body, "Could not transfer")) {
      comment.value = "";
      toast("Transfer requested");
    }
  });
  invite.addEventListener("click", async () => {
    if (!current || !colleague.value) return;
    if (await send(`/api/dialogs/${current.id}/invite`, { colleague_id: Number(colleague.value) }, "Could not invite")) toast("Colleague invited");
  });
  join.addEventListener("click", () => current && send(`/api/dialogs/${current.id}/join`, undefined, "Could not join"));
  leave.addEventListener("click", () => current && send(`/api/dialogs/${current.id}/leave`, undefined, "Could not leave"));
  auditToggle.addEventListener("click", () => {
    audit.hidden = !audit.hidden;
    auditToggle.setAttribute("aria-expanded", String(!audit.hidden));
    if (!audit.hidden) loadAudit();
  });
  async function sendNote() {
    const text = noteInput.value.trim();
    if (!current || !text) return;
    const id = `note-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
    if (await send(`/api/dialogs/${current.id}/notes`, { text, client_msg_id: id }, "Could not add the note")) noteInput.value = "";
  }
  noteSend.addEventListener("click", sendNote);
  noteInput.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      sendNote();
    }
  });

  bar.hidden = true;
  note.hidden = true;
  return { render, refresh: loadColleagues };
}
