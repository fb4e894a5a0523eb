// What the statistics screen asks for and how it words the answers: the filters as a query
// string (the same names on every /api/stats endpoint), the date presets, and durations,
// percentages and counts as people read them. Pure functions of their arguments and today.

/** The filters of the filter bar, in the order of the query string. */
export const FILTER_NAMES = ["from", "to", "line_id", "channel_id", "operator_id", "status", "in_hours", "outcome", "rating_min", "rating_max"];
/** The extra filters a drill-down adds (a day, a heatmap cell, the missed ones, ...). */
export const DRILL_NAMES = ["day", "weekday", "hour", "missed"];
/** The table's sortable columns, as the API names them. */
export const SORTS = ["started_at", "first_response_s", "duration_s", "last_activity_at", "rating"];
/** Rows per page of the dialog table. */
export const PAGE_SIZE = 50;

export const OUTCOME_LABELS = { answered: "Answered", missed: "Missed", out_of_hours: "No operator online", client_left: "Client left" };
export const CLOSED_BY_LABELS = { client: "Client", operator: "Operator", auto: "Auto-close" };
export const WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/** YYYY-MM-DD of a local date. */
export function isoDay(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

/** The from/to of a preset ("today", "7d", "30d", "month"), counted back from `now`. */
export function presetRange(preset, now = new Date()) {
  const today = new Date(now.getFullYear(), now.getMonth(), now.getDate());
  const back = (days) => new Date(today.getFullYear(), today.getMonth(), today.getDate() - days);
  const from = {
    today: today,
    "7d": back(6),
    "30d": back(29),
    month: new Date(today.getFullYear(), today.getMonth(), 1),
  }[preset];
  return from ? { from: isoDay(from), to: isoDay(today) } : null;
}

/** The preset that `filters` has as its date range, or "" when it is another range. */
export function presetOf(filters, now = new Date()) {
  for (const preset of ["today", "7d", "30d", "month"]) {
    const range = presetRange(preset, now);
    if (range.from === filters.from && range.to === filters.to) return preset;
  }
  return "";
}

/** A query string of every non-empty value of `values`, names in `order` first. */
export function queryOf(values, order = FILTER_NAMES) {
  const params = new URLSearchParams();
  const names = [...order, ...Object.keys(values).filter((name) => !order.includes(name))];
  for (const name of names) {
    const value = values[name];
    if (value !== undefined && value !== null && value !== "") params.set(name, String(value));
  }
  return params;
}

/** The query of the dialog table: filters, then the drill-down over them, then the sort. */
export function tableQuery(filters, drill, sort) {
  const values = { ...filters, ...(drill ? drill.params : {}) };
  const params = queryOf(values, [...FILTER_NAMES, ...DRILL_NAMES]);
  params.set("sort", sort.by);
  params.set("order", sort.order);
  return params;
}

/** A duration in seconds as "45 s", "12 min", "3.5 h" or "2.1 d"; "—" when there is none. */
export function duration(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(Number(seconds))) return "—";
  const s = Number(seconds);
  if (s < 60) return `${Math.round(s)} s`;
  if (s < 3600) return `${Math.round(s / 60)} min`;
  if (s < 86400) return `${trim(s / 3600)} h`;
  return `${trim(s / 86400)} d`;
}

function trim(value) {
  return value >= 10 ? String(Math.round(value)) : value.toFixed(1).replace(/\.0$/, "");
}

/** A count with the browser's digit grouping; "—" when there is none. */
export function count(value) {
  if (value === null || value === undefined || !Number.isFinite(Number(value))) return "—";
  return new Intl.NumberFormat().format(Number(value));
}

/** A percentage (0–100) as "87 %"; "—" when there is none. */
export function percent(value) {
  if (value === null || value === undefined || !Number.isFinite(Number(value))) return "—";
  return `${Math.round(Number(value))} %`;
}

/** A rating average as "4.3"; "—" when there is none. */
export function ratingAverage(value) {
  if (value === null || value === undefined || !Number.isFinite(Number(value))) return "—";
  return Number(value).toFixed(1);
}

const dayFmt = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short" });
const longDayFmt = new Intl.DateTimeFormat(undefined, { weekday: "short", day: "numeric", month: "short", year: "numeric" });

/** "3 Nov" of a YYYY-MM-DD (the day itself, whatever the browser's time zone). */
export function dayLabel(day, long = false) {
  const [y, m, d] = String(day).split("-").map(Number);
  if (!y || !m || !d) return String(day || "");
  return (long ? longDayFmt : dayFmt).format(new Date(y, m - 1, d));
}

/** "Mon 14:00–15:00" of a heatmap cell. */
export function hourLabel(weekday, hour) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${WEEKDAYS[weekday] || ""} ${pad(hour)}:00–${pad((hour + 1) % 24)}:00`;
}
