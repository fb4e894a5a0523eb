"""Reading one IMAP folder: UID/UIDVALIDITY bookkeeping, IDLE with a poll fallback, reconnects.

One task per (account, folder), so a slow or broken server never holds up another mailbox.
The position is (folder, UIDVALIDITY, last UID) in the database, saved after each message is
handed on, so a restart reads exactly what arrived while the hub was down, and nothing twice
(the router's unique (channel, Message-ID) absorbs the one message a crash may repeat). When
the server reports a new UIDVALIDITY the stored UIDs mean nothing any more: the folder is read
again from the start and already-known Message-IDs are skipped by the ingest step.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable

import aioimaplib

from connectors.email.config import EmailAccount
from connectors.email.imap_names import imap_mailbox
from connectors.email.parse import too_large
from connectors.slow_links import transfer_s

log = logging.getLogger(__name__)

FETCH_TIMEOUT_S = 60.0
BACKOFF_MAX_S = 60.0
_UID = re.compile(rb"UID (\d+)")
_SIZE = re.compile(rb"RFC822\.SIZE (\d{1,18})")
MAX_MAIL_BYTES = 50 * 1024 * 1024
"""The largest mail fetched whole; a larger one reaches the operator as its headers and a note
(``too_large``), so that it neither holds the folder behind a fetch that times out nor fills
the hub's memory."""
MAX_UID = 2**32 - 1
# A polite LOGOUT gets this long; then the socket is closed regardless, so that a stopped
# watcher never leaves a session open on the server.
LOGOUT_GRACE_S = 2.0
"""UIDs and UIDVALIDITY are 32-bit numbers (RFC 3501)."""
UID_DIGITS = len(str(MAX_UID))

Ingest = Callable[[bytes], Awaitable[None]]
LoadState = Callable[[], Awaitable[tuple[int, int] | None]]
SaveState = Callable[[int, int], Awaitable[None]]


class ImapError(Exception):
    """The server refused a command (the text says which and why)."""


class MailboxClient:
    """A thin, typed wrapper over aioimaplib for the few commands we use."""

    def __init__(self, account: EmailAccount) -> None:
        self.account = account
        self.imap: aioimaplib.IMAP4 | None = None

    async def connect(self) -> None:
        """Connect and log in."""
        a = self.account
        if a.imap_tls == "ssl":
            self.imap = aioimaplib.IMAP4_SSL(host=a.imap_host, port=a.imap_port, timeout=30)
        else:
            self.imap = aioimaplib.IMAP4(host=a.imap_host, port=a.imap_port, timeout=30)
        await self.imap.wait_hello_from_server()
        # aioimaplib quotes the password but sends the login as it is, so a login with a
        # space, a quote or a backslash ("CORP\\desk") would not parse as one argument.
        login = aioimaplib.quoted(a.login)
        _ok(await self.imap.login(login, a.password.get_secret_value()), "LOGIN")

    def _client(self) -> aioimaplib.IMAP4:
        if self.imap is None:
            raise ImapError("not connected")
        return self.imap

    async def select(self, mailbox: str) -> int:
        """Open a folder; returns its UIDVALIDITY."""
        response = await self._client().select(imap_mailbox(mailbox))
        _ok(response, f"SELECT {mailbox}")
        match = re.search(rb"UIDVALIDITY (\d+)", b" ".join(_lines(response)))
        if match is None:
            raise ImapError(f"SELECT {mailbox}: the server sent no UIDVALIDITY")
        if len(match.group(1)) > UID_DIGITS:
            raise ImapError(f"SELECT {mailbox}: UIDVALIDITY is not a 32-bit number")
        return int(match.group(1))

    async def uids_after(self, last_uid: int) -> list[int]:
        """UIDs above ``last_uid``, ascending (``N:*`` also names the top message: filtered)."""
        response = await self._client().uid_search(f"UID {last_uid + 1}:*", charset=None)
        _ok(response, "UID SEARCH")
        found: set[int] = set()
        for line in _lines(response):
            if line.startswith(b"SEARCH") or line[:1].isdigit():
                found.update(int(x) for x in re.findall(rb"\d+", line.removeprefix(b"SEARCH")))
        # UIDs are 32-bit (RFC 3501); a bigger one from a broken server is skipped.
        return sorted(uid for uid in found if last_uid < uid <= MAX_UID)

    async def fetch(self, uid: int, size: int | None = None) -> bytes | None:
        """The raw message of one UID (without setting \\Seen), None if it vanished; ``size``
        is what the server said it is, if it said."""
        # A fixed bound would fail a large mail on a slow link at every reconnect, and hold
        # the folder behind it; a stalled link still fails within aioimaplib's 30 s without data.
        expected = MAX_MAIL_BYTES if size is None else size
        return await self._literal(uid, "BODY.PEEK[]", FETCH_TIMEOUT_S + transfer_s(expected))

    async def fetch_header(self, uid: int) -> bytes | None:
        """The header block of one UID, None if it vanished."""
        return await self._literal(uid, "BODY.PEEK[HEADER]", FETCH_TIMEOUT_S)

    async def size(self, uid: int) -> int | None:
        """The size of one UID's message in bytes, None if it vanished or was not said."""
        response = await asyncio.wait_for(
            self._client().uid("fetch", str(uid), "(UID RFC822.SIZE)"), FETCH_TIMEOUT_S
        )
        _ok(response, "UID FETCH")
        for line in _lines(response):
            uid_match, size = _UID.search(line), _SIZE.search(line)
            if size is not None and (uid_match is None or int(uid_match.group(1)) == uid):
                return int(size.group(1))
        return None

    async def _literal(self, uid: int, item: str, seconds: float) -> bytes | None:
        response = await asyncio.wait_for(
            self._client().uid("fetch", str(uid), f"(UID {item})"), seconds
        )
        _ok(response, "UID FETCH")
        lines = response.lines
        for i, line in enumerate(lines[:-1]):
            if isinstance(line, bytes) and b"FETCH" in line and isinstance(lines[i + 1], bytearray):
                after = lines[i + 2] if i + 2 < len(lines) else b""
                uid_match = _UID.search(line) or _UID.search(bytes(after))
                if uid_match is None or int(uid_match.group(1)) == uid:
                    return bytes(lines[i + 1])
        return None

    @property
    def can_idle(self) -> bool:
        """True when the server announced IDLE."""
        return self.imap is not None and self.imap.has_capability("IDLE")

    async def wait_for_news(self, seconds: float) -> bool:
        """IDLE for at most ``seconds``; True if the server pushed something meanwhile."""
        imap = self._client()
        idle = await imap.idle_start(timeout=seconds + 5)
        try:
            await imap.wait_server_push(timeout=seconds)
            pushed = True
        except TimeoutError:
            pushed = False
        finally:
            if imap.has_pending_idle():
                imap.idle_done()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(idle, LOGOUT_GRACE_S * 5)
        return pushed

    async def close(self) -> None:
        """Log out, then close the socket, without letting a dead connection raise.

        Runs on cancellation too (a watcher stopped mid-IDLE): IDLE is ended first, the
        LOGOUT is bounded, and the transport is closed even when the server never answers.
        """
        imap, self.imap = self.imap, None
        if imap is None:
            return
        with contextlib.suppress(Exception):
            if imap.has_pending_idle():
                imap.idle_done()
            await asyncio.wait_for(imap.logout(), LOGOUT_GRACE_S)
        transport = getattr(imap.protocol, "transport", None)
        if transport is not None:
            transport.close()


