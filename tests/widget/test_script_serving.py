"""widget.js reaches sites compressed, revalidated by ETag and cached, and stays small."""

from __future__ import annotations

import gzip

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from connectors.webchat.pages import UNVERSIONED_CACHE, VERSIONED_CACHE, serve_script
from widget.assets import STATIC_DIR, widget_script

MAX_GZIPPED = 25 * 1024
"""The script's budget: a visitor on a slow phone loads it before they can chat."""


async def client() -> TestClient[web.Request, web.Application]:
    app = web.Application()
    app.router.add_get("/widget/widget.js", serve_script)
    return TestClient(TestServer(app))


def test_the_widget_script_stays_under_25_kb_gzipped() -> None:
    size = len(gzip.compress((STATIC_DIR / "widget.js").read_bytes(), compresslevel=9))
    assert size <= MAX_GZIPPED, f"widget.js is {size} bytes gzipped; the budget is {MAX_GZIPPED}"


async def test_the_script_is_gzipped_with_an_etag_and_a_304_after() -> None:
    async with await client() as http:
        resp = await http.get("/widget/widget.js", headers={"Accept-Encoding": "gzip, br"},
                              auto_decompress=False)  # fmt: skip
        raw = await resp.read()
        assert resp.status == 200
        assert resp.headers["Content-Encoding"] == "gzip"
        assert resp.headers["Vary"] == "Accept-Encoding"
        assert resp.headers["Cache-Control"] == UNVERSIONED_CACHE
        assert gzip.decompress(raw) == (STATIC_DIR / "widget.js").read_bytes()
        assert len(raw) <= MAX_GZIPPED
        etag = resp.headers["ETag"]
        assert etag.startswith('"') and etag.endswith('"')

        again = await http.get("/widget/widget.js", headers={"If-None-Match": etag})
        assert again.status == 304
        assert await again.read() == b""
        assert again.headers["ETag"] == etag
        weak = await http.get("/widget/widget.js", headers={"If-None-Match": f'"x", W/{etag}'})
        assert weak.status == 304
        stale = await http.get("/widget/widget.js", headers={"If-None-Match": '"old"'})
        assert stale.status == 200


async def test_plain_for_browsers_without_gzip_and_immutable_when_versioned() -> None:
    version = widget_script().version
    async with await client() as http:
        plain = await http.get("/widget/widget.js", headers={"Accept-Encoding": "identity"},
                               auto_decompress=False)  # fmt: skip
        assert "Content-Encoding" not in plain.headers
        assert await plain.read() == (STATIC_DIR / "widget.js").read_bytes()
        refused = await http.get("/widget/widget.js", headers={"Accept-Encoding": "gzip;q=0"},
                                 auto_decompress=False)  # fmt: skip
        assert "Content-Encoding" not in refused.headers
        pinned = await http.get(f"/widget/widget.js?v={version}")
        assert pinned.headers["Cache-Control"] == VERSIONED_CACHE
        other = await http.get("/widget/widget.js?v=older")
        assert other.headers["Cache-Control"] == UNVERSIONED_CACHE
