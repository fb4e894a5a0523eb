/* Openlines web chat: the visitor side of docs/PROTOCOL.md ("Web chat").
 * Plain ES2020 with no build step, so a site embeds exactly this file. */
(() => {
  'use strict';
  // currentScript is only set while this file first runs, so read it before anything async.
  const script = document.currentScript ||
    document.querySelector('script[data-channel][src*="/widget/widget.js"]');
  const KEY = script && script.dataset.channel;
  if (!KEY || window.Openlines) return;

  const PAGE = script.dataset.mode === 'page';
  const TITLE = script.dataset.title || 'Chat with us';
  const src = new URL(script.src, document.baseURI);
  // Keep any path prefix, so a hub behind a reverse proxy at /something/ still works.
  const base = src.pathname.replace(/\/widget\/widget\.js$/, '');
  const HUB = `${src.protocol}//${src.host}${base}`;
  const WS_URL = `${src.protocol === 'https:' ? 'wss' : 'ws'}://${src.host}${base}` +
    `/widget/ws?channel=${encodeURIComponent(KEY)}`;
  const [TOKEN_KEY, OUTBOX_KEY, OPEN_KEY] =
    ['token', 'outbox', 'open'].map((k) => `openlines.${k}.${KEY}`);
  const MAX_LEN = 4000;
  const UNSENT = 'The message could not be sent';
  const ERRORS = {
    too_long: 'Message is too long',
    rate_limited: 'Too many messages at once, retrying shortly',
    unavailable: 'The chat is busy, retrying shortly',
    bad_frame: UNSENT,
    bad_json: UNSENT,
  };

  // Storage throws in some private modes and sandboxed frames; the chat must still work there.
  const store = (area) => ({
    get(k) { try { return area().getItem(k); } catch { return null; } },
    set(k, v) { try { area().setItem(k, v); } catch { /* memory only */ } },
    del(k) { try { area().removeItem(k); } catch { /* memory only */ } },
  });
  const local = store(() => localStorage);
  const session = store(() => sessionStorage);

  // randomUUID exists only in secure contexts; a shop on plain http still needs ids.
  const newId = () => (crypto.randomUUID ? crypto.randomUUID() :
    Array.from(crypto.getRandomValues(new Uint8Array(16)),
      (b) => b.toString(16).padStart(2, '0')).join(''));

  const validItem = (it) => it && typeof it.text === 'string' && it.text.length > 0 &&
    it.text.length <= MAX_LEN && /^[A-Za-z0-9_-]{1,64}$/.test(it.client_msg_id);
  let outbox = []; // {client_msg_id, text}: sent or not, until the hub echoes it with an id
  try {
    outbox = (JSON.parse(local.get(OUTBOX_KEY)) || []).filter(validItem);
  } catch { /* a corrupt outbox is dropped rather than breaking the chat */ }
  const saveOutbox = () => (outbox.length ? local.set(OUTBOX_KEY, JSON.stringify(outbox))
    : local.del(OUTBOX_KEY));

  const svg = (body, attrs) => `<svg viewBox="0 0 24 24" aria-hidden="true" ${attrs}>${body}</svg>`;
  const ICON_CHAT = svg('<path d="M12 3C6.5 3 2 6.8 2 11.5c0 2.4 1.2 4.6 3.1 6.1L4.5 21l3.9-2c1.1.3 2.3.5 3.6.5 5.5 0 10-3.8 10-8.5S17.5 3 12 3z"/>', 'class="ic" fill="currentColor"');
  const ICON_CLOSE = svg('<path d="M6 6l12 12M18 6L6 18"/>', 'class="ix" fill="none" stroke="currentColor" stroke-width="2.2" stroke-linecap="round"');
  const ICON_CLIP = svg('<path d="M21 11.5l-8.6 8.6a5 5 0 01-7.1-7.1l8.6-8.6a3.3 3.3 0 014.7 4.7l-8.6 8.6a1.7 1.7 0 01-2.4-2.4l7.9-7.9"/>', 'fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round"');
  const ICON_SEND = svg('<path d="M3.4 20.4l17.5-7.5a1 1 0 000-1.8L3.4 3.6a1 1 0 00-1.4 1.1L4 11l9 1-9 1-2 6.3a1 1 0 001.4 1.1z"/>', 'fill="currentColor"');

  const STYLE = `
:host{all:initial}
*{box-sizing:border-box}
.r{--a:#2563eb;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2329;-webkit-font-smoothing:antialiased}
button{font:inherit;cursor:pointer;border:0;display:grid;place-items:center;flex:none}
button:focus-visible{outline:3px solid rgba(37,99,235,.45);outline-offset:2px}
svg{width:20px;height:20px}
[hidden]{display:none!important}
.l{position:fixed;right:20px;bottom:20px;z-index:2147483000;width:60px;height:60px;border-radius:50%;background:var(--a);color:#fff;box-shadow:0 6px 24px rgba(15,23,42,.28);transition:transform .15s}
.l:hover{transform:scale(1.06)}
.l svg{width:27px;height:27px}
.l .ix,.o .l .ic{display:none}
.o .l .ix{display:block}
.u{position:absolute;top:-3px;right:-3px;min-width:21px;height:21px;padding:0 6px;border-radius:11px;background:#e5484d;color:#fff;font-size:12px;font-weight:700;line-height:17px;text-align:center;border:2px solid #fff}
.p{position:fixed;right:20px;bottom:92px;z-index:2147483000;width:370px;height:min(600px,calc(100vh - 112px));background:#fff;border-radius:16px;box-shadow:0 16px 48px rgba(15,23,42,.26);display:flex;flex-direction:column;overflow:hidden;animation:in .18s ease-out}
@keyframes in{from{opacity:0;transform:translateY(12px)}}
.hd{background:var(--a);color:#fff;padding:14px 16px;display:flex;align-items:center;gap:12px;flex:none}
.hd>div{min-width:0}
.t{font-weight:650;font-size:16px;line-height:1.25;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.s{font-size:12.5px;display:flex;align-items:center;gap:6px}
.s::before{content:"";width:8px;height:8px;border-radius:50%;background:#cbd5e1}
.s[data-state=online]::before{background:#4ade80}
.x{margin-left:auto;width:34px;height:34px;border-radius:50%;background:none;color:#fff}
.x:hover{background:rgba(255,255,255,.16)}
.lg{flex:1;overflow-y:auto;padding:16px 14px 8px;background:#f5f6f8;display:flex;flex-direction:column;gap:4px;overscroll-behavior:contain}
.hi{align-self:center;text-align:center;color:#5b6472;font-size:13px;margin:4px 12px 12px}
.m{max-width:82%;display:flex;flex-direction:column;align-items:flex-start;margin-top:4px}
.m[data-author=visitor]{align-self:flex-end;align-items:flex-end}
.m[data-author=system]{align-self:center;align-items:center;max-width:92%;text-align:center}
.n{font-size:12px;color:#5b6472;margin:4px 10px 2px}
.b{padding:8px 12px;border-radius:18px;white-space:pre-wrap;overflow-wrap:anywhere}
[data-author=visitor] .b{background:var(--a);color:#fff;border-bottom-right-radius:6px}
[data-author=operator] .b{background:#fff;border:1px solid #e5e7eb;border-bottom-left-radius:6px}
[data-author=system] .b{color:#5b6472;font-size:12.5px;padding:2px 10px}
[data-state=pending] .b{background:#4a6fd6}
[data-state=failed] .b{background:#fee2e2;color:#991b1b}
.mt{font-size:11px;color:#5b6472;margin:2px 8px 0}
.ty{font-size:12.5px;color:#5b6472;font-style:italic;padding:4px 16px 6px;background:#f5f6f8}
.f{display:flex;align-items:flex-end;gap:8px;padding:10px 12px;border-top:1px solid #e5e7eb;background:#fff}
textarea{flex:1;min-width:0;resize:none;height:42px;max-height:140px;border:1px solid #d1d5db;border-radius:21px;padding:10px 14px;font:inherit;font-size:16px;line-height:20px;color:inherit;background:#fff;outline:none}
textarea:focus{border-color:var(--a)}
.tb{display:flex;gap:6px;padding:8px 12px;background:#fff;border-bottom:1px solid #e5e7eb;flex:none;overflow-x:auto}
.tb button{padding:6px 12px;border-radius:16px;background:#f1f5f9;color:#1f2329;font-size:13.5px;white-space:nowrap}
.tb button[aria-pressed=true]{background:var(--a);color:#fff}
.fm{flex:1;overflow-y:auto;padding:16px;background:#f5f6f8;display:flex;flex-direction:column;gap:10px}
.fm p{margin:0;color:#1f2329}
.fm label{display:flex;flex-direction:column;gap:4px;font-size:13.5px;font-weight:600;color:#1f2329}
.fm input,.fm textarea{font:inherit;font-size:16px;font-weight:400;padding:9px 12px;border:1px solid #8b95a5;border-radius:10px;background:#fff;color:inherit;height:auto;max-height:none;border-radius:10px}
.fm textarea{min-height:96px}
.fm .e,.rt .e{color:#b91c1c;font-size:13.5px}
.at{width:42px;height:42px;border-radius:50%;background:none;color:#5b6472}
.at:hover{background:#f1f5f9}
.dz .lg{outline:3px dashed var(--a);outline-offset:-6px}
progress{display:block;width:160px;height:6px;margin-top:6px;accent-color:#fff}
.sb{width:42px;height:42px;border-radius:50%;background:var(--a);color:#fff}
.sb:disabled{opacity:.4;cursor:default}
.pg .p{inset:0;width:auto;height:auto;border-radius:0;box-shadow:none;animation:none}
.pg .lg,.pg .f,.pg .ty,.pg .hd{padding-left:max(14px,calc(50% - 380px));padding-right:max(14px,calc(50% - 380px))}
.pg .hd{padding-top:max(14px,env(safe-area-inset-top))}
.pg .f{padding-bottom:max(10px,env(safe-area-inset-bottom))}
@media (max-width:480px){.p{inset:0;width:auto;height:auto;border-radius:0;animation:none}.o .l{display:none}.hd{padding-top:max(14px,env(safe-area-inset-top))}.f{padding-bottom:max(10px,env(safe-area-inset-bottom))}}
@media (prefers-reduced-motion:reduce){.p{animation:none}.l{transition:none}}
.rt{align-self:center;width:min(300px,94%);margin:10px 0;padding:12px 14px;background:#fff;border:1px solid #e5e7eb;border-radius:14px;text-align:center}
.rq{font-weight:600;font-size:14px}
.st{display:flex;justify-content:center;gap:2px;margin:6px 0}
.st button{width:42px;height:42px;border-radius:10px;background:none;color:#5b6472;font-size:26px;line-height:1}
.st button:hover,.st .on{color:#b45309}
.st button[aria-pressed=true]{background:#fef3c7}
.rt textarea,.rt input{display:block;width:100%;height:64px;max-height:none;border-radius:10px;padding:8px 10px;font-size:14px}
.rt input{height:38px;margin-top:8px;border:1px solid #6b7280}
.rs{width:100%;height:38px;margin-top:8px;border-radius:19px;background:var(--a);color:#fff;font-weight:600}
.rs:disabled{background:#e5e7eb;color:#5b6472;cursor:default}
.fs a{display:block;margin-top:4px;color:inherit;word-break:break-all}.fs img{display:block;max-width:100%;max-height:220px;border-radius:8px}`;

  const host = document.createElement('div');
  host.setAttribute('data-openlines-widget', '');
  const root = host.attachShadow({ mode: 'open' });
  // A constructed style sheet is not an inline <style>: a site whose content security policy
  // refuses inline styles still shows the chat styled. Browsers without one get the element.
  let styleTag = `<style>${STYLE}</style>`;
  if ('adoptedStyleSheets' in root && typeof CSSStyleSheet.prototype.replaceSync === 'function') {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(STYLE);
    root.adoptedStyleSheets = [sheet];
    styleTag = '';
  }
  // Only constant markup goes through innerHTML; every text from people is set as textContent.
  root.innerHTML = `${styleTag}<div class="r${PAGE ? ' pg' : ''}">` +
    (PAGE ? '' : `<button class="l" type="button" data-ol="launcher" aria-label="Open chat" aria-expanded="false">${ICON_CHAT}${ICON_CLOSE}<span class="u" data-ol="unread" hidden></span></button>`) +
    `<section class="p" data-ol="panel" role="dialog"${PAGE ? '' : ' hidden'}>` +
    '<div class="hd"><div><div class="t" data-ol="title"></div><div class="s" data-ol="status" data-state="connecting" aria-live="polite"></div></div>' +
    (PAGE ? '' : `<button class="x" type="button" data-ol="close" aria-label="Close chat">${ICON_CLOSE}</button>`) + '</div>' +
    '<div class="tb" data-ol="tabs" hidden></div><form class="fm" data-ol="form" novalidate hidden></form>' +
    '<div class="lg" data-ol="log" role="log" aria-live="polite"><div class="hi">Ask us anything — we will answer here.</div></div>' +
    '<div class="ty" data-ol="typing" role="status" hidden></div>' +
    `<div class="f"><button class="at" type="button" data-ol="attach" aria-label="Attach a file" hidden>${ICON_CLIP}</button><input type="file" data-ol="file" multiple hidden tabindex="-1" aria-hidden="true">` +
    `<textarea data-ol="input" rows="1" maxlength="${MAX_LEN}" placeholder="Write a message…" aria-label="Message"></textarea>` +
    `<button class="sb" type="button" data-ol="send" aria-label="Send" disabled>${ICON_SEND}</button></div></section></div>`;
  const $ = (hook) => root.querySelector(`[data-ol="${hook}"]`);
  const wrap = root.querySelector('.r');
  const [launcher, badge, panel, statusLine, log, typingLine, input, sendButton] =
    ['launcher', 'unread', 'panel', 'status', 'log', 'typing', 'input', 'send'].map($);
  $('title').textContent = TITLE;
  panel.setAttribute('aria-label', TITLE);

  const byId = new Map();
  const pending = new Map(); // client_msg_id -> element not yet echoed by the hub
  const seenClientIds = new Set();
  let lastId = 0;
  let unread = 0;
  let isOpen = PAGE;
  let typingTimer = 0;

  let token = local.get(TOKEN_KEY);
  let ws = null;
  let welcomed = false;
  let seenWelcome = false;
  let started = false;
  let attempt = 0;
  let skipBackoff = false;
  let reconnectTimer = 0;
  let pingTimer = 0;

  // The site's logged-in user, signed by the site's server (docs/PROTOCOL.md, "Signed site
  // identity"): from data-user-* on the script tag, or later from Openlines.identify().
  const WHO_KEY = `openlines.who.${KEY}`;
  const EMAIL_KEY = `openlines.email.${KEY}`; // an address the visitor gave, for the transcript
  let identity = null;
  // True when the stored conversation was someone else's and has been dropped; null when
  // `u` is not an identity at all.
  function setIdentity(u) {
    if (!u || typeof u.id !== 'string' || !u.id || typeof u.signature !== 'string') return null;
    identity = { id: u.id, ts: Number(u.ts), signature: u.signature };
    if (u.name) identity.name = String(u.name);
    if (u.email) identity.email = String(u.email);
    const who = local.get(WHO_KEY);
    local.set(WHO_KEY, identity.id);
    // One conversation belongs to one site user: keeping it for another user on this browser
    // would show them its history and make the CRM merge the two users' clients.
    if (who === null || who === identity.id || !token) return false;
    token = null;
    local.del(TOKEN_KEY);
    local.del(EMAIL_KEY);
    lastId = 0;
    outbox = [];
    saveOutbox();
    return true;
  }
  const userData = script.dataset;
  if (userData.userId) {
    setIdentity({ id: userData.userId, ts: userData.userTs, name: userData.userName,
      email: userData.userEmail, signature: userData.userSignature });
  }
  let lastFrameAt = 0;
  let lastPingAt = 0;
  let lastTypingAt = 0;
  let inflight = []; // client_msg_ids sent on this socket and not answered yet, oldest first


  const clock = (at) => {
    // The protocol's times are UTC; a stamp without an offset would otherwise read as local.
    const d = new Date(/(Z|[+-]\d\d:?\d\d)$/i.test(at) ? at : `${at}Z`);
    return Number.isNaN(d.getTime()) ? '' :
      d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  };

  function node(author, text, name, state) {
    const el = document.createElement('div');
    el.className = 'm';
    Object.assign(el.dataset, { ol: 'message', author, state });
    const prev = log.lastElementChild;
    if (name) {
      el.dataset.name = name;
      if (author === 'operator' && !(prev && prev.dataset.author === 'operator' &&
          prev.dataset.name === name)) el.append(div('n', name));
    }
    const b = div('b', text);
    b.dataset.ol = 'text';
    el.append(b, div('mt', ''));
    return el;
  }

  function div(className, text) {
    const el = document.createElement('div');
    el.className = className;
    el.textContent = text;
    return el;
  }

  const setMeta = (el, text) => { el.lastElementChild.textContent = text; };
  const nearBottom = () => log.scrollHeight - log.scrollTop - log.clientHeight < 80;
  const toBottom = () => { log.scrollTop = log.scrollHeight; };
  const unsent = (c) => c.dataset.state === 'pending' || c.dataset.state === 'failed';

  // Delivered messages are ordered by id and unsent ones stay last; a local note stops the
  // walk so that whatever the hub sends after "closed" appears below it.
  function place(el, id) {
    let c = log.lastElementChild;
    while (c && c.dataset.ol === 'message' && (unsent(c) || Number(c.dataset.id) > id)) {
      c = c.previousElementSibling;
    }
    c.after(el); // the greeting line is always first, so c is never null here
  }

  // The line asks for a rating on close: one card with a row of 1–5 stars (or 👍/👎, sent as
  // 5/1) and an optional comment. The hub repeats the request in every welcome until it is
  // answered, so the card survives reloads; `rated` turns it into a thank-you.
  let rating = null; // {id, box} of the card shown
  function askRating(dialogId, kind) {
    if (!Number.isInteger(dialogId) || (rating && rating.id === dialogId)) return;
    if (rating) rating.box.remove();
    const box = div('rt', '');
    box.dataset.ol = 'rating';
    box.setAttribute('role', 'group');
    const q = div('rq', kind === 'like' ? 'Did we help you?' : 'Please rate the conversation');
    q.id = 'olrq';
    box.setAttribute('aria-labelledby', q.id);
    const row = div('st', '');
    const choices = kind === 'like' ? [['👍', 5, 'Yes, you helped'], ['👎', 1, 'No, you did not']]
      : [1, 2, 3, 4, 5].map((v) => ['★', v, `${v} of 5 stars`]);
    const comment = document.createElement('textarea');
    comment.dataset.ol = 'rating-comment';
    comment.maxLength = 1000;
    comment.placeholder = 'Add a comment (optional)';
    comment.setAttribute('aria-label', 'Comment (optional)');
    const send = button('rs', 'Send rating');
    send.dataset.ol = 'rating-send';
    send.disabled = true;
    let value = 0;
    for (const [label, v, aria] of choices) {
      const b = button('', label);
      b.setAttribute('aria-label', aria);
      b.setAttribute('aria-pressed', 'false');
      b.dataset.rating = String(v);
      b.addEventListener('click', () => {
        value = v;
        send.disabled = false;
        for (const o of row.children) {
          const on = kind === 'like' ? o === b : Number(o.dataset.rating) <= v;
          o.classList.toggle('on', on);
          o.setAttribute('aria-pressed', String(o === b));
        }
      });
      row.append(b);
    }
    send.addEventListener('click', () => {
      const frame = { type: 'rate', dialog_id: dialogId, value };
      if (comment.value.trim()) frame.comment = comment.value.trim();
      // A disabled button drops the focus; the thank-you hands it on to the message field.
      if (value && sendFrame(frame)) send.disabled = rating.refocus = true;
    });
    box.append(q, row, comment, send);
    rating = { id: dialogId, box };
    log.insertBefore(box, [...log.children].find(unsent) || null);
    toBottom();
  }

  function rated(dialogId) {
    if (!rating || rating.id !== dialogId) return;
    const thanks = div('rq', 'Thank you for your rating!');
    thanks.setAttribute('role', 'status');
    rating.box.replaceChildren(thanks);
    rating.box.dataset.state = 'rated';
    if (rating.refocus) input.focus();
  }

  // "Send me the transcript": offered once a conversation closes, pre-filled with an email
  // the visitor gave before; the hub mails it as plain text.
  let transcript = null; // {id, box} of the card shown
  function offerTranscript(dialogId) {
    if (!Number.isInteger(dialogId) || (transcript && transcript.id === dialogId)) return;
    if (transcript) transcript.box.remove();
    const box = div('rt', '');
    box.dataset.ol = 'transcript';
    box.setAttribute('role', 'group');
    const q = div('rq', 'Email me this conversation');
    q.id = 'oltq';
    box.setAttribute('aria-labelledby', q.id);
    const to = document.createElement('input');
    to.type = 'email';
    to.autocomplete = 'email';
    to.value = local.get(EMAIL_KEY) || (identity && identity.email) || '';
    to.setAttribute('aria-label', 'Your email');
    to.placeholder = 'Your email';
    const err = div('e', '');
    err.setAttribute('role', 'alert');
    const send = button('rs', 'Send transcript');
    send.addEventListener('click', () => {
      const email = to.value.trim();
      if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email)) { err.textContent = 'Please check the email address'; to.focus(); return; }
      err.textContent = '';
      rememberEmail(email);
      if (sendFrame({ type: 'transcript', dialog_id: dialogId, email })) send.disabled = true;
    });
    box.append(q, to, err, send);
    transcript = { id: dialogId, box, to, err, send };
    log.insertBefore(box, [...log.children].find(unsent) || null);
    toBottom();
  }
  const rememberEmail = (email) => { if (email) local.set(EMAIL_KEY, email); };

  function transcriptSent(dialogId) {
    if (!transcript || transcript.id !== dialogId) return;
    const done = div('rq', `The transcript is on its way to ${transcript.to.value.trim()}`);
    done.setAttribute('role', 'status');
    transcript.box.replaceChildren(done);
    transcript.box.dataset.state = 'sent';
  }

  function button(className, text) {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = className;
    b.textContent = text;
    return b;
  }

  function note(text) {
    const follow = nearBottom();
    log.insertBefore(node('system', text, '', 'local'), [...log.children].find(unsent) || null);
    if (follow) toBottom();
  }

  function setUnread(n) {
    unread = n;
    if (!badge) return;
    badge.hidden = n === 0;
    badge.textContent = n > 9 ? '9+' : String(n);
    badge.setAttribute('aria-hidden', 'true'); // the launcher's own label says it
    launcherLabel();
  }

  function addMessage(m, live) {
    if (!m || !Number.isInteger(m.id) || typeof m.text !== 'string' || byId.has(m.id)) return;
    const cid = typeof m.client_msg_id === 'string' ? m.client_msg_id : '';
    const author = ['visitor', 'operator', 'system'].includes(m.author) ? m.author : 'system';
    if (cid && author === 'visitor' && seenClientIds.has(cid)) return;
    const follow = nearBottom();
    if (cid && sending.has(cid)) { sending.get(cid).remove(); sending.delete(cid); }
    let el = author === 'visitor' && cid && pending.get(cid);
    if (el) {
      pending.delete(cid);
      outbox = outbox.filter((it) => it.client_msg_id !== cid);
      saveOutbox();
      el.remove();
    } else {
      const name = typeof m.author_name === 'string' ? m.author_name : '';
      el = node(author, m.text, name, 'delivered');
      addFiles(el, m.attachments);
    }
    if (cid) seenClientIds.add(cid);
    inflight = inflight.filter((x) => x !== cid);
    el.dataset.id = String(m.id);
    el.dataset.state = 'delivered';
    setMeta(el, clock(m.at) + (author === 'visitor' ? ' ✓' : ''));
    byId.set(m.id, el);
    lastId = Math.max(lastId, m.id);
    place(el, m.id);
    if (author === 'operator') { showTyping(''); if (seenObserver) seenObserver.observe(el); }
    if (live && author !== 'visitor' && !isOpen) setUnread(unread + 1);
    if (follow || author === 'visitor') toBottom();
    if (cid && cid === formCid) formSent(); // the thank-you goes below the message
  }

  // Operators' files arrive as signed /files/… links on the hub; images show inline, other
  // files as download links. Elements and attributes only: a file name is never markup.
  function addFiles(el, files) {
    if (!Array.isArray(files) || !files.length) return;
    const box = document.createElement('div');
    box.className = 'fs';
    box.dataset.ol = 'files';
    for (const f of files) {
      if (!f || typeof f.url !== 'string' || !f.url.startsWith('/files/')) continue;
      const name = typeof f.name === 'string' && f.name ? f.name : 'file';
      const a = document.createElement('a');
      a.href = `${HUB}${f.url}`;
      a.target = '_blank';
      a.rel = 'noopener noreferrer';
      if (f.kind === 'image') {
        const img = document.createElement('img');
        img.src = a.href;
        img.alt = name;
        img.loading = 'lazy';
        a.append(img);
      } else {
        a.textContent = `📎 ${name}`;
        a.setAttribute('download', name);
      }
      box.append(a);
    }
    const text = el.querySelector('[data-ol="text"]');
    if (!text.textContent) text.hidden = true; // a files-only reply has no empty bubble
    el.insertBefore(box, el.lastElementChild);
  }

  function showPending(item) {
    const el = node('visitor', item.text, '', 'pending');
    setMeta(el, 'Sending…');
    pending.set(item.client_msg_id, el);
    log.append(el);
    toBottom();
  }

  function showTyping(name) {
    clearTimeout(typingTimer);
    typingLine.hidden = !name;
    typingLine.textContent = name ? `${name} is typing…` : '';
    // Operators' consoles send at most one typing frame per 2 s: 5 s of silence means stopped.
    if (name) typingTimer = setTimeout(showTyping, 5000, '');
  }

  // Read receipts: an operator's message counts as seen once half of it is on screen in the open
  // panel of a visible page; the hub is told the newest such id (it marks the older ones too).
  const shownIds = new Set();
  let readUpTo = 0;
  const seenObserver = 'IntersectionObserver' in window ? new IntersectionObserver((entries) => {
    for (const e of entries) {
      const id = Number(e.target.dataset.id);
      if (e.isIntersecting) shownIds.add(id); else shownIds.delete(id);
    }
    reportRead();
  }, { root: log, threshold: 0.5 }) : null;

  function reportRead() {
    if (!welcomed || document.visibilityState !== 'visible' || (!isOpen && !PAGE)) return;
    const top = Math.max(0, ...shownIds);
    if (top > readUpTo && sendFrame({ type: 'read', up_to: top })) readUpTo = top;
  }
  document.addEventListener('visibilitychange', () => reportRead());

  function setStatus(state) {
    statusLine.dataset.state = state;
    statusLine.textContent = state === 'online' ? 'We are online' :
      state === 'offline' ? 'We are away — leave a message' : 'Connecting…';
  }


  const sendFrame = (frame) => {
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(JSON.stringify(frame));
    return true;
  };

  function transmit(item) {
    const { client_msg_id, text } = item;
    if (welcomed && sendFrame({ type: 'message', client_msg_id, text })) inflight.push(client_msg_id);
  }

  // Where a network refuses websockets (some corporate proxies and antivirus shields do), the
  // chat goes over long polls (docs/PROTOCOL.md, "Web chat over long polls"): after two
  // sockets in a row that never opened, and for an hour in this tab once a socket tried
  // beside a working poll link failed too.
  const POLL_KEY = `openlines.poll.${KEY}`;
  const POLL_FOR_MS = 3600000;
  const OPEN_WITHIN_MS = 10000; // a socket a proxy holds half-open has failed after this
  let socketFailures = 0;
  let openTimer = 0;

  function connect() {
    clearTimeout(reconnectTimer);
    if (ws) return;
    welcomed = false;
    inflight = [];
    setStatus('connecting');
    const polled = socketFailures >= 2 || Number(session.get(POLL_KEY)) > Date.now();
    try { ws = polled ? pollSocket() : new WebSocket(WS_URL); } catch { scheduleReconnect(); return; }
    const link = ws;
    let opened = false;
    clearTimeout(openTimer);
    openTimer = setTimeout(() => { if (!opened && link.onclose) link.onclose(); }, OPEN_WITHIN_MS);
    ws.onopen = () => {
      opened = true;
      clearTimeout(openTimer);
      lastFrameAt = Date.now();
      const hello = { type: 'hello' };
      if (token) hello.token = token;
      if (lastId) hello.after = lastId;
      if (identity) hello.identity = identity;
      sendFrame(hello);
      clearInterval(pingTimer);
      pingTimer = setInterval(ping, 25000);
    };
    ws.onmessage = (e) => {
      lastFrameAt = Date.now();
      let frame;
      try { frame = JSON.parse(e.data); } catch { return; }
      if (frame && typeof frame.type === 'string') handle(frame);
    };
    ws.onclose = () => {
      clearTimeout(openTimer);
      if (!polled) socketFailures = opened ? 0 : socketFailures + 1;
      dropped();
    };
  }

  // A poll link works after sockets failed: try one socket beside it. Sockets that failed
  // while the hub restarted work again, and the chat goes back to one; only where the poll
  // link works and sockets do not does the widget stay on polls.
  function probeSocket() {
    if (Number(session.get(POLL_KEY)) > Date.now()) return; // refused before, in this tab
    let probe;
    try { probe = new WebSocket(WS_URL); } catch { return; }
    let worked = false;
    const timer = setTimeout(() => probe.close(), OPEN_WITHIN_MS);
    probe.onopen = () => {
      worked = true;
      probe.close();
      socketFailures = 0;
      if (ws && ws.polled) { skipBackoff = true; dropped(); }
    };
    probe.onclose = () => {
      clearTimeout(timer);
      if (!worked) session.set(POLL_KEY, String(Date.now() + POLL_FOR_MS));
    };
  }

  // The long-poll link, with a WebSocket's face (readyState, send, close, on*), so the rest
  // of the widget does not know which one it has. Every request is one a browser sends from
  // any page without asking first; the link's name in its URLs stands for the socket.
  function pollSocket() {
    const url = `${HUB}/widget/poll`;
    const sock = { readyState: 0, onopen: null, onmessage: null, onclose: null, polled: true };
    const stop = new AbortController();
    let link = '';
    let after = 0;
    let queue = [];
    let posting = false;
    const bye = () => { if (link && navigator.sendBeacon) navigator.sendBeacon(`${url}/${link}/close`); };
    const end = () => {
      if (sock.readyState === 3) return;
      sock.readyState = 3;
      stop.abort();
      window.removeEventListener('pagehide', bye);
      if (sock.onclose) sock.onclose();
    };
    sock.close = () => { if (sock.readyState === 1) bye(); end(); };
    sock.send = (text) => { queue.push(text); flush(); };
    async function flush() {
      if (posting || !queue.length || sock.readyState !== 1) return;
      posting = true;
      const sent = queue;
      queue = [];
      try {
        const r = await fetch(`${url}/${link}`, { method: 'POST', body: sent.join('\n'), signal: stop.signal });
        if (r.status === 429) { // the hub has frames of ours waiting still: send these again
          queue = sent.concat(queue);
          await new Promise((done) => { setTimeout(done, 1000); });
        } else if (!r.ok) end();
      } catch { end(); }
      posting = false;
      flush();
    }
    async function poll() {
      while (sock.readyState === 1) {
        let lines;
        let head;
        try {
          const r = await fetch(`${url}/${link}?after=${after}`, { signal: stop.signal, cache: 'no-store' });
          if (!r.ok) { end(); return; }
          lines = (await r.text()).split('\n');
          head = JSON.parse(lines[0]);
        } catch { end(); return; }
        after = head.last;
        for (const data of lines.slice(1)) if (sock.readyState === 1 && sock.onmessage) sock.onmessage({ data });
        if (head.closed) { end(); return; }
      }
    }
    fetch(`${url}?channel=${encodeURIComponent(KEY)}`, { method: 'POST', signal: stop.signal })
      .then((r) => (r.ok ? r.json() : Promise.reject(new Error(`poll link: ${r.status}`))))
      .then((opened) => {
        if (sock.readyState !== 0) return;
        link = opened.link;
        sock.readyState = 1;
        window.addEventListener('pagehide', bye);
        if (sock.onopen) sock.onopen();
        poll();
      })
      .catch(end);
    return sock;
  }

  // One path for a closed socket and for one that went silent, which browsers notice late.
  function dropped() {
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = null;
      try { ws.close(); } catch { /* already closing */ }
    }
    ws = null;
    welcomed = false;
    clearInterval(pingTimer);
    showTyping('');
    setStatus('connecting');
    scheduleReconnect();
  }

  function scheduleReconnect() {
    clearTimeout(reconnectTimer);
    const step = Math.min(10000, 500 * 2 ** attempt++);
    const delay = skipBackoff ? 0 : Math.min(10000, step * (0.8 + Math.random() * 0.4));
    skipBackoff = false;
    reconnectTimer = setTimeout(connect, delay);
  }

  function ping() {
    if (lastPingAt > lastFrameAt) { dropped(); return; } // the last ping got no answer
    lastPingAt = Date.now();
    sendFrame({ type: 'ping' });
  }

  function handle(f) {
    switch (f.type) {
      case 'welcome':
        welcomed = true;
        attempt = 0;
        if (ws && ws.polled) probeSocket();
        if (typeof f.token === 'string' && f.token) local.set(TOKEN_KEY, token = f.token);
        setStatus(f.online ? 'online' : 'offline');
        setTabs(Array.isArray(f.forms) ? f.forms : []);
        // The first history after a page load is old news, not unread messages.
        if (Array.isArray(f.history)) f.history.forEach((m) => addMessage(m, seenWelcome));
        seenWelcome = true;
        offlineForm(f.online);
        if (f.prechat && view === 'chat' && !byId.size && !outbox.length && !pending.size) show('prechat');
        uploads = f.uploads && Number.isInteger(f.uploads.max_bytes) ? f.uploads : null;
        attach.hidden = !uploads;
        if (f.rating && ['stars', 'like'].includes(f.rating.rating)) {
          askRating(f.rating.dialog_id, f.rating.rating);
        } else if (rating && rating.box.dataset.state !== 'rated') {
          rating.box.remove(); // answered elsewhere, e.g. in another tab
          rating = null;
        }
        outbox.forEach(transmit);
        reportRead();
        break;
      case 'message':
        // The table lists the frame's fields as "message object": accept it flat or nested.
        addMessage(f.message && typeof f.message === 'object' ? f.message : f, true);
        break;
      case 'accepted':
        inflight = inflight.filter((x) => x !== f.client_msg_id);
        if (pending.has(f.client_msg_id)) setMeta(pending.get(f.client_msg_id), 'Sent');
        break;
      case 'typing':
        showTyping(typeof f.author_name === 'string' && f.author_name ? f.author_name : 'Operator');
        break;
      case 'closed':
        showTyping('');
        note('The conversation was closed');
        if (f.rating === 'stars' || f.rating === 'like') askRating(f.dialog_id, f.rating);
        offerTranscript(f.dialog_id);
        break;
      case 'transcript_sent':
        transcriptSent(f.dialog_id);
        break;
      case 'rated':
        rated(f.dialog_id);
        break;
      case 'error':
        onError(f);
        break;
      case 'pong':
        // Every keep-alive checks again whether the line is answering (hours and presence).
        if (typeof f.online === 'boolean') setStatus(f.online ? 'online' : 'offline');
        break;
      default: // frame types newer than this script
    }
  }

  function onError(f) {
    if (f.code === 'transcript' && transcript) {
      transcript.err.textContent = String(f.reason);
      transcript.send.disabled = false;
      return;
    }
    if (f.code === 'bad_identity') {
      // A site's mistake, not the visitor's: they chat on anonymously and see nothing of it.
      identity = null;
      console.warn(`Openlines: identity refused: ${f.reason}`);
      return;
    }
    if (f.code === 'bad_token' && !welcomed) {
      // Come back at once as a new visitor, and only once:
      // a hello without a token cannot be refused for its token again.
      if (token) {
        token = null;
        local.del(TOKEN_KEY);
        lastId = 0;
        skipBackoff = true;
        dropped();
      }
      return;
    }
    if (formCid && f.client_msg_id === formCid) {
      formCid = '';
      const err = form.querySelector('.e');
      if (err) {
        err.textContent = String(f.reason).startsWith('contact.phone')
          ? 'Please check the phone number: write it with + and the country code' : UNSENT;
      }
      return;
    }
    const upload = sending.get(f.client_msg_id);
    if (upload) { upload.dataset.state = 'failed'; setMeta(upload, 'Not sent'); }
    // The hub names the refused message; dropping it keeps one bad message from being resent
    // after every reconnect. Without a name, frames are answered in order, so it is the
    // oldest one still unanswered.
    if ((f.code === 'too_long' || f.code === 'bad_frame') && inflight.length) {
      const named = typeof f.client_msg_id === 'string' && inflight.includes(f.client_msg_id);
      const cid = named ? f.client_msg_id : inflight[0];
      inflight = inflight.filter((id) => id !== cid);
      outbox = outbox.filter((it) => it.client_msg_id !== cid);
      saveOutbox();
      const el = pending.get(cid);
      if (el) {
        pending.delete(cid);
        el.dataset.state = 'failed';
        setMeta(el, 'Not sent');
      }
    }
    if ((f.code === 'rate_limited' || f.code === 'unavailable') && inflight.length) {
      const again = inflight.splice(0);
      setTimeout(() => outbox.filter((it) => again.includes(it.client_msg_id)).forEach(transmit),
        3000);
    }
    note(ERRORS[f.code] || (typeof f.reason === 'string' && f.reason) || 'Something went wrong');
  }

  // Visitor files: the button, drag and drop onto the panel, or paste. Each file is uploaded
  // with its progress shown, then sent as a message carrying the upload's token.
  let uploads = null; // {max_bytes, types} from the welcome; null: this chat takes no files
  const sending = new Map(); // client_msg_id -> progress bubble until the hub echoes it
  const attach = $('attach');
  const picker = $('file');
  const typeOk = (mime) => uploads.types.some((p) => p === mime || p === '*/*' ||
    (p.endsWith('/*') && mime.startsWith(p.slice(0, -1))));

  function sendFiles(files) {
    if (!uploads || !token) { note('Files can be sent once the chat is connected'); return; }
    for (const file of files) {
      if (file.size > uploads.max_bytes) {
        note(`${file.name}: larger than ${Math.floor(uploads.max_bytes / 1048576)} MB`);
      } else if (file.type && !typeOk(file.type)) {
        note(`${file.name}: this type of file cannot be sent here`);
      } else upload(file);
    }
  }

  function upload(file) {
    const cid = newId();
    const el = node('visitor', file.name, '', 'pending');
    const bar = document.createElement('progress');
    bar.max = 1;
    bar.value = 0;
    bar.setAttribute('aria-label', `Uploading ${file.name}`);
    el.firstElementChild.append(bar);
    setMeta(el, 'Uploading…');
    sending.set(cid, el);
    log.append(el);
    toBottom();
    const xhr = new XMLHttpRequest();
    xhr.open('POST', `${HUB}/widget/upload?channel=${encodeURIComponent(KEY)}`);
    xhr.setRequestHeader('X-Openlines-Token', token);
    xhr.setRequestHeader('X-File-Name', encodeURIComponent(file.name));
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) bar.value = e.loaded / e.total; };
    const failed = (why) => {
      el.dataset.state = 'failed';
      bar.remove();
      setMeta(el, why || 'Not sent');
    };
    xhr.onerror = () => failed();
    xhr.onload = () => {
      if (xhr.status !== 201) { failed(xhr.responseText.slice(0, 200)); return; }
      let att;
      try { att = JSON.parse(xhr.responseText); } catch { failed(); return; }
      bar.value = 1;
      setMeta(el, 'Sending…');
      if (!sendFrame({ type: 'message', client_msg_id: cid, text: '', attachments: [att] })) failed();
    };
    xhr.send(file);
  }

  attach.addEventListener('click', () => picker.click());
  picker.addEventListener('change', () => { sendFiles([...picker.files]); picker.value = ''; });
  input.addEventListener('paste', (e) => {
    const files = [...(e.clipboardData ? e.clipboardData.files : [])];
    if (files.length && uploads) { e.preventDefault(); sendFiles(files); }
  });
  panel.addEventListener('dragover', (e) => {
    if (!uploads || !e.dataTransfer.types.includes('Files')) return;
    e.preventDefault();
    wrap.classList.add('dz');
  });
  panel.addEventListener('dragleave', (e) => {
    if (!panel.contains(e.relatedTarget)) wrap.classList.remove('dz');
  });
  panel.addEventListener('drop', (e) => {
    wrap.classList.remove('dz');
    if (!uploads || !e.dataTransfer.files.length) return;
    e.preventDefault();
    sendFiles([...e.dataTransfer.files]);
  });

  // Forms beside the chat: "call me back" (a dialog whose first message is the phone) and a
  // contact form (a message with an email), offered as tabs when the chat's settings list
  // them; the contact form also stands in for an empty chat while nobody is answering.
  const FORMS = {
    callback: ['Call me back', 'Leave your number and we will call you back.',
      [['name', 'Your name', 'text', 0], ['phone', 'Phone, with the country code', 'tel', 1]]],
    contact: ['Write to us', 'Leave a message and your email, and we will get back to you.',
      [['name', 'Your name', 'text', 0], ['email', 'Email', 'email', 1],
        ['text', 'Message', 'textarea', 1]]],
    prechat: ['Start a chat', 'Tell us who you are, and ask away.',
      [['name', 'Your name', 'text', 1], ['email', 'Email', 'email', 0],
        ['phone', 'Phone, with the country code', 'tel', 0], ['text', 'Message', 'textarea', 1]]],
  };
  const form = $('form');
  const tabs = $('tabs');
  let view = 'chat';
  let formCid = '';
  let offers = [];

  function setTabs(list) {
    offers = list.filter((k) => FORMS[k]);
    tabs.hidden = !offers.length;
    tabs.replaceChildren(...['chat', ...offers].map((k) => {
      const b = button('', k === 'chat' ? 'Chat' : FORMS[k][0]);
      b.dataset.view = k;
      b.setAttribute('aria-pressed', String(k === view));
      b.addEventListener('click', () => show(k));
      return b;
    }));
  }

  function show(kind, intro) {
    view = kind;
    for (const b of tabs.children) b.setAttribute('aria-pressed', String(b.dataset.view === kind));
    const chat = kind === 'chat';
    for (const el of [log, input.parentElement]) el.hidden = !chat;
    if (!chat) typingLine.hidden = true;
    form.hidden = chat;
    if (chat) return;
    const [title, text, fields] = FORMS[kind];
    form.dataset.kind = kind;
    form.setAttribute('aria-label', title);
    const p = document.createElement('p');
    p.textContent = intro || text;
    form.replaceChildren(p);
    for (const [name, label, type, required] of fields) {
      const l = document.createElement('label');
      const f = document.createElement(type === 'textarea' ? 'textarea' : 'input');
      if (type !== 'textarea') f.type = type;
      f.name = name;
      f.required = !!required;
      f.maxLength = type === 'textarea' ? MAX_LEN : 255;
      f.autocomplete = { name: 'name', email: 'email', phone: 'tel' }[name] || 'off';
      l.append(document.createTextNode(label + (required ? '' : ' (optional)')), f);
      form.append(l);
    }
    const err = div('e', '');
    err.dataset.ol = 'form-error';
    err.setAttribute('role', 'alert');
    const go = button('rs', 'Send');
    go.type = 'submit';
    form.append(err, go);
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const v = (n) => (form.elements[n] ? form.elements[n].value.trim() : '');
    const err = form.querySelector('.e');
    const missing = [...form.elements].find((f) => f.required && !f.value.trim());
    const kind = form.dataset.kind;
    if (missing) { err.textContent = 'Please fill in every field that is not optional'; missing.focus(); return; }
    if ((kind === 'contact' || v('email')) && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(v('email'))) {
      err.textContent = 'Please check the email address';
      form.elements.email.focus();
      return;
    }
    formCid = newId();
    const contact = { name: v('name'), email: v('email'), phone: v('phone') };
    rememberEmail(contact.email);
    const text = kind === 'callback' ? `Please call me back: ${v('phone')}` : v('text');
    if (!welcomed || !sendFrame({ type: 'message', client_msg_id: formCid, text, contact })) {
      err.textContent = 'Not connected yet; please try again in a moment';
      start();
    }
  });

  function formSent() {
    const kind = form.dataset.kind;
    formCid = '';
    show('chat');
    if (kind === 'prechat') { input.focus(); return; } // the chat goes on with the message shown
    note(kind === 'callback' ? 'Thank you! We will call you back soon.'
      : 'Thank you! We have your message and will get back to you.');
  }

  function offlineForm(online) {
    // Only a chat that offers the contact form swaps the chat for it; others take messages
    // that wait in the queue as before.
    if (!online && offers.includes('contact') && view === 'chat' && !byId.size &&
        !outbox.length && !pending.size) {
      show('contact', 'We are away right now. Leave a message and your email, and we will get back to you.');
    }
  }

  function start() {
    if (!started) connect();
    started = true;
  }

  // Come back at once when the network or the tab returns instead of sleeping out the backoff.
  const wake = () => {
    if (started && !ws && document.visibilityState !== 'hidden') {
      attempt = 0;
      connect();
    }
  };
  window.addEventListener('online', wake);
  document.addEventListener('visibilitychange', wake);


  function autosize() {
    input.style.height = 'auto';
    input.style.height = `${Math.min(input.scrollHeight + 2, 140)}px`;
    sendButton.disabled = !input.value.trim();
  }

  function submit() {
    const text = input.value.trim();
    if (!text) return;
    if (text.length > MAX_LEN) { note(ERRORS.too_long); return; }
    const item = { client_msg_id: newId(), text };
    outbox.push(item);
    saveOutbox();
    showPending(item);
    input.value = '';
    autosize();
    start();
    transmit(item);
  }

  input.addEventListener('input', () => {
    autosize();
    if (welcomed && input.value && Date.now() - lastTypingAt >= 2000) {
      lastTypingAt = Date.now();
      sendFrame({ type: 'typing' });
    }
  });
  input.addEventListener('keydown', (e) => {
    // isComposing: Enter that confirms an IME candidate (Chinese, Japanese…) must not send.
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
      e.preventDefault();
      submit();
    }
  });
  sendButton.addEventListener('click', () => { submit(); input.focus(); });

  function launcherLabel() {
    const more = unread ? `, ${unread} unread message${unread > 1 ? 's' : ''}` : '';
    launcher.setAttribute('aria-label', isOpen ? 'Close chat' : `Open chat${more}`);
  }

  function toggle(show) {
    if (PAGE) return;
    isOpen = show;
    panel.hidden = !show;
    wrap.classList.toggle('o', show);
    launcher.setAttribute('aria-expanded', String(show));
    launcherLabel();
    if (!show) { session.del(OPEN_KEY); return; }
    setUnread(0);
    session.set(OPEN_KEY, '1');
    start();
    toBottom();
    // On touch screens focusing would throw the keyboard over the conversation.
    if (matchMedia('(pointer: fine)').matches) input.focus();
  }
  const open = () => toggle(true);
  const close = () => toggle(false);

  if (!PAGE) {
    launcher.addEventListener('click', () => toggle(!isOpen));
    // Warm the socket up as the pointer approaches, so the panel is live by the click.
    launcher.addEventListener('pointerenter', start);
    launcher.addEventListener('focus', start);
    $('close').addEventListener('click', () => { close(); launcher.focus(); });
    // Focus goes back where it came from, not to <body>, so a keyboard user can go on.
    panel.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') { close(); launcher.focus(); }
    });
    // Lets a site add its own "chat with us" links without inline scripts, which a CSP may forbid.
    document.addEventListener('click', (e) => {
      if (e.target instanceof Element && e.target.closest('[data-openlines-open]')) {
        e.preventDefault();
        open();
      }
    });
  }

  // For sites that learn who the user is after the page loads (a single-page app's login).
  function identify(user) {
    const reset = setIdentity(user);
    if (reset === null) return false;
    if (reset && ws) {
      skipBackoff = true;
      dropped(); // reconnect as a new visitor, whose hello carries the identity
    } else if (identity && welcomed) {
      sendFrame({ type: 'identify', identity });
    }
    return true;
  }

  window.Openlines = { open, close, identify };

  function mount() {
    document.body.append(host);
    outbox.forEach(showPending);
    setStatus('connecting');
    // Anonymous page views open no socket; a visitor with a conversation gets live replies.
    if (PAGE || token || outbox.length) start();
    if (session.get(OPEN_KEY)) open();
  }
  if (document.body) mount(); else document.addEventListener('DOMContentLoaded', mount);
})();