async def sync_folder(
    client: MailboxClient, mailbox: str, load: LoadState, save: SaveState, ingest: Ingest
) -> int:
    """Select a folder and hand on every message above the saved UID; returns how many."""
    uidvalidity = await client.select(mailbox)
    state = await load()
    last = 0
    if state is not None and state[0] == uidvalidity:
        last = state[1]
    elif state is not None:
        log.warning(
            "%s: UIDVALIDITY changed %d -> %d; reading the folder again",
            mailbox, state[0], uidvalidity,
        )  # fmt: skip
        await save(uidvalidity, 0)
    count = 0
    for uid in await client.uids_after(last):
        size = await client.size(uid)
        if size is not None and size > MAX_MAIL_BYTES:
            head = await client.fetch_header(uid)
            raw = too_large(head, size) if head is not None else None
        else:
            raw = await client.fetch(uid, size)
        if raw is not None:
            await ingest(raw)
            count += 1
        await save(uidvalidity, uid)
    if state is None and count == 0:
        await save(uidvalidity, 0)  # remember the UIDVALIDITY of an empty folder too
    return count


async def watch_folder(
    account: EmailAccount,
    mailbox: str,
    load: LoadState,
    save: SaveState,
    ingest: Ingest,
    label: str,
) -> None:
    """Keep one folder read until cancelled: sync, then IDLE (or sleep) and sync again.

    After every (re)connect the folder is synced first, because IDLE pushes that happened
    while we were away are not replayed.
    """
    backoff = 1.0
    while True:
        client = MailboxClient(account)
        try:
            await client.connect()
            backoff = 1.0
            while True:
                got = await sync_folder(client, mailbox, load, save, ingest)
                if got:
                    log.info("%s: %d new message(s)", label, got)
                wait = min(account.poll_seconds, account.idle_seconds)
                if account.idle and client.can_idle:
                    await client.wait_for_news(wait)
                else:
                    await asyncio.sleep(account.poll_seconds)
        except asyncio.CancelledError:
            raise
        except (OSError, TimeoutError, ImapError, aioimaplib.Abort, aioimaplib.Error) as exc:
            log.warning("%s: %s; reconnecting in %.0f s", label, exc, backoff)
        except Exception:
            log.exception("%s: unexpected error; reconnecting in %.0f s", label, backoff)
        finally:
            await client.close()
        await asyncio.sleep(backoff)
        backoff = min(BACKOFF_MAX_S, backoff * 2)


def _lines(response: aioimaplib.Response) -> list[bytes]:
    return [bytes(x) for x in response.lines if isinstance(x, bytes | bytearray)]


def _ok(response: aioimaplib.Response, what: str) -> None:
    if response.result != "OK":
        text = b" ".join(_lines(response)).decode(errors="replace")
        raise ImapError(f"{what}: {response.result} {text}")
