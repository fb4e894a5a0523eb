// The quick answers picker of the reply box: typing "/" at the start of a word opens a list of
// saved replies matching what follows it, above the reply box. ↑/↓ choose, Enter or a click puts
// the answer in, rendered for the open dialog (client's name, operator's name, line); Esc closes.
// Contract: docs/PROTOCOL.md, section "Quick answers".

import { api } from "./api.js";
import { $, el, fill } from "./dom.js";
import { state } from "./state.js";

const FETCH_DELAY_MS = 120;
const MAX_SHOWN = 8;

// The open picker: where its "/word" sits in the reply box, what it shows, which is chosen.
const picker = { open: false, start: 0, end: 0, query: null, answers: [], active: 0, gen: 0 };
let fetchTimer = null;

/** The "/word" the caret is in, when its "/" starts a word; else null. */
export function slashWordAt(text, caret) {
  const before = text.slice(0, caret);
  const m = /(^|\s)\/([^\s/]*)$/.exec(before);
  if (!m) return null;
  const start = caret - m[2].length - 1;
  const rest = /^[^\s]*/.exec(text.slice(caret))[0];
  return { start, end: caret + rest.length, query: m[2] + rest };
}

function node() {
  return $("answers-picker");
}

/** Whether the picker is showing. */
export function pickerOpen() {
  return picker.open;
}

/** Hide the picker (Esc, a send, another dialog). */
export function closePicker() {
  picker.open = false;
  picker.query = null;
  picker.gen += 1;
  clearTimeout(fetchTimer);
  const box = node();
  if (box) box.hidden = true;
  $("reply").removeAttribute("aria-activedescendant");
  $("reply").setAttribute("aria-expanded", "false");
}

/** Follow the reply box's text: open, narrow or close the picker. */
export function followReply() {
  const input = $("reply");
  const dialog = state.dialogs.get(state.selectedId);
  const word = input.selectionStart === input.selectionEnd ? slashWordAt(input.value, input.selectionStart) : null;
  if (!word || !dialog) {
    if (picker.open) closePicker();
    return;
  }
  picker.start = word.start;
  picker.end = word.end;
  if (picker.open && picker.query === word.query) return;
  picker.open = true;
  picker.query = word.query;
  const gen = ++picker.gen;
  clearTimeout(fetchTimer);
  fetchTimer = setTimeout(() => loadAnswers(dialog, word.query, gen), picker.answers.length ? FETCH_DELAY_MS : 0);
}

async function loadAnswers(dialog, query, gen) {
  const params = new URLSearchParams({ line: String(dialog.line_id) });
  if (query) params.set("q", query);
  let answers = [];
  let problem = null;
  try {
    answers = ((await api("GET", `/api/answers?${params}`)) || {}).answers || [];
  } catch (err) {
    problem = `Could not load quick answers: ${err.reason}`;
  }
  if (gen !== picker.gen || !picker.open) return;
  picker.answers = answers.slice(0, MAX_SHOWN);
  picker.active = 0;
  render(problem);
}

function render(problem) {
  const box = node();
  const input = $("reply");
  box.hidden = false;
  input.setAttribute("aria-expanded", "true");
  const items = picker.answers.map((answer, i) => el("li", {
    id: `answer-option-${i}`, role: "option", class: "picker-item",
    "aria-selected": i === picker.active ? "true" : "false",
    dataset: { ol: "answer-option", answerId: String(answer.id) },
    // mousedown, not click: the reply box must keep focus and its caret.
    onmousedown: (event) => { event.preventDefault(); choose(i); },
  },
  el("span", { class: "picker-title", text: answer.title }),
  answer.scope === "shared" ? el("span", { class: "picker-scope", text: "Shared" }) : null,
  el("span", { class: "picker-text", text: answer.text })));
  const empty = problem || (items.length ? null : picker.query ? `No quick answer matches “${picker.query}”.` : "No quick answers yet. Add them under Answers.");
  fill(box.querySelector("ul"), items);
  const note = box.querySelector(".picker-note");
  note.textContent = empty || "";
  note.hidden = !empty;
  if (items.length) input.setAttribute("aria-activedescendant", `answer-option-${picker.active}`);
  else input.removeAttribute("aria-activedescendant");
  const active = items[picker.active];
  if (active) active.scrollIntoView({ block: "nearest" });
}

function move(step) {
  if (!picker.answers.length) return;
  picker.active = (picker.active + step + picker.answers.length) % picker.answers.length;
  render(null);
}

async function choose(index) {
  const answer = picker.answers[index];
  const dialogId = state.selectedId;
  if (!answer || dialogId === null) return;
  const { start, end } = picker;
  closePicker();
  let text = answer.text;
  try {
    text = (await api("GET", `/api/dialogs/${dialogId}/answers/${answer.id}`)).text;
  } catch (err) {
    // The raw text is still the operator's best reply; the placeholders show what to fill in.
  }
  if (state.selectedId !== dialogId) return;
  const input = $("reply");
  input.setRangeText(text, start, end, "end");
  input.focus();
  input.dispatchEvent(new Event("input", { bubbles: true }));
}

/** The reply box's keys while the picker is open; true when the picker used the key. */
export function pickerKey(event) {
  if (!picker.open) return false;
  if (event.key === "ArrowDown" || event.key === "ArrowUp") {
    move(event.key === "ArrowDown" ? 1 : -1);
  } else if ((event.key === "Enter" || event.key === "Tab") && !event.shiftKey && picker.answers.length) {
    choose(picker.active);
  } else if (event.key === "Escape") {
    closePicker();
  } else {
    return false;
  }
  event.preventDefault();
  event.stopPropagation();
  return true;
}

/** Build the picker above the reply box. */
export function initQuickAnswers() {
  const box = el("div", { class: "picker", id: "answers-picker", dataset: { ol: "answers-picker" }, hidden: true },
    el("div", { class: "picker-head" }, "Quick answers", el("span", { class: "picker-keys", text: " · ↑↓ to choose, Enter to insert, Esc to close" })),
    el("ul", { class: "picker-list", role: "listbox", id: "answers-list", "aria-label": "Quick answers" }),
    el("p", { class: "picker-note", hidden: true }));
  $("composer").prepend(box);
  const reply = $("reply");
  reply.setAttribute("aria-controls", "answers-list");
  reply.setAttribute("aria-autocomplete", "list");
  reply.addEventListener("click", followReply);
  reply.addEventListener("blur", () => setTimeout(() => { if (document.activeElement !== reply) closePicker(); }, 0));
}
