"""Files that Viber and VK hand over as links, fetched from a real HTTP server: kept whole
however many pieces they arrive in, never read past the cap whatever size the platform
states, a note in the text for a file that cannot be kept, and a retry for a server error."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from connectors import linked_files
from connectors.attachments import AttachmentStore
from connectors.linked_files import LinkedFile, keep_linked
from core.bus import Retry

BIG = bytes(range(256)) * 4096  # 1 MiB: many reads of the socket
CHANNEL = 7


class Files:
    """What the platform's file server has, and how many bytes it was asked for."""

    def __init__(self) -> None:
        self.sent = 0

    async def whole(self, request: web.Request) -> web.Response:
        return web.Response(body=BIG, content_type="image/jpeg")

    async def endless(self, request: web.Request) -> web.StreamResponse:
        """No Content-Length, and more than any cap: only a reader that counts stops it."""
        response = web.StreamResponse()
        response.content_type = "application/pdf"
        await response.prepare(request)
        for _ in range(64):
            await response.write(BIG)
            self.sent += len(BIG)
        await response.write_eof()
        return response

    async def slow(self, request: web.Request) -> web.StreamResponse:
        """The 1 MiB file at about 512 KB/s, or nothing at all after its first piece."""
        response = web.StreamResponse()
        response.content_type = "video/mp4"
        response.content_length = len(BIG)
        await response.prepare(request)
        for start in range(0, len(BIG), 64 * 1024):
            await response.write(BIG[start : start + 64 * 1024])
            await asyncio.sleep(60 if request.match_info["how"] == "stalled" else 0.125)
        await response.write_eof()
        return response

    async def status(self, request: web.Request) -> web.Response:
        return web.Response(status=int(request.match_info["code"]), text="no")


@pytest.fixture
async def files() -> AsyncIterator[tuple[str, Files]]:
    served = Files()
    app = web.Application()
    app.router.add_get("/whole.jpg", served.whole)
    app.router.add_get("/endless.pdf", served.endless)
    app.router.add_get("/status/{code}", served.status)
    app.router.add_get("/{how}.mp4", served.slow)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/"), served
    finally:
        await server.close()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def test_a_file_in_many_pieces_is_kept_whole_with_its_type(
    files: tuple[str, Files], http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    base, _ = files
    store = AttachmentStore(tmp_path)
    wanted = [LinkedFile(f"{base}/whole.jpg", "image", "photo.jpg")]
    text, [kept] = await keep_linked(http, store, CHANNEL, wanted, "look", "VK")
    assert text == "look"
    assert (kept.kind, kept.name, kept.mime, kept.size) == (
        "image",
        "photo.jpg",
        "image/jpeg",
        len(BIG),
    )
    stored = await store.read(kept.url)
    assert stored is not None and stored[0] == BIG


async def test_a_slow_download_is_waited_for_by_its_size_and_a_stalled_one_retried(
    files: tuple[str, Files], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base, _ = files
    store = AttachmentStore(tmp_path)
    # The adapters' sessions bound an API call; this one as tightly as the test's pace needs.
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=0.5)) as http:
        video = [LinkedFile(f"{base}/slow.mp4", "video", "trip.mp4", size=len(BIG))]
        started = asyncio.get_running_loop().time()
        _, [kept] = await keep_linked(http, store, CHANNEL, video, "", "viber")
        assert asyncio.get_running_loop().time() - started > 1.5  # it did come slowly
        stored = await store.read(kept.url)
        assert stored is not None and stored[0] == BIG
        # A server that stops sending is given up within the wait for silence, for a retry.
        monkeypatch.setattr(linked_files, "WAIT_S", 0.5)
        stalled = [LinkedFile(f"{base}/stalled.mp4", "video", "trip.mp4", size=len(BIG))]
        with pytest.raises(Retry, match=r"viber file download failed: .*Timeout"):
            await keep_linked(http, store, CHANNEL, stalled, "", "viber")


async def test_a_body_past_the_cap_is_a_note_whatever_size_was_stated(
    files: tuple[str, Files],
    http: aiohttp.ClientSession,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    base, served = files
    store = AttachmentStore(tmp_path)
    wanted = [
        # The platform says 10 bytes; the server streams 64 MiB without a length.
        LinkedFile(f"{base}/endless.pdf", "file", "scan.pdf", size=10),
        # The length the server states is over the cap: not read at all.
        LinkedFile(f"{base}/whole.jpg", "image", "photo.jpg"),
    ]
    monkeypatch.setattr(linked_files, "MAX_BYTES", len(BIG) // 2)
    text, kept = await keep_linked(http, store, CHANNEL, wanted, "", "viber")
    assert kept == []
    assert text == "[scan.pdf: too big to keep]\n[photo.jpg: too big to keep]"
    # The reader stopped near the cap, not at the end of what the server had.
    assert served.sent < 16 * len(BIG)
    assert not (tmp_path / "attachments").exists()


async def test_a_stated_size_over_the_cap_is_not_fetched(
    http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    # Nothing listens at this address: a request would fail with a retry, not a note.
    wanted = [LinkedFile("http://127.0.0.1:9/huge.mp4", "video", "huge.mp4", size=10**10)]
    text, kept = await keep_linked(http, AttachmentStore(tmp_path), CHANNEL, wanted, "hi", "VK")
    assert (text, kept) == ("hi\n[huge.mp4: too big to keep]", [])


async def test_a_refusal_is_a_note_and_a_server_error_or_no_server_a_retry(
    files: tuple[str, Files], http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    base, _ = files
    store = AttachmentStore(tmp_path)
    gone = [LinkedFile(f"{base}/status/404", "file", "old.doc")]
    assert await keep_linked(http, store, CHANNEL, gone, "", "VK") == (
        "[old.doc: could not be downloaded]",
        [],
    )
    failing = [LinkedFile(f"{base}/status/503", "file", "a.doc")]
    with pytest.raises(Retry, match="viber file download answered 503"):
        await keep_linked(http, store, CHANNEL, failing, "", "viber")
    nobody = [LinkedFile("http://127.0.0.1:9/a.doc", "file", "a.doc")]
    with pytest.raises(Retry, match="VK file download failed"):
        await keep_linked(http, store, CHANNEL, nobody, "", "VK")
