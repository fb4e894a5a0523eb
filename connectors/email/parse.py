"""Pure parsing of raw RFC 5322 mail into what the hub needs: who, what, threading, bounces.

Nothing here touches the network, the database or the clock. Client HTML never leaves this
module: it is reduced to text (``html_to_text``). Bodies are decoded with their declared
charset, and mail whose 8-bit body declares none (or lies) is guessed with charset-normalizer,
falling back to windows-1251, which is what undeclared Cyrillic mail almost always is.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage, Message
from email.utils import getaddresses, parseaddr
from typing import TypeVar

from connectors.email.htmltext import html_to_text
from connectors.email.quotes import trim_quotes
from core.limits import parse_id

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_ATTACHMENTS = 20
MAX_ADDRESS = 254
"""The longest address SMTP can carry (RFC 5321, 4.5.3.1.3); a sender is a client's key."""
SUBJECT_TAG = re.compile(r"\[#D(\d{1,12})\]")
"""The dialog tag our replies carry in their subject, e.g. ``Re: Order [#D123]``."""
_MSGID = re.compile(r"<[^<>\s]+>")
_GUESS_CHARSETS = ("utf_8", "cp1251", "koi8_r", "cp866", "iso8859_5", "cp1252", "latin_1")


@dataclass(frozen=True)
class MailFile:
    """A file of a mail: an attachment as it came (decoded from its transfer encoding), or a
    stored file to attach to a reply."""

    name: str
    mime: str
    data: bytes


@dataclass(frozen=True)
class Bounce:
    """A delivery status notification about one of our messages."""

    original_ids: tuple[str, ...]
    """Message-IDs of the message that failed, most reliable first."""
    recipient: str
    status: str
    reason: str


@dataclass(frozen=True)
class ParsedMail:
    """One incoming message, normalised."""

    message_id: str
    """The Message-ID with its angle brackets, or a stable ``<sha256.@openlines>`` if absent."""
    sender: str
    """The client's address, lower-cased: Reply-To's when the mail names one, else From's."""
    sender_name: str
    recipients: tuple[str, ...]
    subject: str
    text: str
    """The body as plain text, quoted history trimmed."""
    attachments: tuple[MailFile, ...] = ()
    in_reply_to: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    automatic: bool = False
    """Sent by the sender's software, not by a person: an out-of-office, another help desk's
    acknowledgement, a list's or a bulk mail (RFC 3834). No automatic reply answers it."""
    bounce: Bounce | None = None

    def thread_ids(self) -> tuple[str, ...]:
        """Ids this mail answers, in the order to try: In-Reply-To, then References newest first."""
        seen: list[str] = []
        for mid in (*self.in_reply_to, *reversed(self.references)):
            if mid not in seen:
                seen.append(mid)
        return tuple(seen)

    def subject_dialog(self) -> int | None:
        """The dialog id of a ``[#D123]`` tag in the subject, if any."""
        match = SUBJECT_TAG.search(self.subject)
        # A tag with an id no row can have (past 64 bits) names no dialog.
        return parse_id(match.group(1)) if match else None


class MailParseError(ValueError):
    """The bytes are not a message we can take (the reason names what is wrong)."""


def normalise_address(address: str) -> str:
    """An address as an identity key: trimmed and lower-cased."""
    return address.strip().lower()


def message_ids(value: str | None) -> tuple[str, ...]:
    """Every ``<id>`` in a Message-ID, In-Reply-To or References header."""
    return tuple(_MSGID.findall(value or ""))


