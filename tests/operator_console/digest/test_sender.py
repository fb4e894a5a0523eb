"""Which SMTP server the digest goes through: the hub's ``digest_smtp_*`` when set, else the
first enabled, valid email channel's account; and the settings that refuse a half-set digest."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from config.settings import Settings
from connectors.email.hub_smtp import hub_smtp
from core.db import SessionMaker, make_engine, make_sessionmaker, upgrade
from core.db.schema import Channel, Line


def account(host: str, **extra: Any) -> dict[str, Any]:
    return {"imap_host": host, "login": f"box@{host}", "password": "p", "smtp_host": host,
            "smtp_port": 2525, "smtp_tls": "none", "from_address": f"box@{host}",
            "from_name": host, **extra}  # fmt: skip


@pytest.fixture
async def sessions(tmp_path: Path) -> AsyncIterator[SessionMaker]:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'digest.db'}")
    await upgrade(engine)
    yield make_sessionmaker(engine)
    await engine.dispose()


async def test_the_first_enabled_valid_mailbox_sends_unless_the_hub_names_a_server(
    sessions: SessionMaker, tmp_path: Path
) -> None:
    async with sessions() as s, s.begin():
        line = Line(key="l", name="L")
        s.add(line)
        await s.flush()
        s.add_all([
            Channel(line_id=line.id, kind="email", key="off", name="Off",
                    config=account("off.test"), enabled=False),
            Channel(line_id=line.id, kind="email", key="bad", name="Bad",
                    config={"imap_host": "bad.test"}),
            Channel(line_id=line.id, kind="email", key="good", name="Good",
                    config=account("good.test", smtp_login="relay", smtp_password="r")),
            Channel(line_id=line.id, kind="email", key="later", name="Later",
                    config=account("later.test")),
        ])  # fmt: skip
    settings = Settings(data_dir=tmp_path)
    async with sessions() as s:
        smtp = await hub_smtp(s, settings)
    assert smtp is not None
    assert (smtp.host, smtp.port, smtp.tls, smtp.login, smtp.password) == (
        "good.test", 2525, "none", "relay", "r")  # fmt: skip
    assert (smtp.from_name, smtp.from_address) == ("good.test", "box@good.test")

    hub = Settings(data_dir=tmp_path, digest_smtp_host="mail.hub.test", digest_smtp_tls="ssl",
                   digest_smtp_port=465, digest_from_address="kpi@hub.test")  # fmt: skip
    async with sessions() as s:
        smtp = await hub_smtp(s, hub)
    assert smtp is not None
    assert (smtp.host, smtp.port, smtp.tls, smtp.login) == ("mail.hub.test", 465, "ssl", None)
    assert smtp.from_address == "kpi@hub.test"

    # Mail that speaks for a line goes out through that line's own mailbox first.
    async with sessions() as s, s.begin():
        sales = Line(key="sales", name="Sales")
        s.add(sales)
        await s.flush()
        s.add(Channel(line_id=sales.id, kind="email", key="sales", name="Sales",
                      config=account("sales.test")))  # fmt: skip
    async with sessions() as s:
        own = await hub_smtp(s, hub, line_id=sales.id)
        other = await hub_smtp(s, hub, line_id=line.id)
    assert own is not None and own.from_address == "box@sales.test"
    assert other is not None and other.from_address == "box@good.test"


async def test_without_any_mailbox_or_server_there_is_no_smtp(
    sessions: SessionMaker, tmp_path: Path
) -> None:
    async with sessions() as s:
        assert await hub_smtp(s, Settings(data_dir=tmp_path)) is None


def test_settings_refuse_an_unknown_zone_and_a_server_without_a_sender(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="unknown time zone"):
        Settings(data_dir=tmp_path, digest_time_zone="Mars/Olympus")
    with pytest.raises(ValidationError, match="digest_from_address: needed"):
        Settings(data_dir=tmp_path, digest_smtp_host="mail.hub.test")
    assert Settings(data_dir=tmp_path).weekly_digest is True
