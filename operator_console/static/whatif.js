// The what-if page of a line: edit a copy of its setup, replay a period's recorded dialogs
// against it and the setup as it is, and compare. Contract: docs/PROTOCOL.md, "What if…".

import { api, ApiError } from "./api.js";
import { $, el, fill } from "./dom.js";

const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const MODES = { evenly: "Evenly", sequence: "In sequence", all: "To everyone at once" };
const FIGURES = [
  ["wait_p50", "Waiting, p50", "s"],
  ["wait_p90", "Waiting, p90", "s"],
  ["missed", "Missed (nobody took it)", ""],
  ["past_threshold", "Waited past the line's threshold", ""],
  ["first_response_p50", "First response, p50", "s"],
  ["first_response_p90", "First response, p90", "s"],
  ["out_of_hours", "Out-of-hours dialogs", ""],
  ["skipped", "Offers skipped", ""],
  ["timed_out", "Offers timed out", ""],
  ["peak_load", "Peak concurrent load", ""],
];
const POLL_MS = 400;

const lineId = Number(new URLSearchParams(location.search).get("line"));
let info = null;
let chart = null;

function formatWeek(week) {
  if (!week) return DAYS.map(() => "");
  return DAYS.map((day) => (week[day] || []).map((span) => (Array.isArray(span) ? span.join("-") : span)).join(", "));
}

function parseShifts(text) {
  // "mon 09:00-18:00; sat 10:00-14:00" (one weekday per part): empty means the whole period.
  const trimmed = text.trim();
  if (!trimmed) return null;
  const week = {};
  for (const part of trimmed.split(";").map((p) => p.trim()).filter(Boolean)) {
    const [day, ...spans] = part.split(/[\s,]+/);
    if (!DAYS.includes(day)) throw new Error(`"${day}" is not a weekday (mon … sun)`);
    week[day] = [...(week[day] || []), ...spans];
  }
  return { week };
}

function shiftsText(shifts) {
  if (!shifts || !shifts.week) return "";
  const texts = formatWeek(shifts.week);
  return DAYS.map((day, i) => (texts[i] ? `${day} ${texts[i]}` : "")).filter(Boolean).join("; ");
}

function field(label, control) {
  return el("label", {}, label, control);
}

function setupPanel() {
  const current = info.current;
  const s = current.settings || {};
  const schedule = s.schedule || null;
  const week = formatWeek(schedule && schedule.week);
  const form = el("form", { class: "whatif-form", dataset: { ol: "whatif-form" }, novalidate: true });
  const mode = el("select", { name: "distribution", dataset: { ol: "whatif-mode" } },
    Object.entries(MODES).map(([value, text]) => el("option", { value, text, selected: value === current.distribution })));
  const offer = el("input", { type: "number", name: "offer_seconds", min: 60, value: s.offer_seconds ?? 60, dataset: { ol: "whatif-offer" } });
  const capacity = el("input", { type: "number", name: "max_per_operator", min: 1, value: s.max_per_operator ?? "", placeholder: "no limit", dataset: { ol: "whatif-capacity" } });
  const outside = el("select", { name: "out_of_hours" },
    el("option", { value: "wait", text: "Wait for opening", selected: s.out_of_hours !== "route" }),
    el("option", { value: "route", text: "Route anyway", selected: s.out_of_hours === "route" }));
  // A line without hours is open all week: an empty day then means "open", not "closed".
  const alwaysOpen = schedule === null;
  const days = DAYS.map((day, i) => el("input", { type: "text", name: `week-${day}`, value: week[i], placeholder: alwaysOpen ? "09:00-18:00" : "closed", "aria-label": `${day} hours` }));
  const holidays = el("input", { type: "text", name: "holidays", value: ((schedule && schedule.holidays) || []).join(", "), placeholder: "2026-12-25, 01.01" });
  const greeting = el("textarea", { name: "greeting", rows: 2 });
  greeting.value = (s.auto_replies && s.auto_replies.greeting) || "";
  const away = el("textarea", { name: "out_of_hours_reply", rows: 2 });
  away.value = (s.auto_replies && s.auto_replies.out_of_hours) || "";
  fill(form,
    el("div", { class: "whatif-row" },
      field("From", el("input", { type: "date", name: "from", value: info.period.from, dataset: { ol: "whatif-from" } })),
      field("To", el("input", { type: "date", name: "to", value: info.period.to, dataset: { ol: "whatif-to" } }))),
    el("div", { class: "whatif-row" }, field("Mode", mode), field("Offer time, s", offer)),
    el("div", { class: "whatif-row" }, field("Dialogs per operator", capacity), field("Out of hours", outside)),
    el("fieldset", { class: "whatif-panel" }, el("legend", { text: alwaysOpen ? "Working hours (all empty: open all week)" : "Working hours" }),
      el("div", { class: "whatif-week" }, DAYS.map((day, i) => [el("span", { text: day }), days[i]]))),
    field("Holidays", holidays),
    field("Greeting", greeting),
    field("Out-of-hours reply", away),
    peopleTable(),
    field("Seeded runs", el("input", { type: "number", name: "runs", min: 1, max: 20, value: 5, dataset: { ol: "whatif-runs" } })),
    el("p", { class: "whatif-error", role: "alert", dataset: { ol: "whatif-error" }, hidden: true }),
    el("div", { class: "whatif-actions" },
      el("button", { class: "btn btn--primary btn--sm", type: "submit", dataset: { ol: "whatif-run" }, text: "Run what-if" })));
  form.addEventListener("submit", (event) => { event.preventDefault(); run(form, { mode, offer, capacity, outside, days, holidays, greeting, away }); });
  return el("section", { class: "whatif-panel whatif-setup", "aria-label": "Proposed setup" },
    el("h2", { text: "Proposed setup" }),
    el("p", { class: "whatif-note", text: "A copy of the line's setup: change it, then run it against the recorded dialogs." }),
    form);
}