def parse_mail(raw: bytes) -> ParsedMail:
    """Parse one raw message; raises ``MailParseError`` when it has no usable sender."""
    if not raw.strip():
        raise MailParseError("empty message")
    msg = message_from_bytes(raw, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    name, address = parseaddr(_header(msg, "From"))
    if "@" not in address:
        raise MailParseError(f"From: no address in {_header(msg, 'From')!r}")
    if len(address) > MAX_ADDRESS:
        raise MailParseError(
            f"From: an address of {len(address)} characters (at most {MAX_ADDRESS})"
        )
    # RFC 5322, 3.6.2: replies go to Reply-To. A site's contact form mails from its own
    # address (often this very mailbox) with the visitor in Reply-To: the visitor is the client.
    name, address = _reply_to(msg) or (name, address)
    ids = message_ids(_header(msg, "Message-ID"))
    message_id = ids[0] if ids else f"<{hashlib.sha256(raw).hexdigest()}.@openlines>"
    recipients = tuple(
        normalise_address(a)
        for _n, a in getaddresses(
            [_header(msg, h) for h in ("To", "Cc", "Delivered-To", "X-Original-To")]
        )
        if "@" in a
    )
    unread: list[str] = []
    bounce = _salvaged(_bounce, msg, None, "the delivery report", unread)
    text = trim_quotes(_salvaged(_body_text, msg, "", "the text", unread))
    no_files: tuple[MailFile, ...] = ()
    attachments = _salvaged(_attachments, msg, no_files, "the attachments", unread)
    # The operator learns that the client wrote, and that a part of it is missing.
    text = "\n\n".join([text, *(f"[{what} of this mail could not be read]" for what in unread)])
    return ParsedMail(
        message_id=message_id,
        sender=normalise_address(address),
        sender_name=name.strip(),
        recipients=tuple(dict.fromkeys(recipients)),
        subject=" ".join(_header(msg, "Subject").split()),
        text=text.strip(),
        attachments=attachments,
        in_reply_to=message_ids(_header(msg, "In-Reply-To")),
        references=message_ids(_header(msg, "References")),
        automatic=_automatic(msg),
        bounce=bounce,
    )


def _reply_to(msg: EmailMessage) -> tuple[str, str] | None:
    """The first usable (name, address) of Reply-To, None when it names none."""
    for name, address in getaddresses([_header(msg, "Reply-To")]):
        if "@" in address and len(address) <= MAX_ADDRESS:
            return name, address
    return None


def _automatic(msg: EmailMessage) -> bool:
    # RFC 3834: anything but "no" in Auto-Submitted; Precedence and List-Id are what older
    # responders and every mailing list still send instead.
    auto = _header(msg, "Auto-Submitted").split(";", 1)[0].strip().lower()
    precedence = _header(msg, "Precedence").strip().lower()
    listed = bool(_header(msg, "List-Id"))
    return auto not in ("", "no") or precedence in ("bulk", "junk", "list") or listed


def _salvaged(read: Callable[[EmailMessage], T], msg: EmailMessage, empty: T, what: str,
              unread: list[str]) -> T:  # fmt: skip
    """``read(msg)``, or ``empty`` (and ``what`` noted in ``unread``) when the standard library
    fails on a broken part: the rest of the mail, its sender above all, is still worth having."""
    try:
        return read(msg)
    except Exception as exc:  # its MIME and header parsers raise assorted errors (see _header)
        log.warning("mail %s: %s could not be read: %r", _header(msg, "Message-ID"), what, exc)
        unread.append(what)
        return empty


def _header(msg: Message, name: str) -> str:
    # policy.default decodes RFC 2047; a header too broken to decode is kept as raw text
    # rather than losing the whole message. The standard library's header parser fails on
    # some broken headers with errors of its own making (an AttributeError for a group whose
    # name holds an encoded word), hence the breadth.
    try:
        value = msg.get(name)
    except (ValueError, LookupError, IndexError, AttributeError, TypeError):
        value = None
        for key, raw in msg.raw_items():
            if key.lower() == name.lower():
                value = raw
    return str(value) if value is not None else ""


def decode_bytes(data: bytes, declared: str | None) -> str:
    """Text of a body part: its declared charset if that decodes cleanly, else a guess."""
    if declared:
        try:
            return data.decode(declared)
        except (LookupError, ValueError):  # unknown, undecodable, or a name with a NUL in it
            pass
    try:
        return data.decode("ascii" if declared is None else "utf-8")
    except UnicodeDecodeError:
        pass
    # Imported by the first such body: it is a tenth of a second of the hub's start, and most
    # mail declares its charset.
    from charset_normalizer import from_bytes

    # Unrestricted detection picks exotic code pages (mac_cyrillic) for short Russian text;
    # the candidates are what undeclared mail in our users' languages actually uses.
    guess = from_bytes(data, cp_isolation=list(_GUESS_CHARSETS)).best()
    if guess is not None and guess.encoding:
        return str(guess)
    return data.decode("cp1251", errors="replace")


def _part_text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    # A missing charset parameter means us-ascii per RFC 2045, but 8-bit Cyrillic mail that
    # omits it is common, so only an explicit charset is trusted without a check.
    declared = part.get_param("charset")
    return decode_bytes(payload, declared if isinstance(declared, str) else None)


def _body_text(msg: EmailMessage) -> str:
    if msg.get_content_type() == "multipart/report":
        # A DSN: the human-readable first part is the notification.
        first = next(iter(msg.iter_parts()), None)
        return _part_text(first) if first is not None else ""
    plain = msg.get_body(preferencelist=("plain",))
    if plain is not None:
        text = _part_text(plain)
        if text.strip():
            return text
    html = msg.get_body(preferencelist=("html",))
    if html is not None:
        return html_to_text(_part_text(html))
    return ""


def _attachments(msg: EmailMessage) -> tuple[MailFile, ...]:
    if msg.get_content_type() == "multipart/report":
        return ()  # the returned message is ours; nothing for an operator to open
    files: list[MailFile] = []
    for part in msg.iter_attachments():
        if len(files) >= MAX_ATTACHMENTS:
            break
        if part.is_multipart():
            continue
        data = part.get_payload(decode=True)
        if not isinstance(data, bytes):
            continue
        try:
            name = part.get_filename() or ""
        except (ValueError, LookupError):
            name = ""
        files.append(MailFile(name=_safe_name(name), mime=part.get_content_type(), data=data))
    return tuple(files)


def _safe_name(name: str) -> str:
    # A file name is shown to operators and used on disk: no paths, no control characters.
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip().lstrip(".")
    return name[:200] or "attachment"


def _bounce(msg: EmailMessage) -> Bounce | None:
    """A DSN (RFC 3464) about a message of ours, or None for ordinary mail."""
    if msg.get_content_type() != "multipart/report":
        return None
    if str(msg.get_param("report-type", "")).lower() != "delivery-status":
        return None
    recipient = status = reason = ""
    action = ""
    ids: list[str] = []
    for part in msg.iter_parts():
        ctype = part.get_content_type()
        if ctype == "message/delivery-status":
            for block in part.get_payload() or []:
                if not isinstance(block, Message):
                    continue
                ids.extend(message_ids(block.get("Original-Message-ID")))
                if block.get("Final-Recipient"):
                    recipient = str(block["Final-Recipient"]).split(";")[-1].strip()
                    action = str(block.get("Action", "")).strip().lower()
                    status = str(block.get("Status", "")).strip()
                    reason = " ".join(str(block.get("Diagnostic-Code", "")).split())
        elif ctype in ("message/rfc822", "text/rfc822-headers"):
            ids.extend(_returned_ids(part))
    if action and action not in ("failed",):
        return None  # "delayed", "delivered", "relayed": not a failure
    ids.extend(message_ids(_header(msg, "In-Reply-To")))
    ids.extend(reversed(message_ids(_header(msg, "References"))))
    if reason.lower().startswith("smtp;"):
        reason = reason[5:].strip()
    return Bounce(
        original_ids=tuple(dict.fromkeys(ids)),
        recipient=normalise_address(recipient),
        status=status,
        reason=reason or status or "bounced",
    )


def _returned_ids(part: Message) -> list[str]:
    if part.get_content_type() == "message/rfc822":
        inner = part.get_payload()
        if isinstance(inner, list) and inner and isinstance(inner[0], Message):
            return list(message_ids(inner[0].get("Message-ID")))
        return []
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return []
    headers = message_from_bytes(payload, policy=policy.default)
    return list(message_ids(headers.get("Message-ID")))


_KEPT_HEADERS = frozenset(
    b"from to cc subject message-id in-reply-to references date auto-submitted precedence "
    b"list-id delivered-to x-original-to".split()
)


def too_large(header_block: bytes, size: int) -> bytes:
    """A mail too large to fetch, as what the hub can still tell: its sender, subject and
    threading headers, and a note for the operator in place of its body and files."""
    kept: list[bytes] = []
    keeping = False
    for line in header_block.splitlines():
        if line[:1] in (b" ", b"\t"):  # a folded continuation of the header before
            if keeping:
                kept.append(line)
            continue
        keeping = line.split(b":", 1)[0].strip().lower() in _KEPT_HEADERS
        if keeping:
            kept.append(line)
    note = (
        f"[This mail is {size / 1024 / 1024:.0f} MB, more than the hub fetches: "
        "its text and files are in the mailbox.]"
    )
    body = [b"MIME-Version: 1.0", b"Content-Type: text/plain; charset=utf-8",
            b"Content-Transfer-Encoding: 8bit", b"", note.encode()]  # fmt: skip
    return b"\r\n".join([*kept, *body]) + b"\r\n"
