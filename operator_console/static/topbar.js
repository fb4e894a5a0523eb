// The top bar: who is signed in, their presence, the connection state, and the navigation
// between the dialogs and the admin screens.

import { api } from "./api.js";
import { $, toast } from "./dom.js";
import { ROLE_LABELS, paintAvatar } from "./format.js";
import { state } from "./state.js";

/** Show the signed-in operator and their presence. */
export function renderMe() {
  const me = state.me;
  $("me-name").textContent = me.name || me.login;
  $("me-role").textContent = ROLE_LABELS[me.role] || me.role || "";
  paintAvatar($("me-avatar"), me.name || me.login, me.login);
  renderPresence(me.status);
  // An analyst reads statistics and is never offered dialogs: no dialog screens, no presence.
  const reader = me.role === "analyst";
  for (const id of ["nav-dialogs", "nav-answers", "presence-wrap"]) $(id).hidden = reader;
}

function renderPresence(status) {
  const value = ["online", "away", "offline"].includes(status) ? status : "offline";
  $("presence").value = value;
  $("presence-wrap").dataset.status = value;
}

/** Send the presence the operator chose; on failure show the previous one again. */
export async function changePresence() {
  const select = $("presence");
  const wanted = select.value;
  const previous = state.me.status;
  renderPresence(wanted);
  select.disabled = true;
  try {
    await api("POST", "/api/presence", { status: wanted });
    state.me.status = wanted;
  } catch (err) {
    renderPresence(previous);
    if (err.status !== 401) toast(`Could not change presence: ${err.reason}`);
  } finally {
    select.disabled = false;
  }
}

/** Show whether live updates arrive. */
export function setConn(stateName, label) {
  const node = $("conn");
  node.dataset.state = stateName;
  $("conn-label").textContent = label;
  node.title = stateName === "online" ? "Connected: updates arrive live" : "Not connected: updates are paused";
}

/**
 * Show an admin screen (a `.screen` section inside the app, below the top bar) in place of the
 * dialogs; null shows the dialogs again. The navigation marks the screen shown.
 */
export function showScreen(view) {
  for (const screen of document.querySelectorAll("#app-view .screen")) {
    if (screen !== view) {
      screen.hidden = true;
      screen.replaceChildren();
    }
  }
  if (view) view.hidden = false;
  $("workspace").hidden = Boolean(view);
  const current = view ? view.dataset.screen : "dialogs";
  for (const button of document.querySelectorAll("#topnav [data-screen]")) {
    button.setAttribute("aria-current", button.dataset.screen === current ? "page" : "false");
    // The phone's menu button names the screen in a word where the full name is long.
    if (button.dataset.screen === current) $("nav-current").textContent = button.dataset.short || button.textContent;
  }
  showMenu(false);
}

// On a phone the navigation is a menu under the top bar, opened by the current screen's name.
function showMenu(open) {
  $("topnav").dataset.open = String(open);
  $("nav-toggle").setAttribute("aria-expanded", String(open));
}

/** Wire the phone's navigation menu. */
export function wireNavigation() {
  $("nav-toggle").addEventListener("click", () => showMenu($("topnav").dataset.open !== "true"));
  $("topnav").addEventListener("keydown", (event) => { if (event.key === "Escape") showMenu(false); });
}
