// The Answers screen: the operator's personal quick answers and the shared ones of their lines.
// Everyone manages their personal answers; admins and managers the shared ones of a line, with
// CSV export and import. Edit controls show only where the hub says `editable`; the hub checks
// the rights again. Contract: docs/PROTOCOL.md, section "Quick answers".

import { api } from "./api.js";
import { $, el, fill, toast } from "./dom.js";
import { state } from "./state.js";
import { showScreen } from "./topbar.js";

const SUPERVISORS = new Set(["admin", "manager"]);
const view = () => $("answers-screen");
let answers = [];
let lines = [];
let editing = null; // null: no form; {} a new answer; an Answer being changed
let problem = "";
const csvErrors = new Map(); // line id -> the last import's error

async function load() {
  try {
    const [mine, people] = await Promise.all([api("GET", "/api/answers?scope=all"), api("GET", "/api/colleagues")]);
    answers = mine.answers || [];
    lines = people.lines || [];
    problem = "";
  } catch (err) {
    problem = `Could not load quick answers: ${err.reason}`;
  }
  render();
}

function supervisor() {
  return Boolean(state.me && SUPERVISORS.has(state.me.role));
}

function answerRow(answer) {
  const actions = answer.editable ? el("span", { class: "answers-actions" },
    el("button", { type: "button", class: "btn btn--secondary btn--sm", dataset: { ol: "answer-edit" }, text: "Edit", onclick: () => { editing = answer; render(); } }),
    el("button", { type: "button", class: "btn btn--ghost btn--sm", dataset: { ol: "answer-delete" }, text: "Delete", onclick: () => removeAnswer(answer) })) : null;
  return el("li", { class: "answers-item", dataset: { ol: "answer", answerId: String(answer.id) } },
    el("div", { class: "answers-item-body" },
      el("span", { class: "answers-title", text: answer.title }),
      el("span", { class: "answers-text", text: answer.text })),
    actions);
}

function list(items, emptyText) {
  if (!items.length) return el("p", { class: "answers-empty", text: emptyText });
  return el("ul", { class: "answers-list", role: "list" }, items.map(answerRow));
}

function csvControls(line) {
  const error = csvErrors.get(line.id);
  const file = el("input", { type: "file", accept: ".csv,text/csv", class: "sr-only", id: `csv-${line.id}`, tabindex: "-1", dataset: { ol: "answers-import" },
    onchange: (event) => importCsv(line, event.target) });
  return el("div", { class: "answers-csv" },
    el("a", { class: "btn btn--secondary btn--sm", href: `/api/lines/${line.id}/answers.csv`, download: `answers-${line.key || line.id}.csv`, dataset: { ol: "answers-export" }, text: "Export CSV" }),
    el("label", { class: "btn btn--secondary btn--sm answers-import", for: `csv-${line.id}`, tabindex: "0",
      onkeydown: (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); file.click(); } } }, "Import CSV", file),
    error ? el("span", { class: "answers-csv-error", role: "alert", dataset: { ol: "answers-import-error" }, text: error }) : null);
}

function lineSection(line) {
  const shared = answers.filter((a) => a.scope === "shared" && a.line_id === line.id);
  if (!shared.length && !supervisor()) return null;
  return el("section", { class: "answers-section", dataset: { ol: "answers-line", lineId: String(line.id) } },
    el("header", { class: "answers-section-head" },
      el("h3", { class: "answers-heading", text: `Shared · ${line.name}` }),
      supervisor() ? csvControls(line) : null),
    list(shared, "No shared answers on this line yet."));
}

function form() {
  if (!editing) return null;
  const isNew = editing.id === undefined;
  const title = el("input", { class: "input", name: "title", maxlength: "128", required: true, value: editing.title || "", dataset: { ol: "answer-title" } });
  const text = el("textarea", { class: "input answers-textarea", name: "text", required: true, rows: "4", dataset: { ol: "answer-text" } });
  text.value = editing.text || "";
  const where = isNew ? el("select", { class: "input", name: "line", dataset: { ol: "answer-line" } },
    el("option", { value: "", text: "Personal (only me)" }),
    supervisor() ? lines.map((line) => el("option", { value: String(line.id), text: `Shared on ${line.name}` })) : null) : null;
  return el("form", { class: "admin-form answers-form", dataset: { ol: "answer-form" }, onsubmit: (event) => { event.preventDefault(); save(title.value, text.value, where); } },
    el("label", {}, "Title", title),
    where ? el("label", {}, "Who sees it", where) : null,
    el("label", { class: "admin-wide" }, "Text ({client_name}, {operator_name} and {line} are filled in)", text),
    el("div", { class: "admin-wide answers-form-actions" },
      el("button", { type: "submit", class: "btn btn--primary btn--sm", dataset: { ol: "answer-save" }, text: "Save" }),
      el("button", { type: "button", class: "btn btn--ghost btn--sm", text: "Cancel", onclick: () => { editing = null; render(); } })));
}

function render() {
  const node = view();
  if (node.hidden) return;
  const personal = answers.filter((a) => a.scope === "personal");
  fill(node,
    el("header", { class: "screen-head" },
      el("h2", { text: "Quick answers" }),
      el("button", { type: "button", class: "btn btn--primary btn--sm", dataset: { ol: "answer-new" }, text: "New answer", onclick: () => { editing = {}; render(); } })),
    el("p", { class: "answers-hint", text: "Type / at the start of a word in the reply box to insert one." }),
    problem ? el("p", { class: "admin-error", role: "alert", text: problem }) : null,
    form(),
    el("section", { class: "answers-section", dataset: { ol: "answers-personal" } },
      el("header", { class: "answers-section-head" }, el("h3", { class: "answers-heading", text: "Personal" })),
      list(personal, "No personal answers yet.")),
    lines.map(lineSection));
  const first = node.querySelector('[data-ol="answer-title"]');
  if (first && editing && !first.value) first.focus();
}

async function save(title, text, where) {
  try {
    if (editing.id === undefined) {
      await api("POST", "/api/answers", { title, text, line_id: where && where.value ? Number(where.value) : null });
    } else {
      await api("PATCH", `/api/answers/${editing.id}`, { title, text });
    }
    editing = null;
    toast("Saved.");
  } catch (err) {
    problem = `Not saved: ${err.reason}`;
  }
  await load();
}

async function removeAnswer(answer) {
  if (!window.confirm(`Delete the quick answer “${answer.title}”?`)) return;
  try {
    await api("DELETE", `/api/answers/${answer.id}`);
    toast("Deleted.");
  } catch (err) {
    problem = `Not deleted: ${err.reason}`;
  }
  await load();
}

async function importCsv(line, input) {
  const file = input.files && input.files[0];
  if (!file) return;
  try {
    const result = await api("POST", `/api/lines/${line.id}/answers.csv`, await file.text(), "text/csv; charset=utf-8");
    csvErrors.delete(line.id);
    toast(`Imported: ${result.created} added, ${result.updated} updated.`);
  } catch (err) {
    const data = err.data || {};
    csvErrors.set(line.id, data.row ? `Row ${data.row}, ${data.field}: ${err.reason.replace(/^row \d+: [^:]+: /, "")}` : `Not imported: ${err.reason}`);
  }
  await load();
}

/** Wire the Answers button of the top bar. */
export function initAnswers() {
  $("nav-answers").addEventListener("click", () => {
    editing = null;
    showScreen(view());
    fill(view(), el("p", { class: "answers-empty", text: "Loading quick answers…" }));
    load();
  });
}
