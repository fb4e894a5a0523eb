// The statistics screen: filters, figure cards, four charts and the dialog table, all from
// /api/stats/* (the hub scopes every answer to what the signed-in person may see: an admin or
// analyst every line, a manager their lines, an operator their own dialogs). Every figure
// drills down into the table; a row opens the dialog's history read only beside it, and from
// there, for those who work dialogs, in the conversation pane. The endpoints and their query
// strings are in the console's OpenAPI document, /api/openapi.json. The filters, the figures'
// tab, the drill-down and the table's order are in the address (stats_route.js): every change
// is a new history entry, and an address opened, shared or reached with Back is shown as named.

import { api } from "./api.js";
import { showReadOnlyDialog } from "./client_history.js";
import { $, el, fill } from "./dom.js";
import { selectDialog } from "./navigation.js";
import { figureCards } from "./stats_cards.js";
import { destroyCharts, drawCharts, operatorChartHeight } from "./stats_charts.js";
import { defaultFilters, filterBar } from "./stats_filters.js";
import { PAGE_SIZE, queryOf, tableQuery } from "./stats_query.js";
import { DEFAULT_SORT, isStatsRoute, parseStatsHash, statsHash } from "./stats_route.js";
import { dialogTable } from "./stats_table.js";
import { state } from "./state.js";
import { showScreen } from "./topbar.js";

const STATS_ROLES = new Set(["admin", "manager", "analyst", "operator"]);
const SCOPE_NOTES = { admin: "Every line", analyst: "Every line", manager: "The lines you manage", operator: "Your own dialogs" };
const view = () => $("stats-screen");

let filters = defaultFilters();
let figures = { part: "total", businessTime: false };
let drill = null;
let sort = { ...DEFAULT_SORT };
let data = { summary: null, daily: null, heatmap: null };
let table = { rows: [], next: null, loading: false, error: null };
let problem = "";
let choicesFor = "";
let choices = null;
let gen = 0;
let tableGen = 0;
let historyId = null;
const ui = {};

const role = () => (state.me ? state.me.role : "");

/** Called after every login: who sees the Statistics button. */
export function refreshStats() {
  $("nav-stats").hidden = !STATS_ROLES.has(role());
}

/** Forget the last session's filters and figures (logout). */
export function resetStats() {
  filters = defaultFilters();
  figures = { part: "total", businessTime: false };
  drill = null;
  sort = { ...DEFAULT_SORT };
  data = { summary: null, daily: null, heatmap: null };
  table = { rows: [], next: null, loading: false, error: null };
  problem = "";
  choicesFor = "";
  choices = null;
  gen += 1;
  tableGen += 1;
  destroyCharts();
}

/** Show the statistics screen as it was last, and load it; `replace` names it in the
 * address without a new history entry (the analyst's landing). */
export function openStats({ replace = false } = {}) {
  if (!STATS_ROLES.has(role())) return;
  record(replace);
  show();
}

function show() {
  showScreen(view());
  build();
  reload();
}

function current() {
  return { filters, figures, drill, sort };
}

/** Put the screen's state in the address: a new history entry, or in place of this one. */
function record(replace = false) {
  const hash = statsHash(current());
  if (location.hash === hash) return;
  if (replace) history.replaceState(null, "", hash);
  else history.pushState(null, "", hash);
}

/** Show the state the address names (a shared link, a reload, Back or Forward), asking again
 * only for what differs from what is shown. */
export function applyStatsRoute() {
  if (!STATS_ROLES.has(role())) {
    history.replaceState(null, "", location.pathname + location.search);
    return;
  }
  const wanted = parseStatsHash(location.hash, defaultFilters());
  const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
  const shown = !view().hidden;
  const newFigures = wanted.figures.businessTime !== figures.businessTime;
  const newFilters = !same(queryOf(wanted.filters).toString(), queryOf(filters).toString());
  const newTable = !same(wanted.drill, drill) || !same(wanted.sort, sort);
  const newPart = wanted.figures.part !== figures.part;
  ({ filters, figures, drill, sort } = wanted);
  if (!shown || newFilters || newFigures) show();
  else {
    if (newTable) loadTable(false);
    if (newPart) renderFigures();
  }
}

