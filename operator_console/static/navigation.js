// Where the operator is: #/dialogs/{id} opens a dialog, #/dialogs/{id}/client its client panel,
// so reloads and the phone's back button behave. On a phone one pane shows at a time; the
// workspace's data-pane names it.

import { $ } from "./dom.js";

let onRoute = () => {};

/** Names the function that applies the route (the console's). */
export function whenRouted(handler) {
  onRoute = handler;
}

/** The dialog and pane the address names. */
export function currentRoute() {
  const m = /^#\/dialogs\/(\d+)(\/client)?$/.exec(location.hash);
  if (!m) return { dialogId: null, pane: "list" };
  return { dialogId: Number(m[1]), pane: m[2] ? "client" : "conversation" };
}

/** Open dialog `id` (the pane "conversation", or "client" for its client panel). */
export function selectDialog(id, pane = "conversation") {
  const hash = pane === "client" ? `#/dialogs/${id}/client` : `#/dialogs/${id}`;
  if (location.hash === hash) onRoute();
  else location.hash = hash;
}

/** One step back: client panel → conversation → list. */
export function goBack() {
  const { dialogId, pane } = currentRoute();
  if (pane === "client") history.pushState(null, "", `#/dialogs/${dialogId}`);
  else history.pushState(null, "", location.pathname + location.search);
  onRoute();
}

/** Show `pane` ("list", "conversation" or "client") where only one fits. */
export function showPane(pane) {
  $("workspace").dataset.pane = pane;
}

/** Leave every dialog (logout). */
export function clearRoute() {
  history.replaceState(null, "", location.pathname + location.search);
}