function peopleTable() {
  const queue = info.current.queue;
  const direct = new Map(queue.filter((q) => q.operator_id).map((q) => [q.operator_id, q]));
  const order = [...direct.keys(), ...info.operators.map((o) => o.id).filter((id) => !direct.has(id))];
  const names = new Map(info.operators.map((o) => [o.id, o.name]));
  const rows = order.map((id) => {
    const entry = direct.get(id);
    const presence = info.current.operators[id] || {};
    return el("tr", { dataset: { operator: String(id) } },
      el("td", { text: names.get(id) || `#${id}` }),
      el("td", {}, el("input", { type: "checkbox", name: "in_queue", checked: Boolean(entry), "aria-label": `${names.get(id)} in the queue` })),
      el("td", {}, el("input", { type: "number", name: "limit", min: 1, value: (entry && entry.max_open_dialogs) ?? "", placeholder: "line", "aria-label": `${names.get(id)} capacity` })),
      el("td", {}, el("input", { type: "checkbox", name: "present", checked: presence.present !== false, "aria-label": `${names.get(id)} present` })),
      el("td", {}, el("input", { type: "text", name: "shifts", value: shiftsText(presence.shifts), placeholder: "all the time", "aria-label": `${names.get(id)} shifts` })));
  });
  return el("div", { class: "whatif-table-wrap" },
    el("table", { class: "whatif-people", dataset: { ol: "whatif-people" } },
      el("thead", {}, el("tr", {}, ["Operator", "Queue", "Capacity", "Present", "Shifts"].map((h) => el("th", { text: h })))),
      el("tbody", {}, rows)));
}

function number(input) {
  return input.value === "" ? null : Number(input.value);
}

function proposal(form, parts) {
  const settings = structuredClone(info.current.settings || {});
  settings.offer_seconds = number(parts.offer) ?? 60;
  settings.max_per_operator = number(parts.capacity);
  settings.out_of_hours = parts.outside.value;
  const week = {};
  parts.days.forEach((input, i) => {
    const spans = input.value.split(",").map((v) => v.trim()).filter(Boolean);
    if (spans.length) week[DAYS[i]] = spans;
  });
  const holidays = parts.holidays.value.split(",").map((v) => v.trim()).filter(Boolean);
  settings.schedule = Object.keys(week).length || holidays.length ? { week, holidays } : null;
  settings.auto_replies = { ...(settings.auto_replies || {}), greeting: parts.greeting.value, out_of_hours: parts.away.value };
  const queue = info.current.queue.filter((q) => q.group_id);
  const operators = {};
  for (const row of form.querySelectorAll("tr[data-operator]")) {
    const id = Number(row.dataset.operator);
    const input = (name) => row.querySelector(`[name="${name}"]`);
    if (input("in_queue").checked) queue.push({ operator_id: id, max_open_dialogs: number(input("limit")) });
    const before = info.current.operators[id] || {};
    operators[id] = { shifts: parseShifts(input("shifts").value), present: input("present").checked, max_open_dialogs: before.max_open_dialogs ?? null };
  }
  return { distribution: parts.mode.value, timezone: info.current.timezone, settings, queue, operators };
}

