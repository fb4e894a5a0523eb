// What the console knows: the signed-in operator, the dialogs, the open thread, replies in
// flight. Every GET that replaces local state with the database's goes through snapshot(): live
// frames that arrive meanwhile are held and replayed afterwards in order, so a snapshot taken
// before a change can never overwrite that change.

/** The console's state; screens read it and the modules that own a part write it. */
export const state = {
  me: null,
  tab: "open",
  dialogs: new Map(), // id -> Dialog
  unread: new Map(), // id -> count of client messages not seen by this page
  selectedId: null,
  // The conversation pane: stored messages by id plus the load generation that guards against
  // a slow GET for a dialog the operator has already left.
  thread: null, // { dialogId, messages: Map<id, Message>, loaded: bool, error: string|null }
  threadGen: 0,
  pending: new Map(), // dialogId -> Map<client_msg_id, Pending>
  drafts: new Map(), // dialogId -> unsent reply text, so switching dialogs loses nothing
  closing: new Set(), // dialog ids with a close request in flight or awaiting the frame
  listLoading: false,
  listError: null,
};

let inFlight = 0;
let held = [];
let applyFrame = () => {};

/** Names the function that applies one live frame (the socket module's). */
export function setFrameSink(apply) {
  applyFrame = apply;
}

/** Run `work` (a GET that replaces state) while live frames wait. */
export async function snapshot(work) {
  inFlight += 1;
  try {
    return await work();
  } finally {
    inFlight -= 1;
    if (inFlight === 0 && held.length) {
      const frames = held;
      held = [];
      for (const frame of frames) applyFrame(frame);
    }
  }
}

/** Apply a live frame now, or after the snapshots in flight. */
export function deliverFrame(frame) {
  if (inFlight > 0) held.push(frame);
  else applyFrame(frame);
}

/** Forget held frames (a new session starts). */
export function dropHeldFrames() {
  held = [];
}

/** The pending replies of a dialog, created on demand when `create`. */
export function pendingFor(dialogId, create = false) {
  let map = state.pending.get(dialogId);
  if (!map && create) {
    map = new Map();
    state.pending.set(dialogId, map);
  }
  return map;
}
