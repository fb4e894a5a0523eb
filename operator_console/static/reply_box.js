// The reply box: sending a reply (shown as pending until the stored copy comes back), retry and
// discard of a failed one, closing the dialog, the quick answers picker and the parts count.

import { api } from "./api.js";
import { addThreadMessage, noteOperatorTyping, renderConversation } from "./conversation.js";
import { renderList, upsertDialog } from "./dialog_list.js";
import { $ } from "./dom.js";
import { clearAttachments, readyAttachments } from "./files.js";
import { newClientMsgId } from "./format.js";
import { sendsOnCtrlEnter } from "./keyboard.js";
import { closePicker, followReply, initQuickAnswers, pickerKey } from "./quick_answers.js";
import { FALL_BACK, sendOverSocket } from "./reply_channel.js";
import { renderParts } from "./reply_parts.js";
import { pendingFor, snapshot, state } from "./state.js";

// The API's limit; each channel splits a longer reply at its own limit (see reply_parts.js).
const MAX_TEXT = 20000;
const CLOSE_FALLBACK_MS = 4000;

/** Show why the reply (or the close) failed, above the reply box. */
export function showSendError(text) {
  const line = $("send-error");
  line.textContent = text;
  line.hidden = false;
}

/** Hide the reply box's error line. */
export function hideSendError() {
  $("send-error").hidden = true;
  $("send-error").textContent = "";
}

/** Grow the reply box with its text, up to 200 px and a quarter of the window. */
export function autosize() {
  const input = $("reply");
  input.style.height = "auto";
  // A long reply must not push the conversation out of a phone's window.
  const most = Math.max(40, Math.min(200, Math.round(window.innerHeight / 4)));
  input.style.height = `${Math.min(input.scrollHeight, most)}px`;
}

function replyProblem(dialog, text, upload) {
  if (upload.busy) return "Wait until the files have uploaded.";
  if (text.length > MAX_TEXT) return `The reply is too long (${text.length} of ${MAX_TEXT} characters).`;
  if (dialog.status === "closed") return "This dialog is closed.";
  return null;
}

/** Send the reply box's text and ready files to the open dialog. */
export function sendReply() {
  const id = state.selectedId;
  const dialog = id === null ? null : state.dialogs.get(id);
  if (!dialog) return;
  const input = $("reply");
  const text = input.value.replace(/^\s*\n/, "").replace(/\s+$/, "");
  const upload = readyAttachments(id);
  if (!upload.busy && !text.trim() && !upload.files.length) return;
  const problem = replyProblem(dialog, text, upload);
  if (problem) {
    showSendError(problem);
    return;
  }
  const p = {
    client_msg_id: newClientMsgId(), dialog_id: id, text, author: "operator",
    author_name: state.me.name || state.me.login, at: new Date().toISOString(),
    state: "sending", error: null, attachments: upload.files,
  };
  clearAttachments(id);
  pendingFor(id, true).set(p.client_msg_id, p);
  state.drafts.delete(id);
  input.value = "";
  autosize();
  closePicker();
  renderParts();
  hideSendError();
  renderConversation({ scroll: "bottom" });
  postPending(p);
}

async function postPending(p) {
  try {
    const body = { text: p.text, client_msg_id: p.client_msg_id, attachments: p.attachments || [] };
    await sendOverSocket({ dialog_id: p.dialog_id, ...body }).catch((err) => {
      if (err !== FALL_BACK) throw err;
      return api("POST", `/api/dialogs/${p.dialog_id}/messages`, body);
    });
    // Accepted by the bus; the bubble stays "Sending…" until the stored copy comes back.
    p.state = "sent";
  } catch (err) {
    p.state = "failed";
    p.error = `Not sent: ${err.reason}`;
    // A 409 almost always means the dialog was closed under us; fetch the truth.
    if (err.status === 409) refreshDialog(p.dialog_id);
    if (state.selectedId === p.dialog_id) showSendError(p.error);
  }
  if (state.selectedId === p.dialog_id) renderConversation();
}