async function run(form, parts) {
  const error = form.querySelector("[data-ol=whatif-error]");
  error.hidden = true;
  let body;
  try {
    body = { from: form.from.value, to: form.to.value, runs: Number(form.runs.value) || 5, proposed: proposal(form, parts) };
  } catch (err) {
    error.textContent = err.message;
    error.hidden = false;
    return;
  }
  const button = form.querySelector("[data-ol=whatif-run]");
  button.disabled = true;
  try {
    const started = await api("POST", `/api/lines/${lineId}/whatif/runs`, body);
    await follow(started.run);
  } catch (err) {
    error.textContent = err instanceof ApiError ? err.reason : String(err);
    error.hidden = false;
  } finally {
    button.disabled = false;
  }
}

async function follow(runId) {
  const results = $("whatif-results");
  const bar = el("progress", { class: "whatif-progress", max: 1, value: 0, dataset: { ol: "whatif-progress" }, "aria-label": "Simulation progress" });
  const note = el("p", { class: "whatif-note", text: "Replaying the period…" });
  fill(results, el("section", { class: "whatif-panel" }, el("h2", { text: "Running" }), bar, note));
  for (;;) {
    const state = await api("GET", `/api/lines/${lineId}/whatif/runs/${runId}`);
    bar.max = state.total;
    bar.value = state.done;
    note.textContent = `${state.done} of ${state.total} runs done`;
    if (state.state === "failed") throw new Error(`The simulation failed: ${state.error}`);
    if (state.state === "done") return showResults(state);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

function spread(figure, unit) {
  const text = `${figure.median}${unit ? ` ${unit}` : ""}`;
  if (figure.low === figure.high) return el("td", { text });
  return el("td", {}, text, el("br"), el("span", { class: "whatif-spread", text: `${figure.low}–${figure.high}` }));
}

function change(before, after) {
  const delta = Math.round((after - before) * 10) / 10;
  if (delta === 0) return el("td", { text: "same" });
  return el("td", { class: delta < 0 ? "whatif-better" : "whatif-worse", text: `${delta > 0 ? "+" : ""}${delta}` });
}

function figuresTable(result) {
  const { current, proposed } = result;
  return el("table", { class: "whatif-table", dataset: { ol: "whatif-figures" } },
    el("thead", {}, el("tr", {}, ["", "Current", "Proposed", "Change"].map((h) => el("th", { scope: "col", text: h })))),
    el("tbody", {}, FIGURES.map(([key, label, unit]) => el("tr", { dataset: { figure: key } },
      el("th", { scope: "row", text: label }),
      spread(current.figures[key], unit), spread(proposed.figures[key], unit),
      change(current.figures[key].median, proposed.figures[key].median)))));
}

function operatorsTable(result) {
  const names = new Map(info.operators.map((o) => [o.id, o.name]));
  const byId = (side) => new Map(result[side].operators.map((o) => [o.operator_id, o]));
  const current = byId("current");
  const proposed = byId("proposed");
  const ids = [...new Set([...current.keys(), ...proposed.keys()])];
  const load = (o) => (o ? `${o.peak_load} / ${o.capacity ?? "∞"}` : "—");
  return el("table", { class: "whatif-table", dataset: { ol: "whatif-operators" } },
    el("thead", {}, el("tr", {}, ["Operator", "Dialogs now", "Dialogs proposed", "Peak / capacity now", "Peak / capacity proposed"].map((h) => el("th", { scope: "col", text: h })))),
    el("tbody", {}, ids.map((id) => el("tr", {},
      el("th", { scope: "row", text: names.get(id) || `#${id}` }),
      el("td", { text: current.has(id) ? current.get(id).dialogs.median : "—" }),
      el("td", { text: proposed.has(id) ? proposed.get(id).dialogs.median : "—" }),
      el("td", { text: load(current.get(id)) }), el("td", { text: load(proposed.get(id)) })))));
}

function validation(state) {
  const v = state.validation;
  return el("div", { dataset: { ol: "whatif-validation" } },
    el("p", { class: "whatif-note", text: `${v.dialogs} recorded dialogs replayed. Replaying the current setup reproduces the recorded waits ${v.tolerance}:` }),
    el("ul", { class: "whatif-note" }, v.checks.map((c) => el("li", {},
      `${c.figure.replace("wait_", "waiting ")}: recorded ${c.recorded} s, replayed ${c.replayed} s — `,
      el("span", { class: c.within ? "whatif-ok" : "whatif-out", text: c.within ? "within tolerance" : "outside tolerance" })))));
}

function applyButton(state) {
  if (!info.may_apply || info.line.read_only) return null;
  const done = el("p", { class: "whatif-note", role: "status", dataset: { ol: "whatif-applied" } });
  const button = el("button", { class: "btn btn--primary btn--sm", type: "button", dataset: { ol: "whatif-apply" }, text: "Apply the proposed setup" });
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      await api("POST", `/api/lines/${lineId}/whatif/runs/${state.id}/apply`, {});
      done.textContent = "Applied. The routing audit records that it came from this simulation.";
    } catch (err) {
      done.textContent = err instanceof ApiError ? err.reason : String(err);
      button.disabled = false;
    }
  });
  return el("div", { class: "whatif-actions" }, button, done);
}

