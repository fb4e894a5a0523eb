// How a channel account is doing, for the Channels screen: its status (ok, error with the
// platform's last complaint and when, disabled), when it last heard from and wrote to the
// platform, and — on its form — the platform's own view (the bot's name, Telegram's
// getWebhookInfo with its last error, VK's callback address and confirmation string).
// Contract: docs/PROTOCOL.md, "Admin: channels". Every text is set with textContent.

import { api } from "./api.js";
import { el, fill } from "./dom.js";
import { fullFmt, listTime, parseTime } from "./format.js";

const STATUS_TEXT = { ok: "OK", error: "Error", disabled: "Disabled" };

function when(iso) {
  const d = parseTime(iso);
  return d ? el("time", { datetime: iso, title: fullFmt.format(d), text: listTime(iso) }) : "never";
}

/** The State cell of a channel's row. */
export function healthCell(channel) {
  const health = channel.health || { status: channel.enabled ? "ok" : "disabled" };
  const status = el("span", {
    class: `status channel-status channel-status--${health.status}`,
    dataset: { ol: "channel-status" },
    text: STATUS_TEXT[health.status] || health.status,
  });
  const error = health.status === "error"
    ? el("span", { class: "channel-error", dataset: { ol: "channel-health-error" } },
      health.error, health.error_at ? [" (", when(health.error_at), ")"] : null)
    : null;
  const traffic = channel.kind === "webchat" || channel.kind === "email" ? null
    : el("span", { class: "channel-traffic", dataset: { ol: "channel-traffic" } },
      "In: ", when(health.last_in), " · Out: ", when(health.last_out));
  return [status, error, traffic];
}

/** What an admin must do at the platform, and where the hub is reached, for the Address cell. */
export function addressLines(channel) {
  if (channel.kind === "vk" && channel.config && channel.config.mode !== "longpoll") {
    return [
      el("span", { class: "channel-hint", text: "Callback URL for VK:" }),
      el("code", { class: "channels-embed", dataset: { ol: "channel-webhook-url" }, text: channel.webhook_url }),
      el("span", { class: "channel-hint", text: "Confirmation string:" }),
      el("code", { class: "channels-embed", dataset: { ol: "channel-confirmation" }, text: channel.config.confirmation || "" }),
    ];
  }
  if (channel.webhook_url && !(channel.config && channel.config.mode === "polling")) {
    return [el("code", { class: "channels-embed", dataset: { ol: "channel-webhook-url" }, text: channel.webhook_url })];
  }
  return [channel.kind === "telegram" ? "Long polling" : (channel.webhook_path || "")];
}

/** A toast-sized sentence on what the platform said when a channel was saved. */
export function checkSummary(check) {
  if (!check) return "";
  if (check.unreachable) return ` Not checked: ${check.unreachable}.`;
  return check.name ? ` The platform knows it as “${check.name}”.` : "";
}

/** The platform's view of a saved account, filled in once the hub has asked the platform. */
export function platformPanel(channel) {
  if (!["telegram", "viber", "vk"].includes(channel.kind)) return null;
  const body = el("div", { class: "channel-platform-body", text: "Asking the platform…" });
  const panel = el("section", { class: "channel-platform", dataset: { ol: "channel-platform" }, "aria-live": "polite" },
    el("h3", { text: "Platform" }), body);
  api("GET", `/api/admin/channels/${channel.id}/check`).then(({ check }) => {
    fill(body, ...platformFacts(channel, check));
  }).catch((err) => fill(body, `Could not ask: ${err.reason || err}`));
  return panel;
}

function fact(label, value, ol = null, cls = "") {
  return el("div", { class: `channel-fact ${cls}`.trim(), dataset: ol ? { ol } : undefined },
    el("span", { class: "channel-hint", text: label }), " ", value);
}

function platformFacts(channel, check) {
  const facts = [];
  if (check.name) facts.push(fact("Account:", check.name, "channel-platform-name"));
  if (check.refused) facts.push(fact("Refused:", check.refused, "channel-platform-refused", "channel-error"));
  if (check.unreachable) facts.push(fact("Not checked:", check.unreachable, "channel-platform-unreachable", "channel-error"));
  const hook = check.webhook;
  if (hook) {
    facts.push(fact("Platform sends updates to:", hook.url || "nowhere (no webhook set)", "channel-platform-webhook"));
    if (hook.pending_update_count) facts.push(fact("Waiting updates:", String(hook.pending_update_count)));
    if (hook.last_error) {
      facts.push(fact("Last delivery error:", el("span", {}, hook.last_error, hook.last_error_at ? [" (", when(hook.last_error_at), ")"] : null),
        "channel-platform-error", "channel-error"));
    }
  }
  if (channel.kind === "vk" && channel.config.mode !== "longpoll") {
    facts.push(fact("In VK: Manage → API usage → Callback API, add a server with this URL:", el("code", { text: channel.webhook_url })));
    facts.push(fact("VK then asks for this confirmation string:", el("code", { text: channel.config.confirmation || "" })));
  }
  return facts.length ? facts : ["Nothing to report."];
}
