// Replies over the operator socket: the socket carries the reply and its answer (reply_accepted
// or reply_refused, by client_msg_id) without an HTTP request each. Whenever the socket cannot
// answer (not open yet, closed or silent before the answer), the caller posts the reply
// instead; the hub stores a client_msg_id once, so a reply that went both ways is one message.

// A socket that took a reply and says nothing for this long is given up on for that reply.
const ANSWER_MS = 10000;

let open = null;
const waiting = new Map();

/** Why a reply went by POST after all: the socket could not carry it. */
export const FALL_BACK = Object.freeze({ fallBack: true });

/** The socket replies may go over from now on (greeted by the hub), or null: none. */
export function useSocket(ws) {
  if (ws === open) return;
  open = ws;
  // Answers to replies sent over a socket that is gone never come.
  for (const cmid of [...waiting.keys()]) settle(cmid, FALL_BACK);
}

/**
 * Send a reply ({dialog_id, client_msg_id, text, attachments}) over the socket. Resolves once
 * the hub accepted it; rejects with {status, reason} when refused, or with FALL_BACK.
 */
export function sendOverSocket(body) {
  const ws = open;
  if (!ws || ws.readyState !== WebSocket.OPEN || waiting.has(body.client_msg_id)) return Promise.reject(FALL_BACK);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => settle(body.client_msg_id, FALL_BACK), ANSWER_MS);
    waiting.set(body.client_msg_id, { resolve, reject, timer });
    try {
      ws.send(JSON.stringify({ type: "reply", ...body }));
    } catch (err) {
      settle(body.client_msg_id, FALL_BACK);
    }
  });
}

/** Take a socket frame that answers a reply; false for any other frame. */
export function takeAnswer(frame) {
  if (frame.type === "reply_accepted") {
    settle(frame.client_msg_id, null);
    return true;
  }
  if (frame.type === "reply_refused") {
    const reason = typeof frame.error === "string" ? frame.error : "refused";
    // A lapsed session (401) or an unreachable bus (503): the POST meets the same and the
    // console's usual handling of it (the login screen, the bus's message).
    const error = frame.status === 401 || frame.status === 503 ? FALL_BACK : { status: frame.status, reason };
    settle(frame.client_msg_id, error);
    return true;
  }
  return false;
}

function settle(cmid, error) {
  const entry = typeof cmid === "string" ? waiting.get(cmid) : undefined;
  if (!entry) return;
  waiting.delete(cmid);
  clearTimeout(entry.timer);
  if (error) entry.reject(error);
  else entry.resolve();
}
