"""The real mail servers of the email connector's tests (Dovecot + Postfix), for the weekly
digest: ``mailboxes`` is the running peers with every test user's mailbox emptied."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.mailpeers import Dovecot, MailPeers, Postfix


@pytest.fixture(scope="session")
def mail_peers() -> Iterator[MailPeers]:
    """Dovecot and Postfix for the whole session (sync: started from the main thread)."""
    with Dovecot() as dovecot, Postfix(dovecot.lmtp_port) as postfix:
        yield MailPeers(dovecot, postfix)


@pytest.fixture
def mailboxes(mail_peers: MailPeers) -> MailPeers:
    """The peers with every mailbox emptied."""
    mail_peers.empty()
    return mail_peers
