// The statistics screen's address, so a report can be bookmarked, shared, reloaded and walked
// with Back and Forward: #/stats?<filters>&part=…&business_time=true&drill=<label>&d.<name>=…
// &sort=…&order=…. The filters keep their API names (from and to are always written, even
// empty, so "no date" survives a reload); the drill-down's own filters are prefixed with "d."
// because it may narrow a filter the bar also has. Pure functions of their arguments.

import { DRILL_NAMES, FILTER_NAMES, SORTS } from "./stats_query.js";

const PREFIX = "#/stats";
const PARTS = new Set(["total", "in_hours", "out_of_hours"]);
const DRILLABLE = new Set([...FILTER_NAMES, ...DRILL_NAMES]);
/** The table's order when nothing else is asked for. */
export const DEFAULT_SORT = Object.freeze({ by: "started_at", order: "desc" });

/** Whether `hash` is an address of the statistics screen. */
export function isStatsRoute(hash = location.hash) {
  return hash === PREFIX || hash.startsWith(`${PREFIX}?`);
}

/** The address of a screen state `{filters, figures, drill, sort}`. */
export function statsHash({ filters, figures, drill, sort }) {
  const ordered = new URLSearchParams();
  for (const name of FILTER_NAMES) {
    const value = filters[name] ?? "";
    if (value !== "" || name === "from" || name === "to") ordered.set(name, String(value));
  }
  if (figures.part !== "total") ordered.set("part", figures.part);
  if (figures.businessTime) ordered.set("business_time", "true");
  if (drill) {
    ordered.set("drill", drill.label);
    for (const [name, value] of Object.entries(drill.params || {})) ordered.set(`d.${name}`, String(value));
  }
  if (sort.by !== DEFAULT_SORT.by || sort.order !== DEFAULT_SORT.order) {
    ordered.set("sort", sort.by);
    ordered.set("order", sort.order);
  }
  return `${PREFIX}?${ordered}`;
}

/**
 * The screen state an address names, over `defaults` (the filters of a new screen): what the
 * address leaves out keeps its default, and what it names wrongly is dropped.
 */
export function parseStatsHash(hash, defaults) {
  const params = new URLSearchParams(hash.slice(PREFIX.length).replace(/^\?/, ""));
  const filters = { ...defaults };
  for (const name of FILTER_NAMES) if (params.has(name)) filters[name] = params.get(name);
  const part = params.get("part");
  const figures = { part: PARTS.has(part) ? part : "total", businessTime: params.get("business_time") === "true" };
  let drill = null;
  if (params.has("drill")) {
    const drillParams = {};
    for (const [key, value] of params) {
      const name = key.startsWith("d.") ? key.slice(2) : "";
      if (DRILLABLE.has(name)) drillParams[name] = value;
    }
    drill = { label: params.get("drill") || "Dialogs", params: drillParams };
  }
  const by = params.get("sort");
  const order = params.get("order");
  const sort = SORTS.includes(by) && (order === "asc" || order === "desc") ? { by, order } : { ...DEFAULT_SORT };
  return { filters, figures, drill, sort };
}
