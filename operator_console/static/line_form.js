// The form of one line: every setting the router reads, each with a line of help, grouped as
// an admin thinks of them; the working-hours editor; and the queue, which may be set already
// when the line is created. A refusal shows each sentence next to the field it concerns.
// Contract: docs/PROTOCOL.md, "Admin: lines and operators"; docs/CONFIGURATION.md.

import { api } from "./api.js";
import { el, toast } from "./dom.js";
import { area, button, choice, clearErrors, field, input, isAdmin, numberOf, section, showErrors, tick } from "./admin_fields.js";
import { scheduleEditor } from "./schedule_editor.js";

const MODES = [["evenly", "Evenly (fewest open dialogs)"], ["sequence", "In turn (one at a time)"], ["all", "To all (first to take it)"]];
const RATINGS = [["none", "Do not ask"], ["stars", "1 to 5 stars"], ["like", "Like or dislike"]];
const NO_ANSWER = [["wait", "Keep waiting"], ["requeue", "Back to the queue"], ["nothing", "Nothing more"]];
const OUT_OF_HOURS = [["wait", "Wait for the opening"], ["route", "Route to operators"]];
const RETURNING = [["none", "Distribute as usual"], ["last_operator", "Their last operator"], ["crm_responsible", "Their CRM responsible"]];
const REPLIES = [["greeting", "Greeting", "Sent when a dialog starts in working hours."],
  ["no_answer", "No answer yet", "Sent when the no-answer time runs out."],
  ["out_of_hours", "Out of hours", "Sent when a dialog starts outside working hours."],
  ["close", "On close", "Sent when the dialog is closed."]];

