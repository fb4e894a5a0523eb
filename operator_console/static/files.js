// Operator console: attaching files to a reply, and showing the files of messages.
// Contract: docs/PROTOCOL.md, "Operator files". Names from people go in as textContent or
// attributes only, never as HTML.

import { el, fill, icon } from "./dom.js";
import { state } from "./state.js";

const IMAGE_TYPES = ["image/png", "image/jpeg", "image/gif", "image/webp"];

// dialogId -> [{ id, name, state: "uploading"|"done"|"failed", progress, file, error }]
const attached = new Map();
let ui = null;

// Builds the attach button, the hidden file picker and the chip row beside the reply box.
export function initFiles() {
  const row = document.querySelector("#composer .composer-row");
  if (!row || ui) return;
  const picker = el("input", { type: "file", multiple: true, hidden: true, dataset: { ol: "file-picker" } });
  const button = el("button", {
    type: "button", class: "btn btn--icon composer-attach", dataset: { ol: "attach" },
    "aria-label": "Attach files", title: "Attach files",
  }, icon("attach"));
  const chips = el("div", { class: "file-chips", dataset: { ol: "file-chips" } });
  row.before(chips);
  row.prepend(button, picker);
  button.addEventListener("click", () => picker.click());
  picker.addEventListener("change", () => {
    const id = state.selectedId;
    if (id !== null) for (const file of picker.files) upload(id, file);
    picker.value = ""; // choosing the same file again still fires "change"
  });
  ui = { chips, button };
  showChips();
}

// The uploaded files of a dialog's next reply (their descriptors, as the hub answered), and
// whether any is still uploading: the reply waits until every chip is done.
export function readyAttachments(dialogId) {
  const list = attached.get(dialogId) || [];
  return {
    busy: list.some((f) => f.state === "uploading"),
    files: list.filter((f) => f.state === "done").map((f) => f.file),
  };
}

// Forget a dialog's chips once its reply has taken the files.
export function clearAttachments(dialogId) {
  attached.delete(dialogId);
  showChips();
}

// Redraw the chips for the open dialog (call when the selection changes).
export function showChips() {
  if (!ui) return;
  const id = state.selectedId;
  const list = (id !== null && attached.get(id)) || [];
  ui.chips.hidden = list.length === 0;
  fill(ui.chips, list.map((f) => chip(f, id)));
}

function chip(f, dialogId) {
  const label = f.state === "uploading" ? `${f.name} — ${f.progress}%` :
    f.state === "failed" ? `${f.name} — ${f.error}` : f.name;
  const remove = el("button", {
    type: "button", class: "link-button", "aria-label": `Remove ${f.name}`, text: "×",
    onclick: () => {
      attached.set(dialogId, (attached.get(dialogId) || []).filter((x) => x !== f));
      showChips();
    },
  });
  return el("span", { class: "file-chip", dataset: { ol: "file-chip", state: f.state } },
    el("span", { text: label }), remove);
}

let nextId = 1;

// XMLHttpRequest rather than fetch: only it reports upload progress.
function upload(dialogId, file) {
  const entry = { id: nextId++, name: file.name, state: "uploading", progress: 0, file: null, error: "" };
  attached.set(dialogId, [...(attached.get(dialogId) || []), entry]);
  showChips();
  const form = new FormData();
  form.append("file", file, file.name);
  const xhr = new XMLHttpRequest();
  xhr.open("POST", `/api/dialogs/${dialogId}/files`);
  xhr.responseType = "json";
  xhr.upload.addEventListener("progress", (event) => {
    if (!event.lengthComputable) return;
    entry.progress = Math.round((event.loaded / event.total) * 100);
    showChips();
  });
  xhr.addEventListener("load", () => {
    const body = xhr.response || {};
    if (xhr.status === 201 && Array.isArray(body.files) && body.files.length) {
      entry.state = "done";
      entry.file = body.files[0];
    } else {
      entry.state = "failed";
      entry.error = typeof body.error === "string" ? body.error : `upload failed (${xhr.status})`;
    }
    showChips();
  });
  xhr.addEventListener("error", () => {
    entry.state = "failed";
    entry.error = "cannot reach the server";
    showChips();
  });
  xhr.send(form);
}

// The nodes that show a message's files: images as thumbnails, other files as links. Urls are
// the console's own /api/attachments/… (they need the operator's session).
export function attachmentNodes(attachments) {
  if (!Array.isArray(attachments) || attachments.length === 0) return [];
  const box = el("div", { class: "msg-files", dataset: { ol: "msg-files" } });
  for (const a of attachments) {
    if (!a || typeof a.url !== "string" || !a.url.startsWith("/api/attachments/")) continue;
    const name = typeof a.name === "string" && a.name ? a.name : a.kind || "file";
    const link = el("a", { href: a.url, target: "_blank", rel: "noopener", title: name });
    if (a.kind === "image" && (!a.mime || IMAGE_TYPES.includes(a.mime))) {
      link.append(el("img", { class: "msg-image", src: a.url, alt: name, loading: "lazy", dataset: { ol: "msg-image" } }));
    } else {
      fill(link, icon("file", 16), el("span", { text: name }));
      link.className = "msg-file";
      link.dataset.ol = "msg-file";
    }
    box.append(link);
  }
  return [box];
}
