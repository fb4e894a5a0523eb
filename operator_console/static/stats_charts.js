// The charts of the statistics screen, drawn by Chart.js (and its matrix chart for the weekday
// × hour heatmap), both served by the hub from node_modules and loaded the first time the
// screen opens. Each chart drills down: a click on a day, a point, a cell or a bar hands the
// screen the filters of the dialogs behind it. Keyboard users do the same without a mouse: Tab
// reaches the chart, the arrow keys walk its points (showing each one's tooltip, and saying it
// to screen readers), Enter drills down.

import { channelLabel } from "./format.js";
import { WEEKDAYS, dayLabel, duration, hourLabel } from "./stats_query.js";

const LIBRARIES = ["/vendor/chart.umd.min.js", "/vendor/chartjs-chart-matrix.min.js"];
const CHANNEL_COLOURS = { webchat: "#5b5bd6", telegram: "#0ea5e9", vk: "#14b8a6", viber: "#a855f7", email: "#f59e0b" };
const SPARE_COLOURS = ["#ef4444", "#84cc16", "#ec4899", "#64748b"];
const HOURS = Array.from({ length: 24 }, (_, h) => String(h));

let loading = null;
const drawn = new Map(); // chart name -> Chart

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = src;
    script.onload = resolve;
    script.onerror = () => reject(new Error(`Could not load ${src}`));
    document.head.append(script);
  });
}

/** Chart.js with the matrix chart registered; loaded once, again after a failure. */
export function chartLibrary() {
  if (window.Chart && window.Chart.registry.controllers.get("matrix")) return Promise.resolve(window.Chart);
  if (!loading) {
    loading = LIBRARIES.reduce((done, src) => done.then(() => loadScript(src)), Promise.resolve())
      .then(() => window.Chart)
      .catch((err) => { loading = null; throw err; });
  }
  return loading;
}

/** Drop every chart (the screen was left or rebuilt). */
export function destroyCharts() {
  for (const chart of drawn.values()) chart.destroy();
  drawn.clear();
}

function colours() {
  const css = getComputedStyle(document.documentElement);
  const read = (name) => css.getPropertyValue(name).trim();
  return { text: read("--text-2"), grid: read("--border"), accent: read("--accent"), danger: read("--danger"), empty: read("--surface-2") };
}

function rgba(hex, alpha) {
  const m = /^#?([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex);
  if (!m) return hex;
  return `rgba(${parseInt(m[1], 16)}, ${parseInt(m[2], 16)}, ${parseInt(m[3], 16)}, ${alpha})`;
}

function baseOptions(c) {
  return {
    responsive: true,
    maintainAspectRatio: false,
    animation: false,
    color: c.text,
    plugins: { legend: { position: "bottom", labels: { color: c.text, boxWidth: 12, boxHeight: 12 } } },
    onHover: (event, elements) => {
      if (event.native && event.native.target) event.native.target.style.cursor = elements.length ? "pointer" : "default";
    },
  };
}

function axis(c, extra = {}) {
  return { ticks: { color: c.text }, grid: { color: c.grid }, border: { color: c.grid }, ...extra };
}

/**
 * Draw `config` on `canvas` as the chart `name`. `walk` says which points the arrow keys visit:
 * `datasets` "first" (charts that drill by x alone) or "all", and `stride`, the step of Up and
 * Down (a heatmap's row).
 */
function draw(Chart, name, canvas, config, walk = { datasets: "first", stride: 1 }) {
  const old = drawn.get(name);
  if (old) old.destroy();
  const chart = new Chart(canvas, config);
  drawn.set(name, chart);
  walkWithKeys(chart, canvas, walk);
}

function walkPoints(chart, datasets) {
  const sets = datasets === "all" ? chart.data.datasets : chart.data.datasets.slice(0, 1);
  return sets.flatMap((set, datasetIndex) => set.data.map((_, index) => ({ datasetIndex, index })));
}

function pointText(chart, { datasetIndex, index }) {
  const set = chart.data.datasets[datasetIndex];
  const raw = set.data[index];
  if (raw && typeof raw === "object") return `${hourLabel(raw.weekday, raw.hour)}: ${raw.v} dialogs`;
  const at = chart.data.labels ? chart.data.labels[index] : "";
  return `${at}, ${set.label}: ${raw === null || raw === undefined ? "none" : raw}`;
}

