"""The email channel: IMAP in, SMTP out (see adapter.py)."""

from connectors.base import Capabilities, ChannelKind
from connectors.email.adapter import EmailConnector
from connectors.email.config import EmailAccount, line_refs

KIND = ChannelKind(
    kind="email",
    capabilities=Capabilities(label="Email", files=True),
    config=EmailAccount,
    make=EmailConnector,
    secrets=frozenset({"password", "smtp_password"}),
    line_refs=line_refs,
)
"""Mailboxes: fetched over IMAP, so no webhook; a reply is one mail, however long."""
