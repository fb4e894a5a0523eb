"""Session-wide Dovecot + Postfix for the email connector's tests, and mailbox helpers.

Fixtures:

- ``mail_peers`` (session, in the top conftest): the running Dovecot and Postfix.
- ``mailboxes`` (function): the peers, after every folder of every test user was emptied, so
  each test starts with empty mailboxes (UIDs keep growing, as on a real server).
- ``account_config`` (function): a ``Channel.config`` for the support mailbox on these peers.
- ``hub`` (function): a whole hub (``connector_hub.Hub``) on SQLite; ``admin`` comes from the
  connectors' conftest.
- ``visitor`` (function): a web chat visitor on the page (socket open) of ``hub``, whose line
  has the support mailbox: one the hub can answer by mail once they leave the page.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.connector_hub import Hub, StartHub, make_settings
from tests.support.hubclient import VisitorClient
from tests.support.mailflow import add_mailbox
from tests.support.mailpeers import PASSWORD, SUPPORT, MailPeers


@pytest.fixture
def mailboxes(mail_peers: MailPeers) -> MailPeers:
    """The peers with every mailbox emptied."""
    mail_peers.empty()
    return mail_peers


@pytest.fixture
def account_config(mail_peers: MailPeers) -> dict[str, Any]:
    """Channel.config of the support mailbox: plain IMAP/SMTP on loopback, fast polling."""
    return {
        "imap_host": "127.0.0.1",
        "imap_port": mail_peers.imap_port,
        "imap_tls": "none",
        "login": SUPPORT,
        "password": PASSWORD,
        "poll_seconds": 2,
        "smtp_host": "127.0.0.1",
        "smtp_port": mail_peers.smtp_port,
        "smtp_tls": "none",
        "from_address": SUPPORT,
        "from_name": "Support",
    }


@pytest.fixture
async def hub(start_hub: StartHub, redis_url: str, tmp_path: Path) -> Hub:
    """A whole hub; mailboxes are added per test (``mailflow.add_mailbox``)."""
    hub: Hub = await start_hub(make_settings(redis_url, tmp_path))
    return hub


@pytest.fixture
async def visitor(
    hub: Hub, mailboxes: MailPeers, account_config: dict[str, Any]
) -> AsyncIterator[VisitorClient]:
    """A visitor on the web chat page of ``hub``, after the support mailbox was added.

    Emptied first: the hub reads the support mailbox from its start, and a mail an earlier
    test left there (a visitor's answer tagged ``[#D1]``) would join this test's dialog 1."""
    await add_mailbox(hub.server.app, account_config)
    client = VisitorClient(hub.base)
    await client.connect()
    yield client
    await client.close()
