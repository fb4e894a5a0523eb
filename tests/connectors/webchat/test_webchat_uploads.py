"""Visitors' files through the hub: the upload checks the visitor, the chat's size and type
limits and what the file really is; a message carries only its own visitor's uploads."""

from __future__ import annotations

import asyncio
import json
import os
import struct
import time
import zlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from config.settings import Settings
from connectors.attachments import AttachmentStore
from connectors.webchat import adapter as webchat_adapter
from core.db import make_engine, make_sessionmaker
from core.db.schema import Channel
from operator_console.app import build_app
from tests.support.browser_fixtures import ON_SQLITE
from tests.support.hubclient import VisitorClient


def png(width: int, height: int, rgb: tuple[int, int, int] = (47, 107, 79)) -> bytes:
    """A real PNG of one colour, big enough to see in a screenshot."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body)))  # fmt: skip

    rows = b"".join(b"\0" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))  # fmt: skip


PNG = png(160, 100)

pytestmark = [ON_SQLITE, pytest.mark.parametrize("redis_server", ["7"], indirect=True)]


async def set_chat_config(settings: Settings, **values: Any) -> None:
    """Change the demo web chat's settings in the database."""
    engine = make_engine(settings.effective_database_url)
    try:
        async with make_sessionmaker(engine)() as s, s.begin():
            chat = await s.scalar(select(Channel).where(Channel.key == "demo"))
            assert chat is not None
            chat.config = {**(chat.config or {}), **values}
    finally:
        await engine.dispose()


@pytest.fixture
async def visitor(hub: str) -> AsyncIterator[VisitorClient]:
    client = VisitorClient(hub)
    yield client
    await client.close()


async def upload(
    visitor: VisitorClient,
    data: bytes,
    name: str,
    token: str | None = None,
    via: dict[str, str] | None = None,
) -> tuple[int, Any]:
    """Upload as ``visitor`` (through a proxy that adds ``via``): the status, and the
    attachment or the reason."""
    headers = {
        "X-Openlines-Token": token or visitor.token or "",
        "X-File-Name": name,
        **(via or {}),
    }
    async with visitor.http.post(
        f"{visitor.base}/widget/upload?channel=demo", data=data, headers=headers
    ) as resp:
        body = await resp.read()
        return resp.status, json.loads(body) if resp.status == 201 else body.decode()


async def test_an_upload_is_stored_and_sent_only_by_its_own_visitor(
    hub: str, settings: Settings, visitor: VisitorClient
) -> None:
    welcome = await visitor.connect()
    assert welcome["uploads"] == {
        "max_bytes": 10 * 1024 * 1024,
        "types": ["image/*", "application/pdf", "text/plain"],
    }
    code, att = await upload(visitor, PNG, "dot%20one.png")
    assert code == 201, att
    assert (att["kind"], att["name"], att["mime"], att["size"]) == (
        "image", "dot one.png", "image/png", len(PNG)
    )  # fmt: skip

    # Someone else cannot send it: the token is over the visitor.
    other = VisitorClient(hub)
    try:
        await other.connect()
        await other.send_raw(json.dumps(
            {"type": "message", "client_msg_id": "x1", "text": "", "attachments": [att]}
        ))  # fmt: skip
        refused = await other.receive_until("error")
        assert refused["code"] == "bad_frame" and "attachments" in refused["reason"]
    finally:
        await other.close()
    forged = {**att, "name": "renamed.png"}
    await visitor.send_raw(json.dumps(
        {"type": "message", "client_msg_id": "f1", "text": "", "attachments": [forged]}
    ))  # fmt: skip
    assert (await visitor.receive_until("error"))["client_msg_id"] == "f1"

    await visitor.send_raw(json.dumps(
        {"type": "message", "client_msg_id": "m1", "text": "", "attachments": [att]}
    ))  # fmt: skip
    echo = await visitor.receive_until("message", client_msg_id="m1")
    (shown,) = echo["attachments"]
    assert shown["kind"] == "image" and shown["url"].startswith("/files/")
    async with visitor.http.get(f"{hub}{shown['url']}") as resp:
        assert resp.status == 200 and await resp.read() == PNG


