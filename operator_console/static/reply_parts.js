// How many platform messages the reply will make: each channel splits a long reply at its own
// limit (`max_text` of GET /api/channel-kinds; null: never split). Shown under the reply box
// only when it is more than one.

import { api } from "./api.js";
import { $ } from "./dom.js";
import { state } from "./state.js";

let kinds = null; // kind -> KindInfo, once loaded
let loading = null;

/** How many messages `length` characters make where one holds `maxText` (null: unlimited). */
export function partsOf(length, maxText) {
  if (length <= 0) return 0;
  return maxText ? Math.ceil(length / maxText) : 1;
}

function loadKinds() {
  if (!loading) {
    loading = api("GET", "/api/channel-kinds")
      .then((data) => { kinds = (data && data.kinds) || {}; renderParts(); })
      .catch(() => { loading = null; });
  }
  return loading;
}

/** Show the parts count of the reply box's text for the open dialog's channel. */
export function renderParts() {
  const line = $("reply-parts");
  const dialog = state.selectedId === null ? null : state.dialogs.get(state.selectedId);
  if (!kinds) {
    line.hidden = true;
    if (dialog && $("reply").value.length) loadKinds();
    return;
  }
  const info = dialog ? kinds[dialog.channel_kind] : null;
  const maxText = info ? info.max_text : null;
  const parts = partsOf($("reply").value.length, maxText);
  line.hidden = parts <= 1;
  line.textContent = parts > 1 ? `${parts} parts · ${info.label || dialog.channel_kind} splits at ${maxText.toLocaleString("en")} characters` : "";
}
