"""Operators attach files to replies: upload, reply, the visitor gets a signed link that works,
and nobody else gets in."""

from __future__ import annotations

import time
from typing import Any

import aiohttp
import pytest

from config.settings import Settings
from connectors.filelinks import sign_token
from core.db import make_engine, make_sessionmaker
from core.db.schema import Operator
from operator_console.app import load_secret
from operator_console.auth import hash_password
from tests.support.admin import ADMIN_PASSWORD
from tests.support.hubclient import OperatorClient, VisitorClient

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(64)


async def upload(
    operator: OperatorClient, dialog_id: int, *files: tuple[str, bytes, str]
) -> tuple[int, Any]:
    form = aiohttp.FormData()
    for name, data, mime in files:
        form.add_field("file", data, filename=name, content_type=mime)
    url = f"{operator.base}/api/dialogs/{dialog_id}/files"
    async with operator.http.post(url, data=form) as resp:
        return resp.status, await resp.json()


async def add_stranger(settings: Settings) -> None:
    """An operator on no line: they may not see the test's dialog."""
    engine = make_engine(settings.effective_database_url)
    async with make_sessionmaker(engine)() as session, session.begin():
        session.add(
            Operator(
                login="stranger",
                name="Stranger",
                role="operator",
                password_hash=hash_password("pw-stranger"),
            )
        )
    await engine.dispose()


async def start_dialog(hub: str) -> tuple[VisitorClient, OperatorClient, int]:
    visitor = VisitorClient(hub)
    await visitor.connect()
    admin = OperatorClient(hub)
    await admin.login("admin", ADMIN_PASSWORD)
    await admin.open_socket()
    await visitor.say("Can you send me the manual?")
    dialog = (await admin.receive_until("dialog"))["dialog"]
    return visitor, admin, dialog["id"]


async def test_operator_image_reaches_the_visitor_by_a_signed_link(
    hub: str, settings: Settings
) -> None:
    visitor, admin, dialog_id = await start_dialog(hub)
    status, body = await upload(
        admin,
        dialog_id,
        ("lid.png", PNG, "application/octet-stream"),
        ("manual.pdf", b"%PDF-1.4 manual", "application/pdf"),
    )
    assert status == 201, body
    image, manual = body["files"]
    # The type comes from the bytes, not from what the browser claimed.
    assert (image["kind"], image["mime"], image["size"]) == ("image", "image/png", len(PNG))
    assert (manual["kind"], manual["mime"]) == ("file", "application/pdf")

    reply_body = {"text": "", "client_msg_id": "f1", "attachments": [image, manual]}
    status, _ = await admin.call("POST", f"/api/dialogs/{dialog_id}/messages", reply_body)
    assert status == 202
    frame = await visitor.receive_until("message", client_msg_id="f1")
    assert frame["text"] == ""
    links = [a["url"] for a in frame["attachments"]]
    assert [a["kind"] for a in frame["attachments"]] == ["image", "file"]
    assert all(link.startswith("/files/") for link in links)
    async with aiohttp.ClientSession() as anyone:  # no console session
        async with anyone.get(hub + links[0]) as resp:
            assert resp.status == 200 and await resp.read() == PNG
            assert resp.headers["Content-Type"] == "image/png"
        async with anyone.get(hub + links[1]) as resp:
            assert resp.headers["Content-Disposition"].startswith("attachment;")

        # A link cannot be forged, moved to another file, or used after it expired.
        forged = links[0][:-4] + ("AAAA" if not links[0].endswith("AAAA") else "BBBB")
        secret = load_secret(settings)
        channel_id, sha = links[0].removeprefix("/files/").split(".")[:2]
        expired = sign_token(secret, int(channel_id), sha, int(time.time()) - 1)
        other_sha = sign_token(b"not the hub's secret", int(channel_id), sha, 2**40)
        for bad in (forged, f"/files/{expired}", f"/files/{other_sha}", "/files/nonsense"):
            async with anyone.get(hub + bad) as resp:
                assert resp.status == 403, bad

    # The operator sees the files on the stored message, through the console's own url.
    _s, stored = await admin.call("GET", f"/api/dialogs/{dialog_id}")
    reply = stored["messages"][-1]
    assert [a["name"] for a in reply["attachments"]] == ["lid.png", "manual.pdf"]
    async with admin.http.get(hub + reply["attachments"][0]["url"]) as resp:
        assert resp.status == 200 and await resp.read() == PNG

    # After a reconnect the history carries fresh links too.
    await visitor.close()
    again = VisitorClient(hub)
    welcome = await again.connect(token=visitor.token)
    shown = next(m for m in welcome["history"] if m["client_msg_id"] == "f1")
    assert [a["name"] for a in shown["attachments"]] == ["lid.png", "manual.pdf"]
    await again.close()
    await admin.close()


