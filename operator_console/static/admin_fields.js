// Form parts the admin screens share: a labelled input with its help text and a place for the
// sentence the hub says is wrong with it. A refusal names fields by dotted path
// ("settings.schedule.week.tue"); each sentence goes next to the input whose data-field is the
// longest prefix of that path, so an error inside a day of the week sits beside that day.

import { el } from "./dom.js";
import { state } from "./state.js";

/** Whether the signed-in operator may change admin settings (managers only read). */
export const isAdmin = () => Boolean(state.me && state.me.role === "admin");

/** An input of `type` holding `value`; null and undefined show as empty. */
export function input(name, value, type = "text", attrs = {}) {
  const node = el("input", { name, type, ...attrs });
  node.value = value === undefined || value === null ? "" : String(value);
  node.disabled = !isAdmin();
  return node;
}

/** A select of `options` ([value, label] pairs or plain values) showing `value`. */
export function choice(name, options, value) {
  const node = el("select", { name }, ...options.map((o) => {
    const [v, label] = Array.isArray(o) ? o : [o, o];
    return el("option", { value: v, text: label });
  }));
  node.value = value;
  node.disabled = !isAdmin();
  return node;
}

/** A multi-line text box. */
export function area(name, value, rows = 2) {
  const node = el("textarea", { name, rows });
  node.value = value || "";
  node.disabled = !isAdmin();
  return node;
}

/** A checkbox, ticked when `value` is true. */
export function tick(name, value) {
  const node = el("input", { name, type: "checkbox" });
  node.checked = Boolean(value);
  node.disabled = !isAdmin();
  return node;
}

/** The number typed into `node`, or null when it is empty. */
export const numberOf = (node) => (node.value.trim() === "" ? null : Number(node.value));

/** The sentence slot of one field: empty and hidden until the hub refuses the field. */
export function errorSlot() {
  return el("p", { class: "field-error", dataset: { ol: "field-error" }, role: "alert", hidden: true });
}

/**
 * A labelled field: `label`, the input, a line of `help`, and where its error shows. `path`
 * is the body's field it edits ("settings.offer_seconds"). A checkbox sits before its label.
 */
export function field(label, control, { help = "", path = "", wide = false } = {}) {
  const check = control.type === "checkbox";
  const caption = el("span", { class: "admin-label", text: label });
  // A label around a composite control would send every click inside it to its first button.
  const wrap = ["INPUT", "SELECT", "TEXTAREA"].includes(control.tagName) ? "label" : "div";
  return el("div", { class: `admin-field${wide ? " admin-wide" : ""}${check ? " admin-field--check" : ""}`, dataset: { field: path } },
    el(wrap, { class: "admin-control" }, check ? control : caption, check ? caption : control),
    help ? el("small", { class: "admin-help", text: help }) : null,
    errorSlot());
}

/** A titled group of fields that spans the form's width. */
export function section(title, ...fields) {
  return el("fieldset", { class: "admin-section admin-wide" }, el("legend", { text: title }),
    el("div", { class: "admin-grid" }, ...fields));
}

/** Hide every field's sentence and the form's own. */
export function clearErrors(form) {
  for (const slot of form.querySelectorAll('[data-ol="field-error"], [data-ol$="-error"]')) {
    slot.textContent = "";
    slot.hidden = true;
  }
  for (const marked of form.querySelectorAll("[aria-invalid]")) marked.removeAttribute("aria-invalid");
}

/**
 * Show a refusal: each `{field, message}` next to its field; a sentence no field of the form
 * claims goes to `general`, the form's own error line.
 */
export function showErrors(form, err, general) {
  clearErrors(form);
  const fields = err && err.data && Array.isArray(err.data.fields) ? err.data.fields : [];
  const places = [...form.querySelectorAll("[data-field]")]
    .filter((n) => n.dataset.field && n.querySelector(':scope > [data-ol="field-error"]'));
  let placed = 0;
  for (const { field: path, message } of fields) {
    const owner = places
      .filter((n) => path === n.dataset.field || path.startsWith(`${n.dataset.field}.`))
      .sort((a, b) => b.dataset.field.length - a.dataset.field.length)[0];
    const slot = owner ? owner.querySelector(':scope > [data-ol="field-error"]') : null;
    if (!slot) continue;
    slot.textContent = slot.textContent ? `${slot.textContent} ${message}` : message;
    slot.hidden = false;
    const control = owner.querySelector("input, select, textarea");
    if (control) control.setAttribute("aria-invalid", "true");
    if (placed++ === 0) owner.scrollIntoView({ block: "center", behavior: "instant" });
  }
  if (!placed && general) {
    general.textContent = (err && err.reason) || String(err);
    general.hidden = false;
  }
}

/** A small button. */
export function button(text, onclick, { kind = "ghost", ol = "", type = "button", disabled = !isAdmin() } = {}) {
  return el("button", { class: `btn btn--${kind} btn--sm`, type, text, disabled, dataset: ol ? { ol } : undefined, onclick });
}
