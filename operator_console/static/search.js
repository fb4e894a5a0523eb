// Search over messages and clients, at the top of the dialog list. Results take the list's
// place while a search is shown; choosing one opens its dialog (closed ones too) scrolled to the
// message found, highlighted. Contract: docs/PROTOCOL.md, section "Search".

import { api } from "./api.js";
import { addThreadAround, renderConversation } from "./conversation.js";
import { $, el, fill } from "./dom.js";
import { STATUS_LABELS, channelLabel, listTime } from "./format.js";
import { selectDialog, showPane } from "./navigation.js";
import { state } from "./state.js";

const TYPING_DELAY_MS = 300;
const THREAD_WAIT_MS = 10000;
const AROUND = 50; // a hit's neighbours: it and about half of them on either side
const FILTERS = ["line", "channel", "operator", "status", "from", "to"];

const ui = {};
let typingTimer = null;
let searchGen = 0;
let shown = { hits: [], clients: [], next: null };
let choicesLoaded = false;

/** Put the cursor in the search box (Ctrl+K), showing the list pane on a phone. */
export function focusSearch() {
  showPane("list");
  ui.input.focus();
  ui.input.select();
}

/** Whether search results are shown in place of the dialog list. */
export function searchShown() {
  return !ui.results.hidden;
}

/** Leave the search: the dialog list comes back. */
export function clearSearch() {
  searchGen += 1;
  ui.input.value = "";
  showResults(false);
}

function showResults(visible) {
  ui.results.hidden = !visible;
  $("search-slot").closest(".sidebar").dataset.searching = String(visible);
}

function query() {
  const params = new URLSearchParams({ q: ui.input.value.trim() });
  for (const name of FILTERS) {
    const value = ui[name].value;
    if (value) params.set(name, value);
  }
  return params;
}

/** Run the search in the box with the chosen filters; `more` fetches the next page. */
async function runSearch({ more = false } = {}) {
  const text = ui.input.value.trim();
  if (!text) {
    clearSearch();
    return;
  }
  const gen = ++searchGen;
  const params = query();
  if (more && shown.next) params.set("cursor", shown.next);
  showResults(true);
  if (!more) fill(ui.list, el("p", { class: "search-note", text: "Searching…" }));
  try {
    const data = await api("GET", `/api/search?${params}`);
    if (gen !== searchGen) return;
    shown = more
      ? { hits: shown.hits.concat(data.hits), clients: shown.clients, next: data.next_cursor }
      : { hits: data.hits, clients: data.clients || [], next: data.next_cursor };
    renderResults();
  } catch (err) {
    if (gen !== searchGen) return;
    fill(ui.list, el("p", { class: "search-note search-note--error", role: "alert", text: `Search failed: ${err.reason}` }));
  }
}

function hitNode(hit) {
  return el("li", { class: "search-hit" }, el("button", {
    type: "button", class: "search-hit-button", dataset: { ol: "search-hit", dialogId: String(hit.dialog_id), messageId: String(hit.message_id) },
    onclick: (event) => { markChosen(event.currentTarget); openAtMessage(hit.dialog_id, hit.message_id); },
  },
  el("span", { class: "dialog-row" },
    el("span", { class: "dialog-name", text: hit.client_name || `Dialog #${hit.dialog_id}` }),
    el("time", { class: "dialog-time", text: listTime(hit.at) })),
  el("span", { class: "search-snippet", dataset: { ol: "search-snippet" }, text: hit.snippet || "" }),
  el("span", { class: "dialog-row dialog-row--meta" },
    el("span", { class: "badge badge--channel", dataset: { kind: String(hit.channel_kind || "") }, text: channelLabel(hit.channel_kind) }),
    hit.hidden ? el("span", { class: "search-hidden", text: "Hidden note" }) : null,
    el("span", { class: `status status--${hit.dialog_status}`, text: STATUS_LABELS[hit.dialog_status] || hit.dialog_status }))));
}

function clientNode(client) {
  return el("li", { class: "search-hit" }, el("button", {
    type: "button", class: "search-hit-button", dataset: { ol: "search-client", dialogId: String(client.dialog_id) },
    onclick: (event) => { markChosen(event.currentTarget); selectDialog(client.dialog_id); },
  },
  el("span", { class: "dialog-row" },
    el("span", { class: "dialog-name", text: client.client_name || `Client #${client.client_id}` }),
    el("span", { class: "badge badge--channel", dataset: { kind: String(client.channel_kind || "") }, text: channelLabel(client.channel_kind) }))));
}

// The result last opened stays marked, so the operator sees where they are in the list.
function markChosen(button) {
  for (const other of ui.list.querySelectorAll('[aria-current="true"]')) other.setAttribute("aria-current", "false");
  button.setAttribute("aria-current", "true");
}

function renderResults() {
  const { hits, clients, next } = shown;
  const count = hits.length ? `${hits.length}${next ? "+" : ""} message${hits.length === 1 ? "" : "s"}` : "No messages found";
  fill(ui.list,
    clients.length ? [el("h3", { class: "search-heading", text: "Clients" }), el("ul", { class: "search-list", role: "list" }, clients.map(clientNode))] : null,
    el("h3", { class: "search-heading", dataset: { ol: "search-count" }, text: count }),
    hits.length ? el("ul", { class: "search-list", role: "list" }, hits.map(hitNode)) : null,
    next ? el("button", { type: "button", class: "btn btn--secondary btn--sm search-more", text: "More results", onclick: () => runSearch({ more: true }) }) : null);
}