/** The address left the statistics: show the dialogs in their place. */
export function leaveStats() {
  if (!view().hidden) showScreen(null);
}

function chartPanel(name, title, height) {
  const canvas = el("canvas", { dataset: { ol: `stats-chart-${name}` }, role: "img", "aria-label": title });
  const box = el("div", { class: "stats-chart-box" }, canvas);
  box.style.height = `${height}px`;
  ui[name] = canvas;
  ui[`${name}Box`] = box;
  return el("section", { class: "stats-panel stats-chart", dataset: { ol: "stats-chart", chart: name } },
    el("h3", { class: "stats-panel-title", text: title }), box);
}

function build() {
  const bar = filterBar(filters, () => { drill = null; record(); reload(); });
  ui.setChoices = bar.setChoices;
  if (choices) bar.setChoices(choices);
  ui.problem = el("p", { class: "stats-note stats-note--error", role: "alert", dataset: { ol: "stats-problem" }, hidden: true });
  ui.figures = el("div", { class: "stats-figures-slot" });
  ui.table = el("div", { class: "stats-table-slot" });
  ui.historyBody = el("div", { class: "stats-history-body" });
  ui.historyActions = el("div", { class: "stats-history-actions" });
  ui.history = el("aside", { class: "stats-history", dataset: { ol: "stats-history" }, "aria-label": "Dialog history", hidden: true },
    ui.historyActions, ui.historyBody);
  fill(view(),
    el("header", { class: "screen-head stats-head" },
      el("h2", { text: "Statistics" }),
      el("span", { class: "stats-scope", dataset: { ol: "stats-scope" }, text: SCOPE_NOTES[role()] || "" })),
    bar.node,
    ui.problem,
    ui.figures,
    el("div", { class: "stats-charts" },
      chartPanel("daily", "Dialogs per day, by channel", 260),
      chartPanel("response", "First response time per day", 260),
      chartPanel("heatmap", "Incoming dialogs by weekday and hour", 260),
      chartPanel("operators", "Per operator", operatorChartHeight(1))),
    ui.table,
    ui.history);
  renderFigures();
  renderTable();
}

function showProblem(text) {
  problem = text;
  if (!ui.problem) return;
  ui.problem.textContent = problem;
  ui.problem.hidden = !problem;
}

function renderFigures() {
  fill(ui.figures, figureCards(figures, filters, data.summary, {
    // Business time changes the figures: everything is asked again, so no answer of the
    // other setting can land after it.
    toggled: (refetch) => {
      record();
      if (refetch) reload({ withTable: false });
      else renderFigures();
    },
    drill: drillTo,
  }));
}

function summaryQuery(extra) {
  const params = queryOf(filters);
  for (const [name, value] of Object.entries(extra)) params.set(name, value);
  return params;
}

async function loadChoices() {
  const key = `${filters.from}|${filters.to}`;
  if (key === choicesFor) return;
  choicesFor = key;
  const dates = queryOf({ from: filters.from, to: filters.to });
  const groups = (by) => api("GET", `/api/stats/summary?${dates}&group_by=${by}`).then((s) => (s.groups || []).filter((g) => g.key !== null).map((g) => ({ id: g.key, label: g.label || `#${g.key}` })));
  try {
    const [lines, channels, operators] = await Promise.all([groups("line"), groups("channel"), groups("operator")]);
    if (key !== choicesFor) return;
    choices = { lines, channels, operators };
    ui.setChoices(choices);
  } catch (err) {
    choicesFor = "";
  }
}

/** Load every figure and chart, and the table unless told not to, for the current filters. */
async function reload({ withTable = true } = {}) {
  const mine = ++gen;
  showProblem("");
  loadChoices();
  if (withTable) loadTable(false);
  data = { summary: null, daily: null, heatmap: null };
  renderFigures();
  const query = queryOf(filters);
  try {
    const [summary, daily, heatmap] = await Promise.all([
      api("GET", `/api/stats/summary?${summaryQuery({ group_by: "operator", business_time: String(figures.businessTime) })}`),
      api("GET", `/api/stats/daily?${query}`),
      api("GET", `/api/stats/heatmap?${query}`),
    ]);
    if (mine !== gen) return;
    data = { summary, daily, heatmap };
    renderFigures();
    await paintCharts();
  } catch (err) {
    if (mine === gen) showProblem(`Could not load the statistics: ${err.reason || err.message || err}`);
  }
}

