// The one REST client of the console: JSON in and out, a timeout, and errors as ApiError with
// the hub's own reason. Contract: docs/PROTOCOL.md, section "Console".

// Live frames are held while a snapshot is in flight, so a hung request must not hold them long.
const REQUEST_TIMEOUT_MS = 20000;

/** A failed request: `status` is 0 when the hub was not reached, `reason` is for people. */
export class ApiError extends Error {
  constructor(status, reason, data = null) {
    super(reason);
    this.status = status;
    this.reason = reason;
    // The whole error answer, for endpoints that say more than `error` (a CSV row and field).
    this.data = data;
  }
}

let onUnauthorized = () => {};

/** Called whenever any request but the login answers 401: the session is gone. */
export function whenUnauthorized(handler) {
  onUnauthorized = handler;
}

async function readJson(response) {
  const type = response.headers.get("Content-Type") || "";
  if (response.status === 204 || !type.includes("json")) return null;
  try {
    return await response.json();
  } catch (err) {
    return null;
  }
}

/**
 * `method` `path` with an optional JSON `body`; resolves to the decoded answer or null. With
 * `contentType`, a string `body` is sent as it is (a CSV upload).
 */
export async function api(method, path, body, contentType) {
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = contentType || "application/json";
    init.body = contentType ? body : JSON.stringify(body);
  }
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), REQUEST_TIMEOUT_MS);
  init.signal = abort.signal;
  let response;
  let data;
  try {
    response = await fetch(path, init);
    data = await readJson(response);
  } catch (err) {
    throw new ApiError(0, abort.signal.aborted ? "The server did not answer in time." : "Cannot reach the server. Check your connection.");
  } finally {
    clearTimeout(timer);
  }
  if (!response.ok) {
    const reason = (data && typeof data.error === "string" && data.error) || `${response.status} ${response.statusText || "error"}`.trim();
    if (response.status === 401 && path !== "/api/login") onUnauthorized();
    throw new ApiError(response.status, reason, data);
  }
  return data;
}