/** Send a failed reply again, with the same client_msg_id so it is never stored twice. */
export function retryPending(dialogId, cmid) {
  const p = (pendingFor(dialogId) || new Map()).get(cmid);
  if (!p) return;
  p.state = "sending";
  p.error = null;
  hideSendError();
  renderConversation();
  postPending(p);
}

/** Drop a failed reply. */
export function discardPending(dialogId, cmid) {
  const map = pendingFor(dialogId);
  if (map) map.delete(cmid);
  hideSendError();
  renderConversation();
}

function refreshDialog(id) {
  return snapshot(() => fetchDialogInto(id));
}

async function fetchDialogInto(id) {
  try {
    const data = await api("GET", `/api/dialogs/${id}`);
    if (!state.me) return;
    upsertDialog(data.dialog);
    if (state.thread && state.thread.dialogId === id) for (const m of data.messages || []) addThreadMessage(m);
    renderList();
    if (state.selectedId === id) renderConversation();
  } catch (err) {
    // Nothing better to show than what we have; the next socket event or reconnect will fix it.
  }
}

/** Ask the hub to close the open dialog. */
export async function closeDialog() {
  const id = state.selectedId;
  if (id === null || state.closing.has(id)) return;
  state.closing.add(id);
  hideSendError();
  renderConversation();
  try {
    await api("POST", `/api/dialogs/${id}/close`);
    // 202: the router closes it and a dialog frame follows; if the frame is lost (socket down),
    // ask the database instead of waiting forever.
    setTimeout(() => {
      const d = state.dialogs.get(id);
      if (state.closing.has(id) && d && d.status !== "closed") refreshDialog(id).then(() => finishClosing(id));
      else finishClosing(id);
    }, CLOSE_FALLBACK_MS);
  } catch (err) {
    state.closing.delete(id);
    if (state.selectedId === id) {
      showSendError(`Could not close the dialog: ${err.reason}`);
      renderConversation();
    }
  }
}

/** Ask the hub to reopen the open (closed) dialog; its dialog frame shows the result. */
export async function reopenDialog() {
  const id = state.selectedId;
  if (id === null) return;
  const button = $("reopen-dialog");
  button.disabled = true;
  hideSendError();
  try {
    await api("POST", `/api/dialogs/${id}/reopen`);
  } catch (err) {
    if (state.selectedId === id) showSendError(`Could not reopen the dialog: ${err.reason}`);
  } finally {
    button.disabled = false;
  }
}

function finishClosing(id) {
  if (!state.closing.delete(id)) return;
  if (state.selectedId === id) renderConversation();
}

/** Whether this Enter sends: plain Enter, or Ctrl+Enter when the operator chose that. */
export function isSendKey(event, ctrlEnter) {
  // isComposing: Enter confirms an IME candidate (Chinese, Japanese…) and must not send.
  if (event.key !== "Enter" || event.shiftKey || event.isComposing || event.keyCode === 229) return false;
  const withCtrl = event.ctrlKey || event.metaKey;
  return ctrlEnter ? withCtrl : !event.altKey;
}

/** The reply box got another dialog's draft: no picker, its own height and parts count. */
export function replyReset() {
  closePicker();
  autosize();
  renderParts();
}

/** Show the reply box's text as it now is: its height, the parts count, the picker. */
export function replyChanged() {
  autosize();
  renderParts();
  followReply();
}

/** Enter (or Ctrl+Enter, as chosen) sends; typing hides the last error. */
export function wireReplyBox() {
  const reply = $("reply");
  initQuickAnswers();
  $("send").addEventListener("click", () => { sendReply(); reply.focus(); });
  $("close-dialog").addEventListener("click", closeDialog);
  $("reopen-dialog").addEventListener("click", reopenDialog);
  reply.addEventListener("keydown", (event) => {
    if (pickerKey(event)) return;
    if (isSendKey(event, sendsOnCtrlEnter())) {
      event.preventDefault();
      sendReply();
    }
  });
  reply.addEventListener("input", () => { replyChanged(); if (!$("send-error").hidden) hideSendError(); noteOperatorTyping(); });
}
