// The plan editor: admins set any plan, managers those of their groups and their members.
// A group's plan applies to each member; a member's own plan of the same kind overrides it.

import { api } from "./api.js";
import { el, toast } from "./dom.js";
import { figure } from "./kpi_board.js";

function targetName(plan, names) {
  if (plan.operator_id !== null) return names.operators.get(plan.operator_id) || `Operator #${plan.operator_id}`;
  return `Group ${names.groups.get(plan.group_id) || `#${plan.group_id}`}`;
}

function planRow(plan, names, kinds, reload) {
  const kind = kinds.get(plan.kind) || { label: plan.kind, at_most: false };
  return el("tr", { dataset: { ol: "plan-row", planId: String(plan.id) } },
    el("td", { text: targetName(plan, names) }),
    el("td", { text: plan.period === "week" ? "Weekly" : "Monthly" }),
    el("td", { text: kind.label }),
    el("td", { class: "kpi-num", text: `${kind.at_most ? "≤" : "≥"} ${figure(plan.target, plan.kind)}` }),
    el("td", {}, plan.editable ? el("button", { type: "button", class: "btn btn--ghost btn--sm", dataset: { ol: "plan-delete" }, text: "Delete",
      onclick: async () => {
        try {
          await api("DELETE", `/api/kpi/plans/${plan.id}`);
          toast("Plan deleted.");
        } catch (err) {
          toast(`Not deleted: ${err.reason}`);
        }
        await reload();
      } }) : null));
}

function form(mayset, board, reload) {
  const who = el("select", { name: "target", class: "input input--sm", dataset: { ol: "plan-target" } },
    mayset.groups.length ? el("optgroup", { label: "Groups" }, mayset.groups.map((g) => el("option", { value: `g${g.id}`, text: g.name }))) : null,
    mayset.operators.length ? el("optgroup", { label: "Operators" }, mayset.operators.map((o) => el("option", { value: `o${o.id}`, text: o.name }))) : null);
  const period = el("select", { name: "period", class: "input input--sm", dataset: { ol: "plan-period" } },
    el("option", { value: "week", text: "Weekly" }), el("option", { value: "month", text: "Monthly" }));
  const kind = el("select", { name: "kind", class: "input input--sm", dataset: { ol: "plan-kind" } },
    board.kinds.map((k) => el("option", { value: k.kind, text: `${k.label} (${k.at_most ? "at most" : "at least"})` })));
  const target = el("input", { type: "number", name: "value", min: "0", step: "any", required: true, class: "input input--sm", dataset: { ol: "plan-value" } });
  const error = el("p", { class: "admin-error admin-wide", role: "alert", dataset: { ol: "plan-error" }, hidden: true });
  return el("form", { class: "admin-form", dataset: { ol: "plan-form" }, onsubmit: async (event) => {
    event.preventDefault();
    const id = Number(who.value.slice(1));
    const body = { period: period.value, kind: kind.value, target: Number(target.value) };
    if (who.value.startsWith("g")) body.group_id = id; else body.operator_id = id;
    try {
      await api("PUT", "/api/kpi/plans", body);
      toast("Plan saved.");
      await reload();
    } catch (err) {
      error.textContent = `Not saved: ${err.reason}`;
      error.hidden = false;
    }
  } },
  el("label", {}, el("span", { text: "For" }), who),
  el("label", {}, el("span", { text: "Every" }), period),
  el("label", {}, el("span", { text: "Figure" }), kind),
  el("label", {}, el("span", { text: "Target" }), target),
  error,
  el("div", { class: "admin-wide" }, el("button", { type: "submit", class: "btn btn--primary btn--sm", dataset: { ol: "plan-save" }, text: "Save plan" })));
}

/** The plans the caller reads, with a form for the ones they may set. */
export function planEditor(data, board, reload) {
  const names = {
    operators: new Map([...board.rows.map((r) => [r.operator_id, r.name]), ...data.may_set.operators.map((o) => [o.id, o.name])]),
    groups: new Map(data.may_set.groups.map((g) => [g.id, g.name])),
  };
  const kinds = new Map(board.kinds.map((k) => [k.kind, k]));
  const canSet = data.may_set.operators.length || data.may_set.groups.length;
  return el("div", {},
    canSet ? form(data.may_set, board, reload) : el("p", { class: "kpi-note", text: "You may not set plans." }),
    data.plans.length ? el("div", { class: "table-scroll kpi-scroll" },
      el("table", { class: "kpi-plans", dataset: { ol: "kpi-plans" } },
        el("thead", {}, el("tr", {}, ["For", "Period", "Figure", "Target", ""].map((t) => el("th", { scope: "col", text: t })))),
        el("tbody", {}, data.plans.map((p) => planRow(p, names, kinds, reload)))))
      : el("p", { class: "kpi-empty", text: "No plans yet." }));
}