function showPoint(chart, points) {
  const centre = points.length ? points[0] : null;
  const at = centre ? chart.getDatasetMeta(centre.datasetIndex).data[centre.index] : null;
  chart.setActiveElements(points);
  chart.tooltip.setActiveElements(points, at ? { x: at.x, y: at.y } : { x: 0, y: 0 });
  chart.update("none");
}

function walkWithKeys(chart, canvas, { datasets, stride }) {
  canvas.tabIndex = 0;
  let at = -1;
  const steps = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: stride, ArrowUp: -stride };
  canvas.onkeydown = (event) => {
    const points = walkPoints(chart, datasets);
    if (!points.length) return;
    if ((event.key === "Enter" || event.key === " ") && at >= 0) {
      event.preventDefault();
      chart.options.onClick(event, [points[at]]);
      return;
    }
    if (!(event.key in steps)) return;
    event.preventDefault();
    at = at < 0 ? 0 : (at + steps[event.key] + points.length) % points.length;
    showPoint(chart, [points[at]]);
    announce(pointText(chart, points[at]));
  };
  canvas.onblur = () => {
    at = -1;
    showPoint(chart, []);
  };
}

// One polite live region for every chart: a screen reader says the point the keys reached.
function announce(text) {
  let region = document.querySelector('[data-ol="stats-chart-said"]');
  if (!region) {
    region = document.createElement("div");
    region.className = "sr-only";
    region.setAttribute("aria-live", "polite");
    region.dataset.ol = "stats-chart-said";
    document.body.append(region);
  }
  region.textContent = text;
}

function dailyChart(Chart, canvas, daily, drill) {
  const c = colours();
  const days = daily.days || [];
  const spare = [...SPARE_COLOURS];
  const datasets = Object.entries(daily.by_channel || {}).map(([kind, counts]) => ({
    label: channelLabel(kind), data: counts, stack: "dialogs",
    backgroundColor: CHANNEL_COLOURS[kind] || spare.shift() || c.accent,
  }));
  draw(Chart, "daily", canvas, {
    type: "bar",
    data: { labels: days.map((d) => dayLabel(d)), datasets },
    options: {
      ...baseOptions(c),
      interaction: { mode: "index", intersect: false },
      scales: { x: axis(c, { stacked: true, grid: { display: false } }), y: axis(c, { stacked: true, beginAtZero: true, ticks: { color: c.text, precision: 0 } }) },
      onClick: (event, elements) => {
        if (!elements.length) return;
        const day = days[elements[0].index];
        drill({ label: `Dialogs of ${dayLabel(day, true)}`, params: { day } });
      },
    },
  });
}

// Seconds read badly on an axis (17 min as "1000"): the chart is drawn in minutes.
function minutes(seconds) {
  return (seconds || []).map((s) => (s === null || s === undefined ? null : s / 60));
}

function responseChart(Chart, canvas, daily, drill) {
  const c = colours();
  const days = daily.days || [];
  const line = (label, data, colour, dash) => ({
    label, data, borderColor: colour, backgroundColor: colour, borderDash: dash, pointRadius: 3, pointHoverRadius: 5, spanGaps: true, tension: 0.2,
  });
  draw(Chart, "response", canvas, {
    type: "line",
    data: {
      labels: days.map((d) => dayLabel(d)),
      datasets: [line("Median (p50)", minutes(daily.frt_p50_s), c.accent, []), line("p90", minutes(daily.frt_p90_s), c.danger, [6, 4])],
    },
    options: {
      ...baseOptions(c),
      interaction: { mode: "index", intersect: false },
      scales: {
        x: axis(c, { grid: { display: false } }),
        y: axis(c, { beginAtZero: true, title: { display: true, text: "minutes", color: c.text } }),
      },
      plugins: {
        ...baseOptions(c).plugins,
        tooltip: { callbacks: { label: (item) => `${item.dataset.label}: ${duration(item.parsed.y * 60)}` } },
      },
      onClick: (event, elements) => {
        if (!elements.length) return;
        const day = days[elements[0].index];
        drill({ label: `Slowest first responses of ${dayLabel(day, true)}`, params: { day }, sort: { by: "first_response_s", order: "desc" } });
      },
    },
  });
}

