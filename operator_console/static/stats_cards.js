// The figure cards of the statistics screen: dialogs, missed, first response time p50 and p90,
// duration, CSAT and the rating average, for all dialogs or those that began in or out of
// working hours, with first response time in calendar or business time. A card is a button:
// it drills down to the dialogs behind its figure.

import { el } from "./dom.js";
import { count, duration, percent, ratingAverage } from "./stats_query.js";

const PARTS = [["total", "All"], ["in_hours", "In hours"], ["out_of_hours", "Out of hours"]];
const PART_HOURS = { total: null, in_hours: "true", out_of_hours: "false" };

function share(part, whole) {
  if (!whole || part === null || part === undefined) return null;
  return (100 * part) / whole;
}

function rated(figures) {
  return Object.values(figures.rating_counts || {}).reduce((sum, n) => sum + (Number(n) || 0), 0);
}

// Each card: its name, its value and a line under it from one Figures, and where it drills.
const CARDS = [
  { key: "dialogs", label: "Dialogs", value: (f) => count(f.dialogs),
    note: (f) => (f.messages_per_dialog === null || f.messages_per_dialog === undefined ? "" : `${Number(f.messages_per_dialog).toFixed(1)} messages each`),
    drill: () => ({ label: "All dialogs", params: {} }) },
  { key: "missed", label: "Missed", value: (f) => count(f.missed),
    note: (f) => (share(f.missed, f.dialogs) === null ? "" : `${percent(share(f.missed, f.dialogs))} of dialogs`),
    drill: () => ({ label: "Missed dialogs", params: { missed: "true" } }) },
  { key: "frt_p50", label: "First response, median", value: (f) => duration(f.frt_p50_s), note: () => "half answered faster",
    drill: () => ({ label: "Slowest first responses", params: {}, sort: { by: "first_response_s", order: "desc" } }) },
  { key: "frt_p90", label: "First response, p90", value: (f) => duration(f.frt_p90_s), note: () => "9 in 10 answered faster",
    drill: () => ({ label: "Slowest first responses", params: {}, sort: { by: "first_response_s", order: "desc" } }) },
  { key: "duration", label: "Duration, average", value: (f) => duration(f.duration_avg_s), note: () => "from start to close",
    drill: () => ({ label: "Longest dialogs", params: {}, sort: { by: "duration_s", order: "desc" } }) },
  { key: "csat", label: "CSAT", value: (f) => percent(f.csat_pct), note: () => "ratings of 4 or 5",
    drill: (filters) => ({ label: "Rated dialogs, lowest first", params: { rating_min: filters.rating_min || "1" }, sort: { by: "rating", order: "asc" } }) },
  { key: "rating", label: "Rating, average", value: (f) => ratingAverage(f.rating_avg),
    note: (f) => (rated(f) ? `${count(rated(f))} rating${rated(f) === 1 ? "" : "s"}` : "no ratings"),
    drill: (filters) => ({ label: "Rated dialogs, lowest first", params: { rating_min: filters.rating_min || "1" }, sort: { by: "rating", order: "asc" } }) },
];

/**
 * The cards and their toggles. `view` holds `part` ("total", "in_hours", "out_of_hours") and
 * `businessTime`; `toggled()` runs when either changes (business time needs new figures);
 * `drill(d)` gets `{label, params, sort?}` when a card is chosen.
 */
export function figureCards(view, filters, summary, { toggled, drill }) {
  const figures = (summary && summary[view.part]) || {};
  const parts = el("div", { class: "stats-segmented", role: "group", "aria-label": "Which dialogs" },
    PARTS.map(([part, label]) => el("button", {
      type: "button", class: "stats-segment", dataset: { ol: `stats-part-${part}` }, "aria-pressed": String(view.part === part), text: label,
      onclick: () => { view.part = part; toggled(false); },
    })));
  const business = el("label", { class: "stats-check" },
    el("input", { type: "checkbox", dataset: { ol: "stats-business-time" }, checked: view.businessTime,
      onchange: (event) => { view.businessTime = event.target.checked; toggled(true); } }),
    "First response in business time");
  const cards = CARDS.map((card) => el("button", {
    type: "button", class: "stats-card", dataset: { ol: "stats-card", card: card.key },
    onclick: () => {
      const target = card.drill(filters);
      const hours = PART_HOURS[view.part];
      if (hours) {
        target.params = { ...target.params, in_hours: hours };
        target.label += view.part === "in_hours" ? ", in hours" : ", out of hours";
      }
      drill(target);
    },
  },
  el("span", { class: "stats-card-label", text: card.label }),
  el("span", { class: "stats-card-value", dataset: { ol: "stats-card-value" }, text: summary ? card.value(figures) : "…" }),
  el("span", { class: "stats-card-note", text: summary ? card.note(figures) : "" })));
  return el("section", { class: "stats-figures", "aria-label": "Figures" },
    el("div", { class: "stats-figures-head" }, parts, business),
    el("div", { class: "stats-cards" }, cards));
}
