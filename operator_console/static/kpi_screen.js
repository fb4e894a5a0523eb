// The KPI screen: the board of plan against fact, the points rating, and for admins and
// managers the plan editor (admins also the rating weights). One navigation entry, tabs
// inside; the week or month shown is chosen once for every tab. Contract: docs/PROTOCOL.md,
// "KPI and rating". Every text is set with textContent; nothing is parsed as HTML.

import { api } from "./api.js";
import { $, el, fill } from "./dom.js";
import { boardView } from "./kpi_board.js";
import { coverageView } from "./kpi_coverage.js";
import { tasksView } from "./crm_tasks.js";
import { planEditor } from "./kpi_plans.js";
import { ratingView, weightsForm } from "./kpi_rating.js";
import { state } from "./state.js";
import { showScreen } from "./topbar.js";

const view = () => $("kpi-screen");
const role = () => (state.me ? state.me.role : "");

// What the screen shows: the tab, the period and the day it holds ("" is the current one).
const shown = { tab: "board", period: "week", date: "" };
let loaded = null; // { board, rating, plans, weights } of the last load
let problem = "";
let loads = 0; // the number of the latest load

/** Today's date on this computer as YYYY-MM-DD, the form a date input takes. */
function today() {
  const now = new Date();
  const pad = (n) => String(n).padStart(2, "0");
  return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
}

function tabs() {
  const list = [["board", "Board"], ["rating", "Rating"], ["coverage", "Coverage"]];
  // Fill-in tasks earn points; an analyst is never given any.
  if (role() !== "analyst") list.push(["tasks", "Fill-in tasks"]);
  if (role() === "admin" || role() === "manager") list.push(["plans", "Plans"]);
  if (role() === "admin") list.push(["weights", "Weights"]);
  return list;
}

function query() {
  const params = new URLSearchParams({ period: shown.period });
  if (shown.date) params.set("date", shown.date);
  return params.toString();
}

/** Load what the shown tab needs and draw it. */
export async function reload() {
  // A slower answer to an earlier choice (another tab, another week) must not replace this one.
  const mine = ++loads;
  const q = query();
  try {
    const wanted = [api("GET", `/api/kpi/board?${q}`), api("GET", `/api/kpi/rating?${q}`)];
    if (shown.tab === "plans") wanted.push(api("GET", "/api/kpi/plans"));
    if (shown.tab === "weights") wanted.push(api("GET", "/api/kpi/weights"));
    if (shown.tab === "coverage") wanted.push(api("GET", `/api/kpi/coverage?${q}`));
    if (shown.tab === "tasks") wanted.push(api("GET", "/api/crm/tasks"));
    const [board, rating, extra] = await Promise.all(wanted);
    if (mine !== loads) return;
    const only = (tab) => (shown.tab === tab ? extra : null);
    loaded = { board, rating, plans: only("plans"), weights: only("weights"), coverage: only("coverage"), tasks: only("tasks") };
    problem = "";
  } catch (err) {
    if (mine !== loads) return;
    problem = `Could not load the KPI figures: ${err.reason}`;
  }
  render();
}

function periodControls() {
  const period = el("select", { class: "input input--sm", dataset: { ol: "kpi-period" }, "aria-label": "Period",
    onchange: (e) => { shown.period = e.target.value; reload(); } },
  el("option", { value: "week", text: "Week" }), el("option", { value: "month", text: "Month" }));
  period.value = shown.period;
  const day = el("input", { type: "date", class: "input input--sm", dataset: { ol: "kpi-date" }, "aria-label": "A day in the period",
    onchange: (e) => { shown.date = e.target.value; reload(); } });
  // An empty picker reads as "no period chosen"; the current period holds today.
  day.value = shown.date || today();
  const range = loaded && loaded.board ? loaded.board.period : null;
  return el("div", { class: "kpi-period" }, period, day,
    range ? el("span", { class: "kpi-range", dataset: { ol: "kpi-range" }, text: `${range.first} – ${range.last}` }) : null);
}

function tabBar() {
  return el("div", { class: "kpi-tabs", role: "tablist" }, tabs().map(([key, label]) =>
    el("button", { type: "button", role: "tab", class: "kpi-tab", "aria-selected": String(shown.tab === key), dataset: { ol: `kpi-tab-${key}` },
      text: label, onclick: () => { shown.tab = key; reload(); } })));
}

function body() {
  if (problem) return el("p", { class: "admin-error", role: "alert", text: problem });
  if (!loaded) return el("p", { class: "kpi-empty", text: "Loading…" });
  if (shown.tab === "rating") return ratingView(loaded.rating, state.me);
  if (shown.tab === "plans" && loaded.plans) return planEditor(loaded.plans, loaded.board, reload);
  if (shown.tab === "weights" && loaded.weights) return weightsForm(loaded.weights, reload);
  if (shown.tab === "tasks" && loaded.tasks) return tasksView(loaded.tasks.tasks);
  if (shown.tab === "coverage" && loaded.coverage) return coverageView(el("div", { class: "kpi-coverage-view" }), loaded.coverage, state.me, reload);
  return boardView(loaded.board, loaded.rating, state.me);
}

function render() {
  const node = view();
  if (node.hidden) return;
  if (!tabs().some(([key]) => key === shown.tab)) shown.tab = "board";
  fill(node,
    el("header", { class: "screen-head" }, el("h2", { text: "KPI" }), periodControls()),
    tabBar(),
    body());
}

/** Wire the KPI button of the top bar (every signed-in role has it). */
export function initKpi() {
  $("nav-kpi").addEventListener("click", () => {
    showScreen(view());
    loaded = null;
    render();
    reload();
  });
}
