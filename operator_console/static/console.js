// Operator console: native ES modules, no build step. This module signs the operator in and
// out and wires the screens together: dialog list, conversation, reply box, client panel,
// routing controls, files, the admin screens, the live load and statistics.
// Contract: docs/PROTOCOL.md, section "Console". Data from the hub is only ever put into the
// page through textContent / attributes, never parsed as HTML.

import { initAdmin, refreshAdmin } from "./admin.js";
import { initAnswers } from "./answers_screen.js";
import { ApiError, api, whenUnauthorized } from "./api.js";
import { initChannels, refreshChannels } from "./channels.js";
import { initIntegrations, refreshIntegrations } from "./integrations.js";
import { initClientPanel } from "./client_panel.js";
import { openDialog, resetMessages } from "./conversation.js";
import { loadDialogs, renderList, resetList, setTab, updateTitle } from "./dialog_list.js";
import { $ } from "./dom.js";
import { initFiles } from "./files.js";
import { applySendKey, initKeyboard } from "./keyboard.js";
import { initKpi } from "./kpi_screen.js";
import { initLoad, refreshLoad } from "./load_screen.js";
import { socket } from "./live_socket.js";
import { clearRoute, currentRoute, goBack, showPane, whenRouted } from "./navigation.js";
import { wireReplyBox } from "./reply_box.js";
import { initRouting, refreshRouting } from "./routing.js";
import { initSearch, resetSearch } from "./search.js";
import { applyStatsRoute, initStats, leaveStats, openStats, refreshStats, resetStats } from "./stats_screen.js";
import { isStatsRoute } from "./stats_route.js";
import { dropHeldFrames, state } from "./state.js";
import { changePresence, renderMe, showScreen, wireNavigation } from "./topbar.js";

function showView(name) {
  $("boot").hidden = name !== "boot";
  $("login-view").hidden = name !== "login";
  $("app-view").hidden = name !== "app";
}

function showLogin(message) {
  showView("login");
  const err = $("login-error");
  err.textContent = message || "";
  err.hidden = !message;
  const login = document.querySelector('[data-ol="login"]');
  const password = document.querySelector('[data-ol="password"]');
  (login.value ? password : login).focus();
}

function resetSession() {
  socket.stop();
  state.me = null;
  for (const collection of [state.dialogs, state.unread, state.pending, state.drafts, state.closing]) collection.clear();
  state.selectedId = null;
  state.thread = null;
  state.threadGen += 1;
  state.tab = "open";
  dropHeldFrames();
  resetList();
  resetMessages();
  showScreen(null);
  resetStats();
  resetSearch();
  $("reply").value = "";
  updateTitle();
}

let sessionLost = false;
function onSessionLost() {
  if (!state.me || sessionLost) return;
  sessionLost = true;
  resetSession();
  showLogin("Your session has ended. Please sign in again.");
}

async function enterApp(operator) {
  sessionLost = false;
  state.me = operator;
  renderMe();
  applySendKey();
  showView("app");
  setTab("open", { load: false });
  applyRoute();
  socket.start();
  refreshRouting();
  refreshChannels();
  refreshIntegrations();
  refreshAdmin();
  refreshLoad();
  refreshStats();
  // An analyst works no dialogs: statistics are their console (as the address names them,
  // when it does).
  if (operator.role === "analyst") {
    if (!isStatsRoute()) openStats({ replace: true });
    return;
  }
  // The list is loaded here and again on every socket hello; this first load makes the page
  // useful even if the socket is blocked by a proxy.
  await loadDialogs();
}

function applyRoute() {
  if (!state.me) return;
  if (isStatsRoute()) {
    applyStatsRoute();
    return;
  }
  leaveStats();
  const { dialogId, pane } = currentRoute();
  if (dialogId !== state.selectedId) openDialog(dialogId);
  showPane(dialogId === null ? "list" : pane);
}

async function submitLogin(event) {
  event.preventDefault();
  const loginInput = document.querySelector('[data-ol="login"]');
  const passwordInput = document.querySelector('[data-ol="password"]');
  const button = document.querySelector('[data-ol="login-submit"]');
  const errorLine = $("login-error");
  const login = loginInput.value.trim();
  const password = passwordInput.value;
  if (!login || !password) {
    errorLine.textContent = "Enter your login and password.";
    errorLine.hidden = false;
    (login ? passwordInput : loginInput).focus();
    return;
  }
  button.disabled = true;
  button.textContent = "Signing in…";
  errorLine.hidden = true;
  try {
    const data = await api("POST", "/api/login", { login, password });
    passwordInput.value = "";
    await enterApp(data.operator);
  } catch (err) {
    errorLine.textContent = err.reason || String(err);
    errorLine.hidden = false;
    passwordInput.select();
    passwordInput.focus();
  } finally {
    button.disabled = false;
    button.textContent = "Sign in";
  }
}

async function logout() {
  const button = $("logout");
  button.disabled = true;
  try {
    await api("POST", "/api/logout");
  } catch (err) {
    // The local session is dropped regardless: an operator who asked to leave must not stay in.
  } finally {
    button.disabled = false;
  }
  resetSession();
  clearRoute();
  showLogin("");
}

// The hint fits in the placeholder where the reply box is wide; a phone has no Enter habit.
function replyPlaceholder() {
  if (window.matchMedia("(min-width: 1024px)").matches) $("reply").placeholder = "Write a reply… (Enter sends, Shift+Enter adds a line)";
}

function wireEvents() {
  replyPlaceholder();
  $("login-form").addEventListener("submit", submitLogin);
  $("logout").addEventListener("click", logout);
  $("presence").addEventListener("change", changePresence);
  $("nav-dialogs").addEventListener("click", () => showScreen(null));
  wireNavigation();
  for (const tab of document.querySelectorAll(".tab")) {
    tab.addEventListener("click", () => { if (tab.dataset.tab !== state.tab) setTab(tab.dataset.tab); });
  }
  $("conv-back").addEventListener("click", goBack);
  wireReplyBox();
  whenRouted(applyRoute);
  whenUnauthorized(onSessionLost);
  window.addEventListener("hashchange", applyRoute);
  window.addEventListener("popstate", applyRoute);
  window.addEventListener("online", () => socket.nudge());
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState !== "visible") return;
    socket.nudge();
    // Messages that arrived in the open dialog while the tab was hidden are read now.
    if (state.selectedId !== null && state.unread.delete(state.selectedId)) renderList();
  });
}

async function boot() {
  wireEvents();
  initRouting();
  initChannels();
  initIntegrations();
  initAdmin();
  initFiles();
  initClientPanel();
  initSearch();
  initKeyboard();
  initAnswers();
  initLoad();
  initStats();
  initKpi();
  try {
    const data = await api("GET", "/api/me");
    await enterApp(data.operator);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) showLogin("");
    else showLogin(err.reason || String(err));
  }
}

boot();
