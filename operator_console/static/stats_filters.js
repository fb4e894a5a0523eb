// The filter bar of the statistics screen: a date range with presets, then line, channel,
// operator, status, in/out of hours, outcome and a rating range. It edits the screen's filter
// object in place and says when it changed; the choices of line, channel and operator come
// from the statistics themselves, so each person is offered only what their scope holds.

import { el } from "./dom.js";
import { STATUS_LABELS } from "./format.js";
import { OUTCOME_LABELS, presetOf, presetRange } from "./stats_query.js";

const PRESETS = [["today", "Today"], ["7d", "7 days"], ["30d", "30 days"], ["month", "This month", "Month"]];
const CHOICE_FILTERS = { line_id: "lines", channel_id: "channels", operator_id: "operators" };

/** The filters a new screen starts with: the last 30 days, nothing else. */
export function defaultFilters() {
  return { ...presetRange("30d"), line_id: "", channel_id: "", operator_id: "", status: "", in_hours: "", outcome: "", rating_min: "", rating_max: "" };
}

/** How many filters besides the date range are set (the phone's "Filters" button shows it). */
export function activeFilterCount(filters) {
  return Object.entries(filters).filter(([name, value]) => name !== "from" && name !== "to" && value !== "").length;
}

function field(label, control, extra = "") {
  return el("label", { class: `stats-field ${extra}`.trim() }, el("span", { class: "stats-field-label", text: label }), control);
}

function options(anyLabel, pairs) {
  return [el("option", { value: "", text: anyLabel }), pairs.map(([value, text]) => el("option", { value: String(value), text }))];
}

function ratingOptions(anyLabel) {
  return options(anyLabel, [1, 2, 3, 4, 5].map((n) => [n, `${n} ★`]));
}

// Everything but the dates: shown at once on a wide screen, behind "Filters" on a phone.
function detailFields(select, control, reset) {
  return el("div", { class: "stats-filters-more", id: "stats-filters-more" },
    field("Line", select("line_id", "Every line")),
    field("Channel", select("channel_id", "Every channel")),
    field("Operator", select("operator_id", "Everyone")),
    field("Status", select("status", "Any status", Object.entries(STATUS_LABELS))),
    field("Hours", select("in_hours", "All hours", [["true", "In working hours"], ["false", "Out of hours"]])),
    field("Outcome", select("outcome", "Any outcome", Object.entries(OUTCOME_LABELS))),
    el("div", { class: "stats-field stats-field--range", role: "group", "aria-label": "Rating" },
      el("span", { class: "stats-field-label", text: "Rating" }),
      el("span", { class: "stats-range" },
        control("rating_min", el("select", { class: "stats-input", name: "rating_min", "aria-label": "Lowest rating" }, ratingOptions("Any"))),
        el("span", { "aria-hidden": "true", text: "–" }),
        control("rating_max", el("select", { class: "stats-input", name: "rating_max", "aria-label": "Highest rating" }, ratingOptions("Any"))))),
    el("button", { type: "button", class: "btn btn--ghost btn--sm stats-reset", dataset: { ol: "stats-reset" }, text: "Reset filters", onclick: reset }));
}

/**
 * The filter bar over `filters` (edited in place); `changed()` runs after every edit.
 * Returns `{ node, setChoices(choices) }`, where choices are `{lines, channels, operators}`
 * lists of `{id, label}`.
 */
export function filterBar(filters, changed) {
  const controls = {};
  const presetButtons = PRESETS.map(([preset, label, short]) => el("button", {
    type: "button", class: "stats-preset", dataset: { ol: `stats-preset-${preset}`, preset },
    onclick: () => { Object.assign(filters, presetRange(preset)); sync(); changed(); },
  }, short ? [el("span", { class: "label-long", text: label }), el("span", { class: "label-short", text: short })] : label));
  const onEdit = (name) => () => {
    filters[name] = controls[name].value;
    if (filters.from && filters.to && filters.from > filters.to) [filters.from, filters.to] = [filters.to, filters.from];
    if (filters.rating_min && filters.rating_max && filters.rating_min > filters.rating_max) {
      [filters.rating_min, filters.rating_max] = [filters.rating_max, filters.rating_min];
    }
    sync();
    changed();
  };
  const control = (name, node) => {
    controls[name] = node;
    node.dataset.ol = `stats-filter-${name}`;
    node.addEventListener("change", onEdit(name));
    return node;
  };
  const select = (name, anyLabel, pairs = []) => control(name, el("select", { class: "stats-input", name }, options(anyLabel, pairs)));
  const date = (name) => control(name, el("input", { class: "stats-input", type: "date", name, required: true }));

  const more = detailFields(select, control, () => { Object.assign(filters, defaultFilters()); sync(); changed(); });
  const toggle = el("button", {
    type: "button", class: "btn btn--secondary btn--sm stats-filters-toggle", dataset: { ol: "stats-filters-toggle" },
    "aria-expanded": "false", "aria-controls": "stats-filters-more",
    onclick: () => { node.dataset.open = String(node.dataset.open !== "true"); sync(); },
  });
  const node = el("form", { class: "stats-filters", dataset: { ol: "stats-filters", open: "false" }, "aria-label": "Filters", onsubmit: (e) => e.preventDefault() },
    el("div", { class: "stats-dates" },
      el("div", { class: "stats-presets", role: "group", "aria-label": "Period" }, presetButtons),
      field("From", date("from"), "stats-field--date"),
      field("To", date("to"), "stats-field--date"),
      toggle),
    more);

  function sync() {
    for (const [name, input] of Object.entries(controls)) {
      if (input.value !== filters[name]) input.value = filters[name];
      // A choice no longer offered (another date range) stays selectable while it is set.
      if (input.value !== filters[name]) {
        input.append(el("option", { value: filters[name], text: `#${filters[name]}` }));
        input.value = filters[name];
      }
    }
    const preset = presetOf(filters);
    for (const button of presetButtons) button.setAttribute("aria-pressed", String(button.dataset.preset === preset));
    const active = activeFilterCount(filters);
    toggle.textContent = active ? `Filters (${active})` : "Filters";
    toggle.setAttribute("aria-expanded", node.dataset.open);
  }

  function setChoices(choices) {
    for (const [name, key] of Object.entries(CHOICE_FILTERS)) {
      const anyOption = controls[name].options[0];
      const pairs = (choices[key] || []).map((c) => [c.id, c.label]);
      controls[name].replaceChildren(anyOption, ...pairs.map(([value, text]) => el("option", { value: String(value), text })));
    }
    sync();
  }

  sync();
  return { node, setChoices };
}
