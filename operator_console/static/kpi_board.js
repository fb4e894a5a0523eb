// The KPI board: per operator, each plan with its fact, the % done, and whether it is met
// (green) or missed (red) with how far off. An operator sees their own card with their rank.

import { el } from "./dom.js";

const UNITS = { frt_p90_s: " s" };

/** A figure as people read it: whole numbers plain, others to one decimal. */
export function figure(value, kind) {
  if (value === null || value === undefined) return "—";
  const text = Number.isInteger(value) ? String(value) : value.toFixed(1);
  return `${text}${UNITS[kind] || ""}`;
}

function offText(kpi, atMost) {
  if (kpi.met === null) return "No data yet";
  if (kpi.met) return "Met";
  return `${figure(kpi.off_by, kpi.kind)} ${atMost ? "over" : "short"}`;
}

function verdict(kpi) {
  if (kpi.met === null) return "none";
  return kpi.met ? "met" : "missed";
}

/** One planned figure: fact against plan, % done, met or how far off. */
function kpiCell(kpi, kind) {
  if (!kpi) return el("span", { class: "kpi-noplan", text: "No plan" });
  const sign = kind.at_most ? "≤" : "≥";
  return el("div", { class: "kpi-cell", dataset: { ol: "kpi-cell", kind: kpi.kind, verdict: verdict(kpi) } },
    el("span", { class: "kpi-fact", text: figure(kpi.fact, kpi.kind) }),
    el("span", { class: "kpi-plan", text: `plan ${sign} ${figure(kpi.target, kpi.kind)}${kpi.source === "group" ? " (group)" : ""}` }),
    el("span", { class: "kpi-verdict", text: kpi.done_pct === null ? offText(kpi, kind.at_most) : `${kpi.done_pct}% · ${offText(kpi, kind.at_most)}` }));
}

function factOnly(value, kind) {
  return el("div", { class: "kpi-cell", dataset: { ol: "kpi-cell", kind: kind.kind, verdict: "unplanned" } },
    el("span", { class: "kpi-fact", text: figure(value, kind.kind) }),
    el("span", { class: "kpi-plan", text: "no plan" }));
}

function table(board) {
  const head = el("tr", {}, el("th", { scope: "col", text: "Operator" }),
    board.kinds.map((kind) => el("th", { scope: "col", text: kind.label })));
  const rows = board.rows.map((row) => {
    const byKind = new Map(row.kpis.map((k) => [k.kind, k]));
    return el("tr", { dataset: { ol: "kpi-row", operatorId: String(row.operator_id) } },
      el("th", { scope: "row", class: "kpi-name", text: row.name }),
      board.kinds.map((kind) => el("td", {}, byKind.has(kind.kind) ? kpiCell(byKind.get(kind.kind), kind) : factOnly(row.facts[kind.kind], kind))));
  });
  return el("div", { class: "table-scroll kpi-scroll" },
    el("table", { class: "kpi-board", dataset: { ol: "kpi-board" } }, el("thead", {}, head), el("tbody", {}, rows)));
}

function ownCard(board, rating, me) {
  const row = board.rows.find((r) => r.operator_id === me.id);
  if (!row) return el("p", { class: "kpi-empty", text: "No figures for you in this period." });
  const place = (rating.rows || []).find((r) => r.operator_id === me.id);
  const byKind = new Map(row.kpis.map((k) => [k.kind, k]));
  return el("section", { class: "kpi-card", dataset: { ol: "kpi-own-card" } },
    el("header", { class: "kpi-card-head" },
      el("h3", { text: row.name }),
      place ? el("span", { class: "kpi-rank", dataset: { ol: "kpi-own-rank" }, text: `Rank ${place.rank} of ${rating.ranked} · ${figure(place.points)} points` }) : null),
    el("ul", { class: "kpi-tiles", role: "list" }, board.kinds.map((kind) =>
      el("li", { class: "kpi-tile" },
        el("span", { class: "kpi-tile-label", text: kind.label }),
        byKind.has(kind.kind) ? kpiCell(byKind.get(kind.kind), kind) : factOnly(row.facts[kind.kind], kind)))));
}

/** The board for supervisors and analysts, or the operator's own card. */
export function boardView(board, rating, me) {
  if (me.role === "operator") return ownCard(board, rating, me);
  if (!board.rows.length) return el("p", { class: "kpi-empty", text: "No operators to show." });
  return table(board);
}
