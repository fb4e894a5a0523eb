// The points rating (operators by weighted points over the period) and the admins' form of
// what each kind of communication is worth.

import { api } from "./api.js";
import { el, toast } from "./dom.js";
import { figure } from "./kpi_board.js";

const CHANNELS = { telegram: "Telegram", vk: "VK", viber: "Viber", webchat: "Web chat", email: "Email" };

/** How a weighted kind reads. */
export function weightLabel(kind) {
  if (kind.startsWith("dialog:")) return `Dialog answered · ${CHANNELS[kind.slice(7)] || kind.slice(7)}`;
  return { email_reply: "Email reply", lead: "Lead created", crm_field: "Required CRM field filled" }[kind] || kind;
}

/** A count of units as the rating table shows it: "Web chat dialogs: 4". */
function unitText(kind, count) {
  if (kind.startsWith("dialog:")) return `${CHANNELS[kind.slice(7)] || kind.slice(7)} dialogs: ${count}`;
  const names = { email_reply: "Email replies", lead: "Leads", crm_field: "CRM fields filled" };
  return `${names[kind] || kind}: ${count}`;
}

/** The ranking table; an operator's answer holds only their own row. */
export function ratingView(rating, me) {
  if (!rating.rows.length) return el("p", { class: "kpi-empty", text: "Nobody to rank in this period." });
  const rows = rating.rows.map((row) => el("tr", { dataset: { ol: "rating-row", operatorId: String(row.operator_id) }, class: row.operator_id === me.id ? "kpi-me" : null },
    el("td", { class: "kpi-num", text: String(row.rank) }),
    el("th", { scope: "row", class: "kpi-name", text: row.name }),
    el("td", { class: "kpi-num", dataset: { ol: "rating-points" }, text: figure(row.points) }),
    el("td", { class: "kpi-units", text: Object.entries(row.units).filter(([, n]) => n).map(([k, n]) => unitText(k, n)).join(", ") || "—" })));
  return el("div", {},
    el("p", { class: "kpi-note", text: `${rating.ranked} operators ranked; equal points share a rank.` }),
    el("p", { class: "kpi-note", dataset: { ol: "rating-weights" }, text: `Points per unit: ${Object.entries(rating.weights).map(([k, w]) => `${weightLabel(k)} ${w}`).join(", ")}.` }),
    el("div", { class: "table-scroll kpi-scroll" },
      el("table", { class: "kpi-rating", dataset: { ol: "kpi-rating" } },
        el("thead", {}, el("tr", {}, ["Rank", "Operator", "Points", "What earned them"].map((t) => el("th", { scope: "col", text: t })))),
        el("tbody", {}, rows))));
}

/** The weights form (admins). */
export function weightsForm(data, reload) {
  const inputs = Object.entries(data.weights).map(([kind, weight]) => {
    const input = el("input", { type: "number", min: "0", max: "1000", step: "0.25", name: kind, class: "input input--sm", dataset: { ol: "weight-input", kind } });
    input.value = String(weight);
    return el("label", {}, el("span", { text: weightLabel(kind) }), input);
  });
  const error = el("p", { class: "admin-error admin-wide", role: "alert", dataset: { ol: "weights-error" }, hidden: true });
  const form = el("form", { class: "admin-form", dataset: { ol: "weights-form" }, onsubmit: async (event) => {
    event.preventDefault();
    const weights = {};
    for (const input of form.querySelectorAll("input")) weights[input.name] = Number(input.value);
    try {
      await api("PUT", "/api/kpi/weights", { weights });
      toast("Weights saved.");
      await reload();
    } catch (err) {
      error.textContent = `Not saved: ${err.reason}`;
      error.hidden = false;
    }
  } }, inputs, error,
  el("div", { class: "admin-wide" }, el("button", { type: "submit", class: "btn btn--primary btn--sm", dataset: { ol: "weights-save" }, text: "Save weights" })));
  return el("div", {}, el("p", { class: "kpi-note", text: "Points each unit earns in the rating." }), form);
}
