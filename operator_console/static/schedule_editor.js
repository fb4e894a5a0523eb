// The working-hours editor of a line: a week of days, each with any number of intervals, and
// a list of holidays picked by date or imported for a country and year. It edits the line's
// `settings.schedule` ({"week": {"mon": ["09:00-18:00"]}, "holidays": ["2026-01-01"]}); a line
// that is always open has no schedule at all (null).

import { api } from "./api.js";
import { el, toast } from "./dom.js";
import { button, errorSlot, input, isAdmin, tick } from "./admin_fields.js";

const DAYS = [["mon", "Monday"], ["tue", "Tuesday"], ["wed", "Wednesday"], ["thu", "Thursday"],
  ["fri", "Friday"], ["sat", "Saturday"], ["sun", "Sunday"]];
const FULL = { monday: "mon", tuesday: "tue", wednesday: "wed", thursday: "thu", friday: "fri", saturday: "sat", sunday: "sun" };
const PATH = "settings.schedule";
let countries = null;

// "09:00-18:00" or ["09:00", "18:00"] as [start, end]; the time inputs know no 24:00.
function split(interval) {
  const [start, end] = Array.isArray(interval) ? interval : String(interval).split(/\s*[-–]\s*/);
  return [start || "", end === "24:00" ? "00:00" : end || ""];
}

// Weekdays as the editor keeps them: mon..sun, each a list of [start, end].
function weekOf(schedule) {
  const week = Object.fromEntries(DAYS.map(([key]) => [key, []]));
  for (const [name, items] of Object.entries((schedule && schedule.week) || {})) {
    const key = FULL[name.toLowerCase()] || name.toLowerCase();
    if (week[key] && Array.isArray(items)) week[key] = items.map(split);
  }
  return week;
}

function removeHours(day, onclick) {
  const node = button("×", onclick, { ol: "hours-remove" });
  node.classList.add("hours-remove");
  node.setAttribute("aria-label", `Remove these hours on ${day}`);
  node.title = "Remove these hours";
  return node;
}

function dayRow(key, label, intervals, redraw) {
  const list = el("div", { class: "hours-list" }, ...intervals.map((pair, i) => {
    const [from, to] = [0, 1].map((j) => {
      const node = input(`${key}-${i}-${j}`, pair[j], "time", { "aria-label": `${label} ${j ? "until" : "from"}`, step: 60 });
      node.addEventListener("change", () => { pair[j] = node.value; });
      return node;
    });
    return el("span", { class: "hours-interval", dataset: { ol: "hours-interval" } }, from, el("span", { text: "–", "aria-hidden": "true" }), to,
      removeHours(label, () => { intervals.splice(i, 1); redraw(); }));
  }));
  const closed = intervals.length ? null : el("span", { class: "hours-off", text: "Day off" });
  const addHours = button("Add hours", () => {
    const last = intervals[intervals.length - 1];
    intervals.push(last ? [last[1], ""] : ["09:00", "18:00"]);
    redraw();
  }, { ol: "hours-add" });
  return el("div", { class: "hours-day", dataset: { field: `${PATH}.week.${key}`, day: key } },
    el("span", { class: "hours-name", text: label }), el("div", { class: "hours-body" }, list, closed, addHours), errorSlot());
}

function holidayList(holidays, redraw) {
  if (!holidays.length) return el("p", { class: "hours-off", text: "No holidays." });
  return el("ul", { class: "holiday-list", dataset: { ol: "holiday-list" } }, ...holidays.map((h, i) => el("li", { dataset: { ol: "holiday" } },
    el("span", { text: h.name ? `${h.date} · ${h.name}` : h.date }),
    button("Remove", () => { holidays.splice(i, 1); redraw(); }, { ol: "holiday-remove" }))));
}

function addHoliday(holidays, date, name = "") {
  if (!date || holidays.some((h) => h.date === date)) return false;
  holidays.push({ date, name });
  holidays.sort((a, b) => a.date.localeCompare(b.date));
  return true;
}

async function countryPicker() {
  const pick = el("select", { name: "holiday-country", "aria-label": "Country", disabled: !isAdmin() }, el("option", { value: "", text: "Country…" }));
  try {
    countries = countries || (await api("GET", "/api/admin/holidays/countries")).countries;
    pick.append(...countries.map((c) => el("option", { value: c.code, text: c.name })));
  } catch (err) {
    toast(`Could not load the countries: ${err.reason || err}`);
  }
  return pick;
}

function importer(holidays, redraw) {
  const slot = el("span", { class: "holiday-import" });
  const year = input("holiday-year", new Date().getFullYear(), "number", { "aria-label": "Year", min: 1970, max: 2100 });
  const error = errorSlot();
  const run = button("Import holidays", async () => {
    error.hidden = true;
    const country = slot.querySelector("select").value;
    try {
      const found = await api("GET", `/api/admin/holidays?country=${encodeURIComponent(country)}&year=${encodeURIComponent(year.value)}`);
      const added = found.holidays.filter((h) => addHoliday(holidays, h.date, h.name)).length;
      redraw();
      toast(`${added} holidays added; save the line to keep them.`);
    } catch (err) {
      error.textContent = err.reason || String(err);
      error.hidden = false;
    }
  }, { ol: "holiday-import" });
  countryPicker().then((pick) => slot.prepend(pick));
  return el("div", { class: "holiday-row" }, slot, year, run, error);
}

/**
 * The editor for `schedule` (a line's settings.schedule, or null). Returns the node and
 * `value()`, the schedule to save (null when "always open" is ticked).
 */
export function scheduleEditor(schedule) {
  const week = weekOf(schedule);
  const holidays = ((schedule && schedule.holidays) || []).map((h) => (typeof h === "string" ? { date: h, name: "" } : { date: `${h.from}..${h.to}`, name: "" }));
  const always = tick("always-open", !schedule);
  const days = el("div", { class: "hours-week", dataset: { ol: "hours-week" } });
  const dates = el("div", { dataset: { field: `${PATH}.holidays` } });
  const pickDate = input("holiday-date", "", "date", { "aria-label": "Holiday date" });
  const drawWeek = () => days.replaceChildren(...DAYS.map(([key, label]) => dayRow(key, label, week[key], drawWeek)));
  const drawHolidays = () => dates.replaceChildren(holidayList(holidays, drawHolidays), errorSlot());
  const addDate = button("Add holiday", () => { if (addHoliday(holidays, pickDate.value)) drawHolidays(); pickDate.value = ""; }, { ol: "holiday-add" });
  const body = el("div", { class: "hours-editor" }, days,
    el("h4", { text: "Holidays: closed all day" }), dates,
    el("div", { class: "holiday-row" }, pickDate, addDate), importer(holidays, drawHolidays));
  const sync = () => { body.hidden = always.checked; };
  always.addEventListener("change", sync);
  drawWeek();
  drawHolidays();
  sync();
  const node = el("div", { class: "admin-wide", dataset: { field: PATH, ol: "schedule-editor" } },
    el("label", { class: "admin-field--check" }, always, el("span", { text: "Always open (no working hours)" })), errorSlot(), body);
  const value = () => {
    if (always.checked) return null;
    const out = {};
    for (const [key] of DAYS) {
      const items = week[key].filter(([a, b]) => a || b).map(([a, b]) => `${a}-${b === "00:00" ? "24:00" : b}`);
      if (items.length) out[key] = items;
    }
    return { week: out, holidays: holidays.map((h) => h.date) };
  };
  return { node, value };
}
