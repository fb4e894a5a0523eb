// Groups of operators: a named set a line's queue can hold as one place, standing for whoever
// is in the group when a dialog is routed. Admins add groups and tick their members; managers
// read. Contract: docs/PROTOCOL.md, "Admin: groups of operators".

import { api } from "./api.js";
import { el, fill, toast } from "./dom.js";
import { button, clearErrors, field, input, isAdmin, showErrors, tick } from "./admin_fields.js";

function groupForm(group, operators, done) {
  const creating = !group.id;
  const name = input("group-name", group.name);
  name.disabled = !isAdmin();
  const people = operators.filter((o) => o.role !== "analyst");
  const boxes = people.map((o) => ({ id: o.id, box: tick(`member-${o.id}`, (group.members || []).includes(o.id)) }));
  const error = el("p", { class: "admin-error", role: "alert", dataset: { ol: "group-error" }, hidden: true });
  const form = el("form", { class: "admin-form", dataset: { ol: "group-form" }, novalidate: true },
    field("Group name", name, { path: "name", help: "Shown in line queues, e.g. Sales or Night shift." }),
    field("Members", el("div", { class: "check-people" }, ...boxes.map((b) => el("label", { class: "admin-field--check" }, b.box, el("span", { text: people.find((o) => o.id === b.id).name })))),
      { path: "operator_ids", help: "A line's queue reaches everyone ticked here. Analysts are never on a line.", wide: true }),
    el("div", { class: "admin-wide admin-actions" }, button(creating ? "Add group" : "Save", null, { kind: "primary", ol: "group-save", type: "submit" }),
      button("Cancel", () => done(false), { disabled: false }),
      creating ? null : button("Delete group", () => remove(), { kind: "danger", ol: "group-delete" }), error));
  // A group still in a line's queue is refused with the lines named, shown under the form.
  const remove = async () => {
    if (!window.confirm(`Delete the group ${group.name}?`)) return;
    clearErrors(form);
    try {
      await api("DELETE", `/api/admin/groups/${group.id}`);
      toast("Group deleted.");
      done(true);
    } catch (err) {
      showErrors(form, err, error);
    }
  };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    try {
      let id = group.id;
      if (creating) id = (await api("POST", "/api/admin/groups", { name: name.value.trim() })).group.id;
      else if (name.value.trim() !== group.name) await api("PATCH", `/api/admin/groups/${id}`, { name: name.value.trim() });
      await api("PUT", `/api/admin/groups/${id}/members`, { operator_ids: boxes.filter((b) => b.box.checked).map((b) => b.id) });
      toast("Saved.");
      done(true);
    } catch (err) {
      showErrors(form, err, error);
    }
  });
  return form;
}

/** The groups section of the Operators screen: a list, and the form of the group edited. */
export async function groupsSection(operators) {
  const node = el("section", { class: "admin-groups", dataset: { ol: "groups" } });
  const names = (ids) => ids.map((id) => (operators.find((o) => o.id === id) || { name: `#${id}` }).name).join(", ") || "Nobody yet";
  const draw = async (editing) => {
    let groups = [];
    try {
      groups = (await api("GET", "/api/admin/groups")).groups;
    } catch (err) {
      fill(node, el("p", { class: "admin-error", text: err.reason || String(err) }));
      return;
    }
    const add = isAdmin() ? button("Add group", () => draw({}), { kind: "primary", ol: "group-add", disabled: false }) : null;
    const form = editing ? groupForm(editing, operators, () => draw(null)) : null;
    fill(node, el("div", { class: "screen-head" }, el("h2", { text: "Groups of operators" }), add), form,
      el("div", { class: "table-scroll" }, el("table", { class: "admin-list" },
        el("thead", {}, el("tr", {}, el("th", { text: "Group" }), el("th", { text: "Members" }), el("th", { text: "" }))),
        el("tbody", {}, ...groups.map((g) => el("tr", { dataset: { ol: "group", group: String(g.id) } },
          el("td", { text: g.name }), el("td", { text: names(g.members) }),
          el("td", {}, isAdmin() ? button("Edit", () => draw(g), { ol: "group-edit", disabled: false }) : null)))))));
    if (!groups.length) node.append(el("p", { class: "admin-help", text: "No groups yet." }));
  };
  await draw(null);
  return node;
}