function threadReady(dialogId) {
  const started = Date.now();
  return new Promise((resolve) => {
    const check = () => {
      const thread = state.thread;
      if (thread && thread.dialogId === dialogId && (thread.loaded || thread.error)) resolve(!thread.error);
      else if (Date.now() - started > THREAD_WAIT_MS || (thread && thread.dialogId !== dialogId && state.selectedId !== dialogId && Date.now() - started > 1000)) resolve(false);
      else setTimeout(check, 40);
    };
    check();
  });
}

/** Open dialog `dialogId` scrolled to message `messageId`, highlighted. */
export async function openAtMessage(dialogId, messageId) {
  selectDialog(dialogId);
  if (!(await threadReady(dialogId))) return;
  const gen = state.threadGen;
  try {
    const data = await api("GET", `/api/dialogs/${dialogId}/messages?around=${messageId}&limit=${AROUND}`);
    if (gen !== state.threadGen) return;
    addThreadAround(data.messages || [], messageId, AROUND);
  } catch (err) {
    // The newest page is shown; the message found may still be in it.
  }
  renderConversation();
  for (const old of document.querySelectorAll('#messages [data-found="true"]')) delete old.dataset.found;
  const found = document.querySelector(`#messages [data-ol="message"][data-id="${Number(messageId)}"]`);
  if (!found) return;
  found.dataset.found = "true";
  found.scrollIntoView({ block: "center" });
}

async function loadChoices() {
  if (choicesLoaded) return;
  choicesLoaded = true;
  try {
    const [people, kinds] = await Promise.all([api("GET", "/api/colleagues"), api("GET", "/api/channel-kinds")]);
    const option = (value, text) => el("option", { value: String(value), text });
    ui.line.append(...(people.lines || []).map((line) => option(line.id, line.name)));
    ui.operator.append(...(people.operators || []).map((op) => option(op.id, op.name || op.login)));
    ui.channel.append(...Object.entries(kinds.kinds || {}).map(([kind, info]) => option(kind, info.label || kind)));
  } catch (err) {
    choicesLoaded = false;
  }
}

function filterField(label, control) {
  return el("label", { class: "search-filter" }, el("span", { class: "search-filter-label", text: label }), control);
}

function select(name, anyLabel, options = []) {
  ui[name] = el("select", { class: "search-select", dataset: { ol: `search-${name}` }, onchange: () => runSearch() },
    el("option", { value: "", text: anyLabel }), options);
  return ui[name];
}

function buildFilters() {
  const status = Object.entries({ waiting: "Waiting", open: "Open", closed: "Closed" }).map(([v, t]) => el("option", { value: v, text: t }));
  ui.from = el("input", { type: "date", class: "search-select", dataset: { ol: "search-from" }, onchange: () => runSearch() });
  ui.to = el("input", { type: "date", class: "search-select", dataset: { ol: "search-to" }, onchange: () => runSearch() });
  return el("div", { class: "search-filters", id: "search-filters", dataset: { ol: "search-filters" }, hidden: true },
    filterField("Line", select("line", "Any line")),
    filterField("Channel", select("channel", "Any channel")),
    filterField("Operator", select("operator", "Anyone")),
    filterField("Status", select("status", "Any status", status)),
    filterField("From", ui.from),
    filterField("To", ui.to));
}

function onInputKey(event) {
  if (event.key === "Enter") {
    event.preventDefault();
    clearTimeout(typingTimer);
    runSearch();
  } else if (event.key === "Escape" && (ui.input.value || searchShown())) {
    event.preventDefault();
    event.stopPropagation();
    clearSearch();
  }
}

/** Build the search box and its results in the dialog list pane. */
export function initSearch() {
  ui.input = el("input", {
    type: "search", class: "input search-input", id: "search-input", dataset: { ol: "search" },
    placeholder: "Search (Ctrl+K)", "aria-label": "Search messages and clients", "aria-keyshortcuts": "Control+K",
    autocomplete: "off", spellcheck: "false",
  });
  ui.toggle = el("button", {
    type: "button", class: "btn btn--secondary btn--sm search-toggle", dataset: { ol: "search-filters-toggle" },
    "aria-expanded": "false", "aria-controls": "search-filters", text: "Filters",
  });
  ui.filters = buildFilters();
  ui.list = el("div", { class: "search-body" });
  ui.results = el("section", { class: "search-results", id: "search-results", dataset: { ol: "search-results" }, "aria-label": "Search results", hidden: true },
    el("div", { class: "search-results-head" },
      el("span", { class: "search-results-title", text: "Search results" }),
      el("button", { type: "button", class: "link-button", dataset: { ol: "search-clear" }, text: "Back to dialogs", onclick: () => { clearSearch(); ui.input.focus(); } })),
    ui.list);
  fill($("search-slot"), el("div", { class: "search-row", role: "search" }, ui.input, ui.toggle), ui.filters);
  $("search-slot").after(ui.results);
  ui.input.addEventListener("keydown", onInputKey);
  ui.input.addEventListener("input", () => {
    clearTimeout(typingTimer);
    if (!ui.input.value.trim()) clearSearch();
    else if (ui.input.value.trim().length >= 2) typingTimer = setTimeout(runSearch, TYPING_DELAY_MS);
  });
  ui.toggle.addEventListener("click", () => {
    const open = ui.filters.hidden;
    ui.filters.hidden = !open;
    ui.toggle.setAttribute("aria-expanded", String(open));
    if (open) loadChoices();
  });
}

/** Forget the last session's search (logout). */
export function resetSearch() {
  clearSearch();
  for (const name of FILTERS) ui[name].value = "";
}
