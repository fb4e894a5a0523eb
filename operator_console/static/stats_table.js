// The dialog table of the statistics screen: one row per dialog with the report's columns,
// sortable by the columns the API sorts on, paged with "More" (keyset cursors), a CSV link of
// exactly what is shown, and the drill-down it shows named above it. A row opens the dialog.

import { el } from "./dom.js";
import { STATUS_LABELS, channelLabel, parseTime } from "./format.js";
import { CLOSED_BY_LABELS, OUTCOME_LABELS, count, duration } from "./stats_query.js";

const dateFmt = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short" });
const clockFmt = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const fullFmt = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "long" });

// The date over the time: two short lines keep the table narrow without breaking either.
function when(iso) {
  const d = parseTime(iso);
  return d ? el("time", { datetime: iso, title: fullFmt.format(d) },
    el("span", { class: "stats-cell-main", text: dateFmt.format(d) }),
    el("span", { class: "stats-cell-sub", text: clockFmt.format(d) })) : "—";
}

const dash = (value) => (value === null || value === undefined || value === "" ? "—" : String(value));
const HOURS_LABELS = { true: "In hours", false: "Out of hours" };

// Each column: its heading, the sort key when the API sorts on it, and its cell's contents.
const COLUMNS = [
  { label: "Started", sort: "started_at", cell: (r) => when(r.started_at) },
  { label: "Client", cell: (r, open) => [
    el("button", { type: "button", class: "stats-open", dataset: { ol: "stats-open" }, text: r.client_name || `Client #${r.client_id}`,
      onclick: (event) => { event.stopPropagation(); open(r); } }),
    r.crm ? el("span", { class: "badge stats-crm", text: r.crm === "lead" ? "Lead" : "Contact" }) : null] },
  { label: "Channel", cell: (r) => [el("span", { class: "stats-cell-main", text: channelLabel(r.channel_kind) }),
    r.channel_name ? el("span", { class: "stats-cell-sub", text: r.channel_name }) : null] },
  { label: "Line", cell: (r) => dash(r.line_name) },
  { label: "Status", cell: (r) => el("span", { class: `crm-pill crm-pill--${r.status}`, text: STATUS_LABELS[r.status] || dash(r.status) }) },
  { label: "Operator", cell: (r) => dash(r.operator_name) },
  { label: "Messages", title: "From the client / from operators", cell: (r) => `${count(r.client_messages)} / ${count(r.operator_messages)}` },
  { label: "Hours", cell: (r) => el("span", { class: "stats-cell-main", text: HOURS_LABELS[String(r.in_hours)] || "—" }) },
  { label: "First response", sort: "first_response_s", numeric: true, cell: (r) => duration(r.first_response_s) },
  { label: "Duration", sort: "duration_s", numeric: true, cell: (r) => duration(r.duration_s) },
  { label: "Last activity", sort: "last_activity_at", cell: (r) => when(r.last_activity_at) },
  { label: "Outcome", cell: (r) => OUTCOME_LABELS[r.outcome] || dash(r.outcome) },
  { label: "Closed by", cell: (r) => CLOSED_BY_LABELS[r.closed_by] || dash(r.closed_by) },
  { label: "Rating", sort: "rating", numeric: true, cell: (r) => (r.rating ? `${r.rating} ★` : "—") },
];

function heading(column, sort, sortBy) {
  if (!column.sort) return el("th", { scope: "col", title: column.title || null, class: column.numeric ? "stats-num" : null, text: column.label });
  const current = sort.by === column.sort;
  const arrow = current ? (sort.order === "asc" ? " ↑" : " ↓") : "";
  return el("th", { scope: "col", class: column.numeric ? "stats-num" : null, "aria-sort": current ? (sort.order === "asc" ? "ascending" : "descending") : "none" },
    el("button", { type: "button", class: "stats-sort", dataset: { ol: "stats-sort", sort: column.sort },
      onclick: () => sortBy(column.sort, current && sort.order === "desc" ? "asc" : "desc") }, column.label, arrow));
}

// A phone shows each row as a card: every cell names its column itself (data-label).
function row(r, open) {
  return el("tr", { dataset: { ol: "stats-row", dialogId: String(r.dialog_id) }, onclick: () => open(r) },
    COLUMNS.map((column) => el("td", { class: column.numeric ? "stats-num" : null, dataset: { label: column.label } }, column.cell(r, open))));
}

const SORT_WORDS = { started_at: ["newest", "oldest"], last_activity_at: ["newest", "oldest"], rating: ["highest", "lowest"] };

// Where there is no room for the headings (a phone), the sort is a list of its own.
function sortSelect(sort, sortBy) {
  const choices = COLUMNS.filter((c) => c.sort).flatMap((c) => {
    const [desc, asc] = SORT_WORDS[c.sort] || ["longest", "shortest"];
    return [[`${c.sort}:desc`, `${c.label}, ${desc} first`], [`${c.sort}:asc`, `${c.label}, ${asc} first`]];
  });
  const select = el("select", { class: "stats-input stats-sort-select", "aria-label": "Sort by", dataset: { ol: "stats-sort-select" },
    onchange: (event) => { const [by, order] = event.target.value.split(":"); sortBy(by, order); } },
  choices.map(([value, text]) => el("option", { value, text })));
  select.value = `${sort.by}:${sort.order}`;
  return select;
}

function caption(table) {
  if (table.error) return el("p", { class: "stats-note stats-note--error", role: "alert", text: `Could not load the dialogs: ${table.error}` });
  if (table.loading && !table.rows.length) return el("p", { class: "stats-note", text: "Loading dialogs…" });
  if (!table.rows.length) return el("p", { class: "stats-note", dataset: { ol: "stats-table-empty" }, text: "No dialogs match these filters." });
  return null;
}

/**
 * The table section. `table` is `{rows, next, loading, error, sort, drill, csv}`; handlers:
 * `sortBy(key, order)`, `more()`, `clearDrill()`, `open(row)`.
 */
export function dialogTable(table, { sortBy, more, clearDrill, open }) {
  const shown = `${count(table.rows.length)}${table.next ? "+" : ""} dialog${table.rows.length === 1 && !table.next ? "" : "s"}`;
  return el("section", { class: "stats-panel stats-table-panel", dataset: { ol: "stats-table" }, "aria-label": "Dialogs" },
    el("header", { class: "stats-table-head" },
      el("h3", { class: "stats-panel-title", text: table.drill ? table.drill.label : "Dialogs" }),
      table.drill ? el("button", { type: "button", class: "btn btn--ghost btn--sm", dataset: { ol: "stats-drill-clear" }, text: "Show all", onclick: clearDrill }) : null,
      el("span", { class: "stats-table-count", dataset: { ol: "stats-table-count" }, text: table.rows.length ? shown : "" }),
      table.rows.length ? sortSelect(table.sort, sortBy) : null,
      el("a", { class: "btn btn--secondary btn--sm", href: table.csv, download: "dialogs.csv", dataset: { ol: "stats-csv" }, text: "Export CSV" })),
    caption(table),
    table.rows.length ? el("div", { class: "table-scroll stats-table-scroll" },
      el("table", { class: "stats-table" },
        el("thead", {}, el("tr", {}, COLUMNS.map((c) => heading(c, table.sort, sortBy)))),
        el("tbody", {}, table.rows.map((r) => row(r, open))))) : null,
    table.next ? el("button", { type: "button", class: "btn btn--secondary btn--sm stats-more", dataset: { ol: "stats-more" }, disabled: table.loading,
      text: table.loading ? "Loading…" : "More", onclick: more }) : null);
}