async def test_limits_are_the_chats_settings_and_the_file_is_checked(
    settings: Settings, visitor: VisitorClient
) -> None:
    await visitor.connect()
    code, reason = await upload(visitor, PNG, "a.png", token="forged")
    assert code == 403 and "token" in reason
    code, reason = await upload(visitor, b"<html><script>", "page.txt")
    assert code == 415 and "web pages" in reason
    code, reason = await upload(visitor, b"%PDF-1.4 x", "doc.pdf")
    assert code == 201

    await set_chat_config(settings, upload_max_mb=1, upload_types=["image/*"])
    code, reason = await upload(visitor, b"%PDF-1.4 x", "doc.pdf")
    assert code == 415 and "application/pdf" in reason
    code, reason = await upload(visitor, PNG + b"\0" * (1024 * 1024), "big.png")
    assert code == 413 and "larger than 1 MB" in reason
    await set_chat_config(settings, upload_max_mb=0)
    code, reason = await upload(visitor, PNG, "a.png")
    assert code == 403 and "does not take files" in reason
    fresh = VisitorClient(visitor.base)
    try:
        assert "uploads" not in await fresh.connect()  # the widget hides its file button
    finally:
        await fresh.close()


@pytest.fixture
async def tight_hub(settings: Settings) -> AsyncIterator[str]:
    """The hub with an upload budget of 3 files a visitor and 1 MB an address an hour."""
    tight = {"webchat_upload_files_per_visitor": 3, "webchat_upload_mb_per_address": 1}
    server = TestServer(build_app(settings.model_copy(update=tight)), host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


def stored_files(settings: Settings) -> int:
    return sum(1 for path in (settings.data_dir / "attachments").rglob("*") if path.is_file())


async def test_uploads_have_a_budget_per_visitor_and_per_address(
    tight_hub: str, settings: Settings
) -> None:
    first, second, elsewhere = (VisitorClient(tight_hub) for _ in range(3))
    office = {"X-Forwarded-For": "203.0.113.7"}
    try:
        for visitor in (first, second, elsewhere):
            await visitor.connect()
        codes = [
            (await upload(first, png(10 + n, 10), f"{n}.png", via=office))[0] for n in range(3)
        ]
        assert codes == [201, 201, 201]
        before = stored_files(settings)
        code, reason = await upload(first, png(20, 20), "4.png", via=office)
        assert code == 429 and "4.png: too many files from here" in reason
        assert stored_files(settings) == before  # refused before it reached the disk
        # A new visitor at the same address has files left, but the address's megabyte not.
        pdf = b"%PDF-1.4 " + bytes(600 * 1024)
        assert (await upload(second, pdf, "a.pdf", via=office))[0] == 201
        code, reason = await upload(second, pdf + b"x", "b.pdf", via=office)
        assert code == 429 and "try again in" in reason
        headers = {"X-Openlines-Token": second.token or "", "X-File-Name": "c.pdf", **office}
        async with second.http.post(
            f"{tight_hub}/widget/upload?channel=demo", data=pdf, headers=headers
        ) as resp:
            assert resp.status == 429 and 3500 < int(resp.headers["Retry-After"]) <= 3600
        # Another address has its own megabyte.
        via = {"X-Forwarded-For": "198.51.100.2"}
        assert (await upload(elsewhere, pdf, "a.pdf", via=via))[0] == 201
    finally:
        for visitor in (first, second, elsewhere):
            await visitor.close()


async def test_pages_of_any_origin_may_upload_and_read_the_answer(
    visitor: VisitorClient,
) -> None:
    """The widget runs on the customer's site: the browser asks first (a preflight, for the
    widget's own headers) and lets the page read the answer only when the hub allows it."""
    site = "https://shop.example"
    preflight = {
        "Origin": site,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "x-openlines-token, x-file-name",
    }
    url = f"{visitor.base}/widget/upload?channel=demo"
    async with visitor.http.options(url, headers=preflight) as resp:
        assert resp.status == 200
        assert resp.headers["Access-Control-Allow-Origin"] == site
        allowed = resp.headers["Access-Control-Allow-Headers"].lower()
        assert {"x-openlines-token", "x-file-name"} <= set(allowed.replace(" ", "").split(","))
        assert "POST" in resp.headers["Access-Control-Allow-Methods"]
    await visitor.connect()
    # A refusal as well as a stored file: the widget shows the refusal's reason.
    for token, status in ((None, 201), ("forged", 403)):
        headers = {"Origin": site, "X-Openlines-Token": token or visitor.token or "",
                   "X-File-Name": "a.png"}  # fmt: skip
        async with visitor.http.post(url, data=PNG, headers=headers) as resp:
            assert resp.status == status
            assert resp.headers["Access-Control-Allow-Origin"] == site
    # The console's API stays closed to other origins.
    async with visitor.http.options(f"{visitor.base}/api/me", headers=preflight) as resp:
        assert "Access-Control-Allow-Origin" not in resp.headers


async def test_an_upload_no_message_carries_is_deleted_after_a_day(
    settings: Settings, visitor: VisitorClient
) -> None:
    """Else a script could fill the disk with uploads within its addresses' budget."""
    await visitor.connect()
    _c, kept = await upload(visitor, PNG, "sent.png")
    _c, dropped = await upload(visitor, png(2, 2), "abandoned.png")
    await visitor.send_raw(json.dumps(
        {"type": "message", "client_msg_id": "k1", "text": "", "attachments": [kept]}
    ))  # fmt: skip
    await visitor.receive_until("message", client_msg_id="k1")

    store = AttachmentStore(settings.data_dir)
    folder = store.root / "1"  # the demo chat's
    day_ago = time.time() - 25 * 3600
    for marker in folder.glob("*.pending"):
        os.utime(marker, (day_ago, day_ago))
    assert [p.name for p in folder.glob("*.pending")] == [f"{_sha(dropped)}.pending"]
    assert store.sweep_pending(24 * 3600) == 1
    assert not (folder / _sha(dropped)).exists() and (folder / _sha(kept)).exists()
    assert not list(folder.glob("*.pending"))

    # A message that names the deleted upload is refused, saying which file to send again.
    await visitor.send_raw(json.dumps(
        {"type": "message", "client_msg_id": "k2", "text": "", "attachments": [dropped]}
    ))  # fmt: skip
    refused = await visitor.receive_until("error", client_msg_id="k2")
    assert refused["code"] == "bad_frame"
    assert refused["reason"] == "attachments: abandoned.png no longer stored; send it again"
    # Uploaded again, the same content is new again and goes through.
    _c, again = await upload(visitor, png(2, 2), "abandoned.png")
    await visitor.send_raw(json.dumps(
        {"type": "message", "client_msg_id": "k3", "text": "", "attachments": [again]}
    ))  # fmt: skip
    await visitor.receive_until("message", client_msg_id="k3")
    assert (folder / _sha(again)).exists() and not list(folder.glob("*.pending"))


def _sha(attachment: dict[str, Any]) -> str:
    return str(attachment["url"]).rsplit("/", 1)[1]


@pytest.fixture
def quick_sweep(monkeypatch: pytest.MonkeyPatch) -> None:
    """Uploads kept a second, looked for every fifth of one (before the hub starts)."""
    monkeypatch.setattr(webchat_adapter, "UPLOAD_KEPT_S", 1.0)
    monkeypatch.setattr(webchat_adapter, "UPLOAD_SWEEP_S", 0.2)


async def test_the_hub_sweeps_unclaimed_uploads_by_itself(
    quick_sweep: None, settings: Settings, visitor: VisitorClient
) -> None:
    await visitor.connect()
    _c, dropped = await upload(visitor, PNG, "abandoned.png")
    stored = AttachmentStore(settings.data_dir).root / "1" / _sha(dropped)
    assert stored.exists()
    async with asyncio.timeout(10):
        while stored.exists():
            await asyncio.sleep(0.1)
    assert not stored.with_name(f"{stored.name}.json").exists()
