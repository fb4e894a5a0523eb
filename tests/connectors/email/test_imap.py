"""Reading a real Dovecot: UID/UIDVALIDITY state, backfill after downtime, IDLE wake-up."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from email.message import EmailMessage
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine

from connectors.email import imap, store
from connectors.email.config import EmailAccount
from connectors.email.imap import MailboxClient, sync_folder, watch_folder
from connectors.email.imap_names import imap_mailbox, modified_utf7
from connectors.email.parse import parse_mail
from core.db import SessionMaker, make_engine, make_sessionmaker, upgrade
from core.db.schema import Channel, Line
from tests.support.mailpeers import ODD_LOGINS, SUPPORT, MailPeers
from tests.support.slow_link import slow_link

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def engine(sqlite_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(sqlite_url)
    await upgrade(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
async def channel_id(engine: AsyncEngine) -> int:
    async with make_sessionmaker(engine)() as s, s.begin():
        line = Line(key="mail", name="Mail")
        s.add(line)
        await s.flush()
        channel = Channel(line_id=line.id, kind="email", key="support", name="Support")
        s.add(channel)
        await s.flush()
        return channel.id


def mail(n: int, subject: str = "hello") -> bytes:
    msg = EmailMessage()
    msg["From"] = "Client <client@example.test>"
    msg["To"] = SUPPORT
    msg["Subject"] = f"{subject} {n}"
    msg["Message-ID"] = f"<m{n}.{subject.replace(' ', '_')}@example.test>"
    msg.set_content(f"body {n}")
    return msg.as_bytes()


class Reader:
    """sync_folder wired to the database state, collecting Message-IDs it hands on."""

    def __init__(self, sessions: SessionMaker, channel: int, account: EmailAccount) -> None:
        self.sessions, self.channel, self.account = sessions, channel, account
        self.seen: list[str] = []

    async def ingest(self, raw: bytes) -> None:
        self.seen.append(parse_mail(raw).message_id)

    async def load(self, mailbox: str = "INBOX") -> tuple[int, int] | None:
        return await store.load_state(self.sessions, self.channel, mailbox)

    async def save(self, uidvalidity: int, uid: int, mailbox: str = "INBOX") -> None:
        await store.do_save_state(self.sessions, self.channel, mailbox, uidvalidity, uid)

    async def sync(self, mailbox: str = "INBOX") -> int:
        client = MailboxClient(self.account)
        await client.connect()
        try:
            return await sync_folder(
                client,
                mailbox,
                lambda: self.load(mailbox),
                lambda v, u: self.save(v, u, mailbox),
                self.ingest,
            )
        finally:
            await client.close()


@pytest.fixture
def reader(
    engine: AsyncEngine, channel_id: int, account_config: dict[str, Any], mailboxes: MailPeers
) -> Reader:
    return Reader(
        make_sessionmaker(engine), channel_id, EmailAccount.model_validate(account_config)
    )


async def test_nothing_is_read_twice_and_mail_from_downtime_is_backfilled(
    reader: Reader, mailboxes: MailPeers
) -> None:
    mailboxes.deliver(mail(1))
    assert await reader.sync() == 1
    assert await reader.sync() == 0  # the position is kept: nothing twice
    # "Downtime": mail arrives while nobody reads; a new reader (a restart) gets all of it.
    mailboxes.deliver(mail(2))
    mailboxes.deliver(mail(3))
    restarted = Reader(reader.sessions, reader.channel, reader.account)
    assert await restarted.sync() == 2
    assert reader.seen + restarted.seen == [
        "<m1.hello@example.test>", "<m2.hello@example.test>", "<m3.hello@example.test>"
    ]  # fmt: skip
    state = await reader.load()
    assert state is not None and state[1] >= 3


async def test_a_mail_too_large_to_fetch_arrives_as_its_headers_and_a_note(
    reader: Reader, mailboxes: MailPeers, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(imap, "MAX_MAIL_BYTES", 1024 * 1024)
    big = EmailMessage()
    big["From"] = "Клиент <client@example.test>"
    big["To"] = SUPPORT
    big["Subject"] = "Сканы договора"
    big["Message-ID"] = "<big@example.test>"
    big.set_content("Договор во вложении.")
    big.add_attachment(bytes(3 * 1024 * 1024), maintype="application", subtype="pdf",
                       filename="scan.pdf")  # fmt: skip
    mailboxes.deliver(big.as_bytes())
    mailboxes.deliver(mail(1))
    handed: list[bytes] = []

    async def ingest(raw: bytes) -> None:
        handed.append(raw)

    reader.ingest = ingest  # type: ignore[method-assign]
    assert await reader.sync() == 2
    stub, small = (parse_mail(raw) for raw in handed)
    assert len(handed[0]) < 2048  # the 4 MB body was never fetched
    assert (stub.sender, stub.subject, stub.message_id) == (
        "client@example.test", "Сканы договора", "<big@example.test>"
    )  # fmt: skip
    assert stub.text == (
        "[This mail is 4 MB, more than the hub fetches: its text and files are in the mailbox.]"
    )
    assert stub.attachments == () and small.message_id == "<m1.hello@example.test>"


async def test_a_new_uidvalidity_rereads_the_folder(reader: Reader, mailboxes: MailPeers) -> None:
    mailboxes.doveadm("mailbox", "create", "-u", SUPPORT, "Tickets")
    await _save_to(mailboxes, "Tickets", mail(1, "ticket"))
    assert await reader.sync("Tickets") == 1
    before = await reader.load("Tickets")
    mailboxes.doveadm("mailbox", "delete", "-u", SUPPORT, "Tickets")
    mailboxes.doveadm("mailbox", "create", "-u", SUPPORT, "Tickets")
    await _save_to(mailboxes, "Tickets", mail(1, "ticket"))
    assert await reader.sync("Tickets") == 1  # read again; Message-ID dedupe is the ingest's
    after = await reader.load("Tickets")
    assert before is not None and after is not None and after[0] != before[0]
    mailboxes.doveadm("mailbox", "delete", "-u", SUPPORT, "Tickets")


async def _save_to(peers: MailPeers, mailbox: str, raw: bytes, user: str = SUPPORT) -> None:
    proc = await asyncio.create_subprocess_exec(
        *peers.dovecot.doveadm("save", "-u", user, "-m", mailbox),
        stdin=asyncio.subprocess.PIPE,
    )
    await proc.communicate(raw)
    assert proc.returncode == 0


async def test_idle_wakes_the_watcher_long_before_the_poll_interval(
    reader: Reader, mailboxes: MailPeers
) -> None:
    account = reader.account.model_copy(update={"poll_seconds": 60.0})
    got = asyncio.Event()

    async def ingest(raw: bytes) -> None:
        reader.seen.append(parse_mail(raw).message_id)
        got.set()

    task = asyncio.create_task(
        watch_folder(account, "INBOX", reader.load, reader.save, ingest, "test")
    )
    try:
        await asyncio.sleep(0.5)  # connected and idling
        mailboxes.deliver(mail(7, "idle"))
        await asyncio.wait_for(got.wait(), 10)  # far below the 60 s poll
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert reader.seen == ["<m7.idle@example.test>"]


@pytest.mark.parametrize("folder", ["Support Team", "Поддержка клиентов"])
async def test_a_folder_named_with_spaces_or_in_cyrillic_is_read(
    reader: Reader, mailboxes: MailPeers, folder: str
) -> None:
    mailboxes.doveadm("mailbox", "create", "-u", SUPPORT, folder)
    try:
        await _save_to(mailboxes, folder, mail(1, "folder"))
        assert await reader.sync(folder) == 1
        assert reader.seen == ["<m1.folder@example.test>"]
    finally:
        mailboxes.doveadm("mailbox", "delete", "-u", SUPPORT, folder)


async def test_a_large_mail_on_a_slow_link_is_waited_for_by_its_size(
    reader: Reader, mailboxes: MailPeers, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 600 KB at 256 KB/s takes over 2 s, four times the fixed part of the wait: a fixed bound
    # failed such a mail at every reconnect, and the mails after it waited forever.
    monkeypatch.setattr(imap, "FETCH_TIMEOUT_S", 0.5)
    big = EmailMessage()
    big["From"], big["To"], big["Subject"] = "client@example.test", SUPPORT, "scan"
    big["Message-ID"] = "<big.slow@example.test>"
    big.set_content("line of a long report\n" * 28_000)
    mailboxes.deliver(big.as_bytes())
    mailboxes.deliver(mail(2, "after"))
    async with slow_link("127.0.0.1", mailboxes.imap_port, down=256 * 1024) as port:
        reader.account = reader.account.model_copy(update={"imap_port": port})
        started = asyncio.get_running_loop().time()
        assert await reader.sync() == 2
        assert asyncio.get_running_loop().time() - started > 2.0  # the link was slow
    assert reader.seen == ["<big.slow@example.test>", "<m2.after@example.test>"]


@pytest.mark.parametrize("login", list(ODD_LOGINS))
async def test_a_login_and_password_reach_the_server_as_typed(
    reader: Reader, mailboxes: MailPeers, login: str
) -> None:
    # A Windows domain login with its backslash, a login with spaces and parentheses, and
    # passwords with quotes, backslashes and Cyrillic letters.
    reader.account = reader.account.model_copy(
        update={"login": login, "password": SecretStr(ODD_LOGINS[login])}
    )
    mailboxes.doveadm("expunge", "-u", login.lower(), "mailbox", "*", "all")
    await _save_to(mailboxes, "INBOX", mail(1, "login"), user=login.lower())
    assert await reader.sync() == 1
    assert reader.seen == ["<m1.login@example.test>"]


async def test_a_wrong_password_is_named_as_the_login_refused(reader: Reader) -> None:
    reader.account = reader.account.model_copy(update={"password": SecretStr("wrong")})
    with pytest.raises(imap.ImapError, match="LOGIN"):
        await reader.sync()


def test_folder_names_go_out_in_modified_utf7_and_quoted() -> None:
    # RFC 3501's own example, 5.1.3.
    assert modified_utf7("~peter/mail/台北/日本語") == "~peter/mail/&U,BTFw-/&ZeVnLIqe-"
    assert imap_mailbox("Входящие") == '"&BBIERQQ+BDQETwRJBDgENQ-"'
    assert imap_mailbox("R&D Team") == '"R&-D Team"'
    assert imap_mailbox('say "hi" \\') == '"say \\"hi\\" \\\\"'