async function paintCharts() {
  const operators = ((data.summary && data.summary.groups) || []).filter((g) => g.key !== null).length;
  ui.operatorsBox.style.height = `${operatorChartHeight(operators)}px`;
  await drawCharts(ui, data, drillTo);
}

function csvHref() {
  return `/api/stats/dialogs.csv?${tableQuery(filters, drill, sort)}`;
}

function renderTable() {
  fill(ui.table, dialogTable({ ...table, sort, drill, csv: csvHref() }, {
    sortBy: (by, order) => { sort = { by, order }; record(); loadTable(false); },
    more: () => loadTable(true),
    clearDrill: () => { drill = null; sort = { ...DEFAULT_SORT }; record(); loadTable(false); },
    open: openHistory,
  }));
}

async function loadTable(more) {
  const mine = more ? tableGen : ++tableGen;
  const params = tableQuery(filters, drill, sort);
  params.set("limit", String(PAGE_SIZE));
  if (more && table.next) params.set("after", table.next);
  table = more ? { ...table, loading: true, error: null } : { rows: [], next: null, loading: true, error: null };
  renderTable();
  try {
    const page = await api("GET", `/api/stats/dialogs?${params}`);
    if (mine !== tableGen) return;
    table = { rows: more ? table.rows.concat(page.rows || []) : page.rows || [], next: page.next || null, loading: false, error: null };
  } catch (err) {
    if (mine !== tableGen) return;
    table = { ...table, loading: false, error: err.reason || String(err) };
  }
  renderTable();
}

/** Fill the table with the dialogs behind a figure: `{label, params, sort?}`. */
function drillTo(target) {
  drill = target;
  sort = target.sort ? { ...target.sort } : { ...DEFAULT_SORT };
  record();
  loadTable(false);
  ui.table.scrollIntoView({ block: "start", behavior: window.matchMedia("(prefers-reduced-motion: reduce)").matches ? "auto" : "smooth" });
}

function closeHistory() {
  historyId = null;
  ui.history.hidden = true;
  fill(ui.historyBody);
  fill(ui.historyActions);
  const row = ui.table.querySelector(`[data-ol="stats-open"][data-focus="true"]`);
  if (row) {
    delete row.dataset.focus;
    row.focus();
  }
}

function openHistory(row) {
  for (const other of ui.table.querySelectorAll('[data-focus="true"]')) delete other.dataset.focus;
  const opener = ui.table.querySelector(`[data-ol="stats-row"][data-dialog-id="${Number(row.dialog_id)}"] [data-ol="stats-open"]`);
  if (opener) opener.dataset.focus = "true";
  historyId = row.dialog_id;
  ui.history.hidden = false;
  // Those who work dialogs may go on in the conversation pane (reply, take over, reopen).
  fill(ui.historyActions, role() === "analyst" ? null : el("button", {
    type: "button", class: "btn btn--primary btn--sm", dataset: { ol: "stats-open-dialog" }, text: "Open in Dialogs",
    onclick: () => { showScreen(null); selectDialog(row.dialog_id); },
  }));
  const summary = {
    id: row.dialog_id, status: row.status, channel_kind: row.channel_kind, line_name: row.line_name,
    opened_at: row.started_at, operator_name: row.operator_name || "",
  };
  const mine = row.dialog_id;
  showReadOnlyDialog(ui.historyBody, row.client_id, summary, closeHistory, () => historyId === mine, { backLabel: "Back to statistics" });
}

/** Wire the Statistics button of the top bar. */
export function initStats() {
  $("nav-stats").addEventListener("click", () => openStats());
  // Another screen empties this one: its charts go with it, and the address leaves it in a
  // new entry, so that Back comes back to the report.
  new MutationObserver(() => {
    if (!view().hidden) return;
    destroyCharts();
    if (isStatsRoute()) history.pushState(null, "", location.pathname + location.search);
  }).observe(view(), { attributes: true, attributeFilter: ["hidden"] });
}
