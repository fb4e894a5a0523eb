"""An email account's settings as kept in ``Channel.config`` (kind ``email``), validated.

A mailbox is a channel: IMAP to read, SMTP to answer, routing rules that pick a line for new
mail, and per-line signatures and templates for replies.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from string import Template
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

TlsMode = Literal["ssl", "starttls", "none"]
ImapTls = Literal["ssl", "none"]
"""aioimaplib speaks implicit TLS (port 993) or plain; IMAP STARTTLS is not offered."""

DEFAULT_REPLY = "$text\n\n-- \n$signature"
DEFAULT_SUBJECT = "Re: $subject [#D$dialog_id]"


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RoutingRule(_Config):
    """New mail matching every given pattern opens its dialog on ``line_id``.

    Patterns are case-insensitive shell globs (``*@vip.example.com``, ``*invoice*``).
    """

    line_id: int
    sender: str | None = None
    recipient: str | None = None
    subject: str | None = None

    def matches(self, sender: str, recipients: tuple[str, ...], subject: str) -> bool:
        """True when the mail satisfies every pattern the rule sets."""
        if self.sender and not _glob(sender, self.sender):
            return False
        if self.recipient and not any(_glob(r, self.recipient) for r in recipients):
            return False
        return not (self.subject and not _glob(subject, self.subject))


class LineStyle(_Config):
    """How replies from one line look: ``$text``, ``$signature``, ``$operator``, ``$subject``
    and ``$dialog_id`` are filled in; anything else is left as written."""

    signature: str = Field(default="", max_length=4000)
    reply_template: str = Field(default=DEFAULT_REPLY, max_length=8000)
    subject_template: str = Field(default=DEFAULT_SUBJECT, max_length=500)


class EmailAccount(_Config):
    """One mailbox channel's settings."""

    imap_host: str = Field(min_length=1)
    imap_port: int = Field(default=993, ge=1, le=65535)
    imap_tls: ImapTls = "ssl"
    login: str = Field(min_length=1)
    password: SecretStr
    mailboxes: tuple[str, ...] = ("INBOX",)
    idle: bool = True
    idle_seconds: float = Field(default=28 * 60, gt=0, le=29 * 60)
    """How long one IDLE lasts before it is re-issued (RFC 2177: at most 29 minutes)."""
    poll_seconds: float = Field(default=60.0, gt=0)
    """The fallback poll interval, and the longest wait between two checks when IDLE works."""
    smtp_host: str = Field(min_length=1)
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_tls: TlsMode = "starttls"
    smtp_login: str | None = None
    smtp_password: SecretStr | None = None
    from_address: str = Field(min_length=3, pattern=r"^[^@\s]+@[^@\s]+$")
    from_name: str = ""
    rules: tuple[RoutingRule, ...] = ()
    signature: str = ""
    lines: dict[str, LineStyle] = {}
    """Per-line styles by line id (as text: JSON object keys are strings)."""

    def style(self, line_id: int) -> LineStyle:
        """The reply style of a line, falling back to the account's signature."""
        return self.lines.get(str(line_id)) or LineStyle(signature=self.signature)

    def route(self, sender: str, recipients: tuple[str, ...], subject: str) -> int | None:
        """The line of the first rule that matches, or None for the channel's own line."""
        for rule in self.rules:
            if rule.matches(sender, recipients, subject):
                return rule.line_id
        return None

    def public(self) -> dict[str, object]:
        """The settings as an admin may see them: secrets are never echoed."""
        data = self.model_dump(mode="json", exclude={"password", "smtp_password"})
        data["password_set"] = bool(self.password.get_secret_value())
        data["smtp_password_set"] = self.smtp_password is not None
        return data


def load_account(config: dict[str, object]) -> EmailAccount | str:
    """The account in a channel's config, or the reason it is unusable."""
    try:
        return EmailAccount.model_validate(config)
    except ValidationError as exc:
        first = exc.errors()[0]
        return f"{'.'.join(str(p) for p in first['loc']) or 'config'}: {first['msg']}"


def fill(template: str, **values: str) -> str:
    """A template with ``$name`` placeholders filled; unknown ones stay as written."""
    return Template(template).safe_substitute(values)


def _glob(value: str, pattern: str) -> bool:
    return fnmatch.fnmatchcase(value.lower(), pattern.lower())


def line_refs(config: Mapping[str, Any]) -> dict[str, str]:
    """Line ids a checked config names, by the config path that names them.

    An account routes mail to other lines by its rules and styles replies per line; a typo there
    would surface only when a mail arrives, so the admin API checks them up front.
    """
    refs = {f"config.rules.{n}.line_id": str(rule["line_id"])
            for n, rule in enumerate(config.get("rules") or [])}  # fmt: skip
    refs.update({f"config.lines.{key}": key for key in config.get("lines") or {}})
    return refs