async function showResults(state) {
  const canvas = el("canvas", { dataset: { ol: "whatif-chart" }, role: "img", "aria-label": "Mean wait by hour of day, current against proposed" });
  fill($("whatif-results"),
    el("section", { class: "whatif-panel" }, el("h2", { text: "Current against proposed" }),
      validation(state), el("div", { class: "whatif-table-wrap" }, figuresTable(state.result)), applyButton(state)),
    el("section", { class: "whatif-panel" }, el("h2", { text: "Waits over the day" }), el("div", { class: "whatif-chart" }, canvas)),
    el("section", { class: "whatif-panel" }, el("h2", { text: "Operators" }), el("div", { class: "whatif-table-wrap" }, operatorsTable(state.result))));
  await drawChart(canvas, state.result);
}

function loadChartJs() {
  if (window.Chart) return Promise.resolve(window.Chart);
  return new Promise((resolve, reject) => {
    const script = el("script", { src: "/vendor/chart.umd.min.js" });
    script.onload = () => resolve(window.Chart);
    script.onerror = () => reject(new Error("Could not load the chart library"));
    document.head.append(script);
  });
}

async function drawChart(canvas, result) {
  const Chart = await loadChartJs();
  const styles = getComputedStyle(document.documentElement);
  const accent = styles.getPropertyValue("--accent").trim() || "#5b5bd6";
  const warm = styles.getPropertyValue("--waiting-bar").trim() || "#f59e0b";
  if (chart) chart.destroy();
  chart = new Chart(canvas, {
    type: "line",
    data: {
      labels: [...Array(24).keys()].map((h) => `${String(h).padStart(2, "0")}:00`),
      datasets: [
        { label: "Current", data: result.current.wait_by_hour, borderColor: accent, backgroundColor: accent, tension: 0.25 },
        { label: "Proposed", data: result.proposed.wait_by_hour, borderColor: warm, backgroundColor: warm, borderDash: [6, 4], tension: 0.25 },
      ],
    },
    options: { maintainAspectRatio: false, animation: false, plugins: { legend: { labels: { usePointStyle: true } } }, scales: { y: { beginAtZero: true, title: { display: true, text: "mean wait, s" } } } },
  });
}

async function start() {
  const root = $("whatif");
  if (!Number.isInteger(lineId) || lineId <= 0) {
    fill(root, el("p", { class: "whatif-error", text: "No line given: open the what-if from a line in the admin screen." }));
    return;
  }
  try {
    info = await api("GET", `/api/lines/${lineId}/whatif`);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) { location.href = "/"; return; }
    fill(root, el("p", { class: "whatif-error", text: err instanceof ApiError ? err.reason : String(err) }));
    return;
  }
  document.title = `What if… ${info.line.name} · Openlines`;
  fill(root,
    el("header", { class: "whatif-head" },
      el("h1", { text: `What if… ${info.line.name}` }),
      el("a", { class: "whatif-back", href: "/", text: "Back to the console" }),
      el("span", { class: "whatif-note", text: `Tolerance of the replay: ${Math.round(info.tolerance.share * 100)} % or ${info.tolerance.seconds} s` })),
    setupPanel(),
    el("div", { class: "whatif-results", id: "whatif-results", dataset: { ol: "whatif-results" } },
      el("section", { class: "whatif-panel" }, el("p", { class: "whatif-note", text: "Pick a period (the last seven days by default), change the setup, and run it." }))));
}

start();
