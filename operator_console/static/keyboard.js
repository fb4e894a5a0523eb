// Keyboard use of the console: Alt+↑/↓ through the dialog list, Ctrl+K to search, Esc closes
// what is open, "/" for quick answers, "?" for the list of shortcuts, and the operator's choice
// of Enter or Ctrl+Enter to send (kept per operator in this browser).

import { listedDialogIds, revealDialog } from "./dialog_list.js";
import { $, el } from "./dom.js";
import { goBack, selectDialog } from "./navigation.js";
import { clearSearch, focusSearch, searchShown } from "./search.js";
import { state } from "./state.js";

const SHORTCUTS = [
  ["Alt + ↑ / ↓", "Previous / next dialog in the list"],
  ["Ctrl + K", "Search messages and clients"],
  ["/", "Quick answers (in the reply box, at the start of a word)"],
  ["↑ / ↓, Enter", "Choose and insert a quick answer"],
  ["Enter", "Send the reply (or Ctrl + Enter, see Settings)"],
  ["Shift + Enter", "New line in the reply"],
  ["Esc", "Close the open list, panel or window"],
  ["?", "This list of shortcuts"],
];

let returnFocus = null;

function preferenceKey() {
  return state.me ? `openlines.sendKey.${state.me.id}` : null;
}

/** Whether this operator sends with Ctrl+Enter (Enter then adds a line). */
export function sendsOnCtrlEnter() {
  const key = preferenceKey();
  try {
    return Boolean(key) && localStorage.getItem(key) === "ctrl-enter";
  } catch (err) {
    return false;
  }
}

function setSendKey(value) {
  const key = preferenceKey();
  try {
    if (key) localStorage.setItem(key, value);
  } catch (err) {
    // Private windows may refuse storage: the choice then lasts until the page is left.
  }
  applySendKey();
}

/** Show the operator's send key in the reply box's hint and the settings. */
export function applySendKey() {
  const ctrl = sendsOnCtrlEnter();
  const reply = $("reply");
  if (window.matchMedia("(min-width: 1024px)").matches) {
    reply.placeholder = ctrl ? "Write a reply… (Ctrl+Enter sends, Enter adds a line)" : "Write a reply… (Enter sends, Shift+Enter adds a line)";
  }
  $("composer-hint").textContent = ctrl ? "Ctrl+Enter sends · Enter adds a line" : "Enter sends · Shift+Enter adds a line";
  const radio = document.querySelector(`input[name="send-key"][value="${ctrl ? "ctrl-enter" : "enter"}"]`);
  if (radio) radio.checked = true;
}

function isTextField(node) {
  return Boolean(node && node.closest && node.closest("input, textarea, select, [contenteditable='true']"));
}

function showLayer(layer, open, focusTarget) {
  if (open === !layer.hidden) return;
  if (open) {
    returnFocus = document.activeElement;
    layer.hidden = false;
    (focusTarget || layer).focus();
  } else {
    layer.hidden = true;
    const back = returnFocus && returnFocus.isConnected && returnFocus.offsetParent !== null ? returnFocus : null;
    returnFocus = null;
    if (back) back.focus();
    // Where focus came from cannot take it back (the page itself): it must not stay hidden.
    if (layer.contains(document.activeElement)) document.activeElement.blur();
  }
}

/** Open or close the list of shortcuts. */
export function showShortcuts(open) {
  showSettings(false);
  showLayer($("shortcuts"), open, $("shortcuts-close"));
}

function showSettings(open) {
  $("settings-open").setAttribute("aria-expanded", String(open));
  showLayer($("settings"), open, document.querySelector('input[name="send-key"]:checked'));
}

/** Open the previous (-1) or next (+1) dialog of the list. */
export function moveSelection(step) {
  // The list draws only the items near its viewport: step through its order, not its items.
  const ids = listedDialogIds();
  if (!ids.length) return;
  const at = ids.indexOf(state.selectedId);
  const next = at === -1 ? (step > 0 ? 0 : ids.length - 1) : Math.min(Math.max(at + step, 0), ids.length - 1);
  if (next === at) return;
  revealDialog(ids[next]);
  selectDialog(ids[next]);
}