function heatmapChart(Chart, canvas, heatmap, drill) {
  const c = colours();
  const cells = heatmap.cells || [];
  const points = cells.flatMap((row, weekday) => row.map((v, hour) => ({ x: String(hour), y: WEEKDAYS[weekday], v, weekday, hour })));
  const most = Math.max(1, ...points.map((p) => p.v));
  const area = (chart) => chart.chartArea || { width: 0, height: 0 };
  draw(Chart, "heatmap", canvas, {
    type: "matrix",
    data: {
      datasets: [{
        label: "Incoming dialogs",
        data: points,
        backgroundColor: (ctx) => (ctx.raw && ctx.raw.v ? rgba(c.accent, 0.15 + (0.85 * ctx.raw.v) / most) : c.empty),
        borderWidth: 0,
        width: ({ chart }) => Math.max(1, area(chart).width / 24 - 2),
        height: ({ chart }) => Math.max(1, area(chart).height / 7 - 2),
      }],
    },
    options: {
      ...baseOptions(c),
      plugins: {
        legend: { display: false },
        tooltip: { callbacks: { title: (items) => hourLabel(items[0].raw.weekday, items[0].raw.hour), label: (item) => `${item.raw.v} dialog${item.raw.v === 1 ? "" : "s"}` } },
      },
      scales: {
        x: { type: "category", labels: HOURS, offset: true, grid: { display: false }, border: { display: false }, ticks: { color: c.text, autoSkip: true, maxRotation: 0 } },
        // The matrix chart turns its y axis upside down by default; a week reads Monday first.
        y: { type: "category", labels: WEEKDAYS, offset: true, reverse: false, grid: { display: false }, border: { display: false }, ticks: { color: c.text } },
      },
      onClick: (event, elements) => {
        if (!elements.length) return;
        const { weekday, hour } = points[elements[0].index];
        drill({ label: `Dialogs started ${hourLabel(weekday, hour)}`, params: { weekday: String(weekday), hour: String(hour) } });
      },
    },
  }, { datasets: "first", stride: 24 });
}

/** How tall the per-operator chart is for `n` operators: every bar keeps room for its name. */
export function operatorChartHeight(n) {
  return Math.max(180, 30 * n + 70);
}

function operatorChart(Chart, canvas, summaryGroups, drill) {
  const c = colours();
  // Dialogs nobody took have no operator to filter by: the chart is of operators only.
  const groups = summaryGroups.filter((g) => g.key !== null && g.key !== undefined).sort((a, b) => (b.dialogs || 0) - (a.dialogs || 0));
  draw(Chart, "operators", canvas, {
    type: "bar",
    data: {
      labels: groups.map((g) => g.label || `#${g.key}`),
      datasets: [
        { label: "Dialogs", data: groups.map((g) => g.dialogs || 0), backgroundColor: c.accent },
        { label: "Missed", data: groups.map((g) => g.missed || 0), backgroundColor: c.danger },
      ],
    },
    options: {
      ...baseOptions(c),
      indexAxis: "y",
      interaction: { mode: "nearest", axis: "y", intersect: false },
      scales: { x: axis(c, { beginAtZero: true, ticks: { color: c.text, precision: 0 } }), y: axis(c, { grid: { display: false } }) },
      onClick: (event, elements) => {
        if (!elements.length) return;
        const { index, datasetIndex } = elements[0];
        const group = groups[index];
        const missed = datasetIndex === 1;
        drill({
          label: `${missed ? "Missed dialogs" : "Dialogs"} of ${group.label || `#${group.key}`}`,
          params: missed ? { operator_id: String(group.key), missed: "true" } : { operator_id: String(group.key) },
        });
      },
    },
  }, { datasets: "all", stride: 1 });
}

/**
 * Draw the four charts into `canvases` ({daily, response, heatmap, operators}) from the
 * answers of /api/stats/daily, /heatmap and /summary?group_by=operator.
 */
export async function drawCharts(canvases, { daily, heatmap, summary }, drill) {
  const Chart = await chartLibrary();
  if (daily) {
    dailyChart(Chart, canvases.daily, daily, drill);
    responseChart(Chart, canvases.response, daily, drill);
  }
  if (heatmap) heatmapChart(Chart, canvases.heatmap, heatmap, drill);
  if (summary) operatorChart(Chart, canvases.operators, summary.groups || [], drill);
}