function queueEditor(queue, data) {
  const items = queue.map((q) => ({ ...q }));
  const name = (q) => (q.group_id == null
    ? (data.operators.find((o) => o.id === q.operator_id) || { name: `#${q.operator_id}` }).name
    : `Group: ${(data.groups.find((g) => g.id === q.group_id) || { name: `#${q.group_id}` }).name}`);
  const list = el("ol", { class: "admin-queue", dataset: { ol: "line-queue" } });
  const people = data.operators.filter((o) => o.role !== "analyst" && !o.disabled);
  const pick = el("select", { "aria-label": "Operator or group to add", disabled: !isAdmin() },
    el("optgroup", { label: "Operators" }, ...people.map((o) => el("option", { value: `o${o.id}`, text: o.name }))),
    data.groups.length ? el("optgroup", { label: "Groups" }, ...data.groups.map((g) => el("option", { value: `g${g.id}`, text: g.name }))) : null);
  const draw = () => list.replaceChildren(...items.map((q, i) => {
    const cap = input("cap", q.max_open_dialogs, "number", { placeholder: "no limit", "aria-label": `Max open dialogs for ${name(q)}`, min: 1 });
    cap.classList.add("admin-cap");
    cap.addEventListener("change", () => { q.max_open_dialogs = numberOf(cap); });
    const move = (d) => { const j = i + d; if (j < 0 || j >= items.length) return; [items[i], items[j]] = [items[j], items[i]]; draw(); };
    return el("li", { dataset: { field: `queue.${i}` } }, el("span", { class: "queue-name", text: name(q) }), cap,
      button("↑", () => move(-1)), button("↓", () => move(1)), button("Remove", () => { items.splice(i, 1); draw(); }));
  }));
  draw();
  const addBtn = button("Add to queue", () => {
    const [kind, id] = [pick.value[0], Number(pick.value.slice(1))];
    const key = kind === "g" ? "group_id" : "operator_id";
    if (id && !items.some((q) => q[key] === id)) { items.push({ [key]: id, max_open_dialogs: null }); draw(); }
  }, { ol: "queue-add" });
  const node = field("Operators and groups, in order", el("div", { class: "queue-editor" }, list, el("div", { class: "holiday-row" }, pick, addBtn)),
    { help: "Who gets this line's dialogs. The number caps one person's open dialogs of this line.", path: "queue", wide: true });
  return { node, items: () => items.map(({ operator_id, group_id, max_open_dialogs }) => (group_id == null ? { operator_id, max_open_dialogs } : { group_id, max_open_dialogs })) };
}

function inputs(line) {
  const s = line.settings || {};
  const crm = s.crm || {};
  const replies = s.auto_replies || {};
  return {
    name: input("name", line.name), key: input("key", line.key), language: input("language", line.language || "en"),
    timezone: input("timezone", line.timezone || "UTC"), distribution: choice("distribution", MODES, line.distribution || "evenly"),
    offer_seconds: input("offer_seconds", s.offer_seconds ?? 60, "number"), max_per_operator: input("max_per_operator", s.max_per_operator, "number", { placeholder: "no limit" }),
    long_wait_seconds: input("long_wait_seconds", s.long_wait_seconds ?? 120, "number"),
    no_answer_seconds: input("no_answer_seconds", s.no_answer_seconds, "number", { placeholder: "off" }), no_answer_action: choice("no_answer_action", NO_ANSWER, s.no_answer_action || "wait"),
    out_of_hours: choice("out_of_hours", OUT_OF_HOURS, s.out_of_hours || "wait"), returning: choice("returning", RETURNING, s.returning || "none"),
    when_offline: tick("out_of_hours_when_offline", s.out_of_hours_when_offline ?? false),
    create_lead: tick("create_lead", crm.create_lead ?? true), change_responsible_on_transfer: tick("change_responsible_on_transfer", crm.change_responsible_on_transfer ?? true),
    rating: choice("rating", RATINGS, s.rating || "none"), auto_close_minutes: input("auto_close_minutes", s.auto_close_minutes, "number", { placeholder: "never" }),
    remind_operator_minutes: input("remind_operator_minutes", s.remind_operator_minutes === undefined ? 5 : s.remind_operator_minutes, "number", { placeholder: "never" }),
    remind_manager_minutes: input("remind_manager_minutes", s.remind_manager_minutes === undefined ? 15 : s.remind_manager_minutes, "number", { placeholder: "never" }),
    replies: Object.fromEntries(REPLIES.map(([k]) => [k, area(k, replies[k])])),
  };
}

function sections(f, hours, queue) {
  const S = (key) => `settings.${key}`;
  return [
    section("Line", field("Name", f.name, { path: "name" }), field("Key", f.key, { path: "key", help: "Lowercase letters, digits, - and _; used in openlines.toml and links." }),
      field("Language", f.language, { path: "language", help: "Language of the auto-replies, e.g. en." }), field("Time zone", f.timezone, { path: "timezone", help: "Working hours are read in this zone, e.g. Europe/Berlin." })),
    section("Distribution", field("Mode", f.distribution, { path: "distribution", help: "Evenly: to whoever holds the fewest. In turn: offered to one operator after another. To all: offered to everyone at once." }),
      field("Offer time, seconds", f.offer_seconds, { path: S("offer_seconds"), help: "In turn: how long one operator has to take it before it goes to the next (60 or more)." }),
      field("Capacity: open dialogs per operator", f.max_per_operator, { path: S("max_per_operator"), help: "An operator at this many open dialogs of the line gets no more. Empty: no limit." }),
      field("Long wait after, seconds", f.long_wait_seconds, { path: S("long_wait_seconds"), help: "A client waiting longer shows as a long wait on the load screen." })),
    section("No answer", field("No-answer time, seconds", f.no_answer_seconds, { path: S("no_answer_seconds"), help: "When nobody has answered the client this long, the no-answer auto-reply goes out. Empty: off." }),
      field("Then", f.no_answer_action, { path: S("no_answer_action"), help: "What happens to the dialog after that reply. Back to the queue: to someone other than the silent operator." }),
      field("Remind the operator after, minutes", f.remind_operator_minutes, { path: S("remind_operator_minutes"), help: "A client left unanswered this long reminds their operator. Empty: never." }),
      field("Remind managers after, minutes", f.remind_manager_minutes, { path: S("remind_manager_minutes"), help: "Later than the operator's reminder. Empty: never." })),
    section("Working hours", field("Outside working hours", f.out_of_hours, { path: S("out_of_hours"), help: "A dialog that starts when the line is closed." }),
      field("Out-of-hours reply when nobody is online", f.when_offline, { path: S("out_of_hours_when_offline"), help: "In working hours with no operator online, a new client gets the out-of-hours reply instead of the greeting." }),
      hours.node),
    section("Clients and CRM", field("Returning client", f.returning, { path: S("returning"), help: "Where a client who wrote before goes, when that operator can take it." }),
      field("Create a lead for a new client", f.create_lead, { path: S("crm.create_lead"), help: "The first dialog of an unknown client creates a CRM lead." }),
      field("Responsible follows a transfer", f.change_responsible_on_transfer, { path: S("crm.change_responsible_on_transfer"), help: "A transfer makes the new operator responsible for the client's lead and contact." })),
    section("Auto-replies", ...REPLIES.map(([k, label, help]) => field(label, f.replies[k], { path: S(`auto_replies.${k}`), help: `${help} Empty: not sent.` }))),
    section("After the dialog", field("Rating", f.rating, { path: S("rating"), help: "Ask the client to rate the dialog when it closes." }),
      field("Auto-close after, minutes", f.auto_close_minutes, { path: S("auto_close_minutes"), help: "Close the dialog when the client stays silent this long after an answer. Empty: never." })),
    section("Queue", queue.node),
  ];
}

function settingsOf(line, f, hours) {
  const keep = line.settings || {};
  return {
    ...keep,
    offer_seconds: numberOf(f.offer_seconds) ?? 60, max_per_operator: numberOf(f.max_per_operator), long_wait_seconds: numberOf(f.long_wait_seconds) ?? 120,
    no_answer_seconds: numberOf(f.no_answer_seconds), no_answer_action: f.no_answer_action.value,
    remind_operator_minutes: numberOf(f.remind_operator_minutes), remind_manager_minutes: numberOf(f.remind_manager_minutes),
    out_of_hours: f.out_of_hours.value, out_of_hours_when_offline: f.when_offline.checked, returning: f.returning.value, schedule: hours.value(),
    crm: { create_lead: f.create_lead.checked, change_responsible_on_transfer: f.change_responsible_on_transfer.checked },
    auto_replies: Object.fromEntries(REPLIES.map(([k]) => [k, f.replies[k].value])),
    rating: f.rating.value, auto_close_minutes: numberOf(f.auto_close_minutes),
  };
}

/** The form for `line` ({} to create one); `done()` runs after a save. */
export function lineForm(line, data, { done, cancel }) {
  const creating = !line.id;
  const f = inputs(line);
  const hours = scheduleEditor((line.settings || {}).schedule || null);
  const queue = queueEditor(line.queue || [], data);
  const error = el("p", { class: "admin-error", role: "alert", dataset: { ol: "line-error" }, hidden: true });
  const readOnly = line.read_only || !isAdmin();
  const note = line.read_only ? el("p", { class: "admin-note admin-wide", text: "Defined in openlines.toml: change it in the file." }) : null;
  const save = button(creating ? "Add line" : "Save", null, { kind: "primary", ol: "line-save", type: "submit", disabled: false });
  save.hidden = readOnly;
  const node = el("form", { class: "admin-form", dataset: { ol: "line-form" }, novalidate: true }, note, ...sections(f, hours, queue),
    el("div", { class: "admin-wide admin-actions" }, save, button("Cancel", cancel, { disabled: false }), error));
  if (readOnly) for (const control of node.querySelectorAll("input, select, textarea, .admin-section button")) control.disabled = true;
  node.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(node);
    const body = { name: f.name.value.trim(), key: f.key.value.trim(), language: f.language.value.trim(), timezone: f.timezone.value.trim(), distribution: f.distribution.value, settings: settingsOf(line, f, hours) };
    try {
      if (creating) await api("POST", "/api/admin/lines", { ...body, queue: queue.items() });
      else {
        await api("PATCH", `/api/admin/lines/${line.id}`, body);
        await api("PUT", `/api/admin/lines/${line.id}/queue`, { queue: queue.items() });
      }
      toast("Saved.");
      done();
    } catch (err) {
      showErrors(node, err, error);
    }
  });
  return node;
}