// "/" outside a text field: write it into the reply box, where it opens the quick answers.
function startQuickAnswer() {
  const reply = $("reply");
  if (state.selectedId === null || reply.disabled || reply.offsetParent === null) return false;
  const needsSpace = reply.value && !/\s$/.test(reply.value);
  reply.focus();
  reply.setRangeText(`${needsSpace ? " " : ""}/`, reply.value.length, reply.value.length, "end");
  reply.dispatchEvent(new Event("input", { bubbles: true }));
  return true;
}

// Esc closes the topmost thing open: shortcuts, settings, the search results, the phone's panel.
function closeTopmost(event) {
  if (!$("shortcuts").hidden) showShortcuts(false);
  else if (!$("settings").hidden) showSettings(false);
  else if (searchShown() && !isTextField(event.target)) clearSearch();
  else if ($("workspace").dataset.pane === "client" && window.matchMedia("(max-width: 767px)").matches) goBack();
  else return false;
  return true;
}

function onKey(event) {
  const mod = event.ctrlKey || event.metaKey;
  let used = true;
  if (mod && !event.altKey && event.key.toLowerCase() === "k") focusSearch();
  else if (event.altKey && !mod && (event.key === "ArrowDown" || event.key === "ArrowUp")) moveSelection(event.key === "ArrowDown" ? 1 : -1);
  else if (event.key === "Escape") used = closeTopmost(event);
  // The shortcuts window is modal: Tab stays on its one control.
  else if (event.key === "Tab" && !$("shortcuts").hidden) $("shortcuts-close").focus();
  else if (mod || event.altKey || isTextField(event.target)) used = false;
  else if (event.key === "?") showShortcuts($("shortcuts").hidden);
  else if (event.key === "/") used = startQuickAnswer();
  else used = false;
  if (used) event.preventDefault();
}

function shortcutsLayer() {
  const close = el("button", { type: "button", class: "btn btn--secondary btn--sm", id: "shortcuts-close", dataset: { ol: "shortcuts-close" }, text: "Close", onclick: () => showShortcuts(false) });
  const rows = SHORTCUTS.map(([keys, what]) => el("div", { class: "shortcut", dataset: { ol: "shortcut" } },
    el("dt", {}, el("kbd", { text: keys })), el("dd", { text: what })));
  return el("div", { class: "modal-backdrop", id: "shortcuts", dataset: { ol: "shortcuts" }, hidden: true, onclick: (e) => { if (e.target.id === "shortcuts") showShortcuts(false); } },
    el("div", { class: "modal", role: "dialog", "aria-modal": "true", "aria-labelledby": "shortcuts-title", tabindex: "-1" },
      el("header", { class: "modal-head" }, el("h2", { class: "modal-title", id: "shortcuts-title", text: "Keyboard shortcuts" }), close),
      el("dl", { class: "shortcut-list" }, rows)));
}

function settingsLayer() {
  const choice = (value, text) => el("label", { class: "settings-choice" },
    el("input", { type: "radio", name: "send-key", value, dataset: { ol: `send-key-${value}` }, onchange: () => setSendKey(value) }), el("span", { text }));
  return el("div", { class: "popover", id: "settings", dataset: { ol: "settings" }, role: "dialog", "aria-label": "Settings", tabindex: "-1", hidden: true },
    el("fieldset", { class: "settings-group" },
      el("legend", { class: "settings-legend", text: "Send a reply with" }),
      choice("enter", "Enter (Shift+Enter: new line)"),
      choice("ctrl-enter", "Ctrl+Enter (Enter: new line)")),
    el("button", { type: "button", class: "link-button", dataset: { ol: "shortcuts-open" }, text: "Keyboard shortcuts (?)", onclick: () => showShortcuts(true) }));
}

/** Build the shortcuts window and the settings popover, and listen for the shortcuts. */
export function initKeyboard() {
  $("settings-slot").replaceWith(settingsLayer());
  document.body.append(shortcutsLayer());
  $("settings-open").addEventListener("click", () => showSettings($("settings").hidden));
  document.addEventListener("keydown", onKey);
  // A click elsewhere closes the settings, as popovers do.
  document.addEventListener("click", (event) => {
    if (!$("settings").hidden && !event.target.closest("#settings, #settings-open")) showSettings(false);
  });
}
