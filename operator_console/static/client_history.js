// The client's dialogs from every channel in the client panel, and one of them opened read
// only: its messages, and no reply box. Contract: docs/PROTOCOL.md, section "CRM".
// Hub data only ever goes in through textContent.

import { api } from "./api.js";
import { el, fill, icon } from "./dom.js";
import { STATUS_LABELS, channelLabel, fullFmt, parseTime } from "./format.js";

// History reaches back months: a full date reads better there than "Fri".
const dateFmt = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short", year: "numeric" });

function when(iso) {
  const d = parseTime(iso);
  return d ? dateFmt.format(d) : "";
}

function countLabel(n) {
  return n === 1 ? "1 message" : `${n} messages`;
}

/** The title of a dialog summary: its channel and line, "Telegram · Sales". */
function dialogTitle(d) {
  return [channelLabel(d.channel_kind), d.line_name].filter(Boolean).join(" · ");
}

function historyItem(d, open) {
  const opened = parseTime(d.opened_at);
  return el("li", {},
    el("button", { class: "crm-history-item", type: "button", dataset: { ol: "crm-history-item", dialogId: String(d.id) }, onclick: () => open(d) },
      el("span", { class: "crm-history-title", text: dialogTitle(d) }),
      el("span", { class: "crm-history-meta" },
        el("span", { class: `crm-pill crm-pill--${d.status}`, text: STATUS_LABELS[d.status] || String(d.status) }),
        el("time", { datetime: d.opened_at, title: opened ? fullFmt.format(opened) : null, text: when(d.opened_at) }),
        el("span", { text: countLabel(Number(d.messages) || 0) }))));
}

/** The "Earlier dialogs" section: every dialog of the client but `currentId`, newest first. */
export function historySection(dialogs, currentId, open) {
  const earlier = dialogs.filter((d) => d.id !== currentId);
  const body = earlier.length
    ? el("ul", { class: "crm-list crm-history" }, earlier.map((d) => historyItem(d, open)))
    : el("p", { class: "crm-empty", text: "No earlier dialogs." });
  return el("section", { class: "crm-section", dataset: { ol: "crm-history" } },
    el("h3", { class: "crm-heading", text: "Earlier dialogs" }), body);
}

function messageItem(m) {
  const at = parseTime(m.at);
  const author = m.author === "system" ? "" : (m.author_name || (m.author === "client" ? "Client" : "Operator"));
  const attachments = (m.attachments || []).map((a) => el("span", { class: "crm-read-file", text: a.name || "file" }));
  return el("li", { class: `crm-read-msg crm-read-msg--${m.author}${m.hidden ? " crm-read-msg--hidden" : ""}`, dataset: { ol: "crm-history-message" } },
    el("span", { class: "crm-read-head" },
      author ? el("span", { class: "crm-read-author", text: author }) : null,
      at ? el("time", { datetime: m.at, text: fullFmt.format(at) }) : null),
    m.text ? el("span", { class: "crm-read-text", text: m.text }) : null,
    attachments);
}

/**
 * Show one of the client's dialogs read only in `body`; `back` returns to where it was opened
 * from (the client card, unless `backLabel` names another place). Fetches
 * `GET /api/crm/clients/{clientId}/dialogs/{dialog id}`; `stillShown` tells a late answer
 * to stay away from a panel that has moved on.
 */
export async function showReadOnlyDialog(body, clientId, summary, back, stillShown, { backLabel = "Back to the client" } = {}) {
  const backButton = el("button", { class: "btn btn--ghost btn--sm crm-read-back", type: "button", dataset: { ol: "crm-history-back" }, onclick: back },
    icon("back", 16), backLabel);
  const list = el("ol", { class: "crm-read-list", "aria-label": "Messages" }, el("li", { class: "crm-empty", text: "Loading the dialog…" }));
  // Esc leaves the earlier dialog first; the next Esc is the console's (it closes the panel).
  const onkeydown = (event) => {
    if (event.key !== "Escape") return;
    event.stopPropagation();
    back();
  };
  fill(body, el("section", { class: "crm-read", dataset: { ol: "crm-history-view" }, "aria-label": `${dialogTitle(summary)}, read only`, onkeydown },
    backButton,
    el("h3", { class: "crm-read-title", text: dialogTitle(summary) }),
    el("p", { class: "crm-read-meta" },
      el("span", { class: `crm-pill crm-pill--${summary.status}`, text: STATUS_LABELS[summary.status] || String(summary.status) }),
      el("span", { class: "crm-pill", text: "Read only" }),
      parseTime(summary.opened_at) ? el("time", { datetime: summary.opened_at, text: fullFmt.format(parseTime(summary.opened_at)) }) : null,
      summary.operator_name ? el("span", { text: summary.operator_name }) : null),
    list));
  backButton.focus();
  try {
    const data = await api("GET", `/api/crm/clients/${clientId}/dialogs/${summary.id}`);
    if (!stillShown()) return;
    const items = data.messages.map(messageItem);
    fill(list, items.length ? items : el("li", { class: "crm-empty", text: "No messages in this dialog." }));
  } catch (err) {
    if (stillShown()) fill(list, el("li", { class: "crm-status", text: err.reason || String(err) }));
  }
}