async def test_reply_cannot_carry_files_it_did_not_upload_here(hub: str) -> None:
    visitor, admin, dialog_id = await start_dialog(hub)
    _s, body = await upload(admin, dialog_id, ("lid.png", PNG, "image/png"))
    image = body["files"][0]
    path = f"/api/dialogs/{dialog_id}/messages"
    renamed = image | {"name": "invoice.png"}
    status, answer = await admin.call(
        "POST", path, {"client_msg_id": "x1", "attachments": [renamed]}
    )
    assert status == 400 and "was not uploaded to this dialog" in answer["error"]
    status, answer = await admin.call("POST", path, {"client_msg_id": "x2", "text": ""})
    assert status == 400 and "write something or attach a file" in answer["error"]
    await visitor.close()
    await admin.close()


async def test_upload_refuses_bad_files_with_reasons(hub: str) -> None:
    visitor, admin, dialog_id = await start_dialog(hub)
    cases = [
        (("setup.exe", b"MZ\x90\x00rest", "application/octet-stream"), "programs and scripts"),
        (("page.html", b"<html><script>x</script>", "text/html"), "cannot be sent"),
        (("notes.txt", b"<svg onload=alert(1)>", "text/plain"), "web pages and SVG"),
        (("empty.pdf", b"", "application/pdf"), "the file is empty"),
    ]
    for file, reason in cases:
        status, body = await upload(admin, dialog_id, file)
        assert status == 400 and reason in body["error"], (file[0], body)
    async with admin.http.post(f"{hub}/api/dialogs/{dialog_id}/files", json={"a": 1}) as resp:
        assert resp.status == 400 and "multipart" in (await resp.json())["error"]
    await visitor.close()
    await admin.close()


@pytest.fixture
def settings(redis_url: str, db_url: str, tmp_path: Any) -> Settings:
    # One megabyte, so the oversize case stays quick.
    return Settings(
        redis_url=redis_url,
        database_url=db_url,
        data_dir=tmp_path / "var",
        admin_password=ADMIN_PASSWORD,
        inbound_shards=2,
        claim_idle_ms=500,
        max_upload_mb=1,
    )


async def test_oversize_upload_is_413_and_outsiders_get_404(hub: str, settings: Settings) -> None:
    visitor, admin, dialog_id = await start_dialog(hub)
    status, body = await upload(admin, dialog_id, ("big.pdf", b"%PDF-" + bytes(1024 * 1024), ""))
    assert status == 413 and body["error"] == "big.pdf: the file is over the 1 MB limit"

    await add_stranger(settings)
    stranger = OperatorClient(hub)
    await stranger.login("stranger", "pw-stranger")
    status, body = await upload(stranger, dialog_id, ("lid.png", PNG, "image/png"))
    assert status == 404 and body == {"error": "no such dialog"}
    async with (
        aiohttp.ClientSession() as anonymous,
        anonymous.post(f"{hub}/api/dialogs/{dialog_id}/files") as resp,
    ):
        assert resp.status == 401
    for client in (visitor, admin, stranger):
        await client.close()
