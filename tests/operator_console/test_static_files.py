"""The console's static files: gzip when the browser accepts it, 304 on a known ETag, a new
body when the file changes, and nothing outside the folder."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from operator_console.static_files import StaticFiles, accepts_gzip

SCRIPT = "export function greet() { return 'hello'; }\n" * 40


@pytest.mark.parametrize(
    ("header", "accepted"),
    [
        ("gzip, deflate, br", True),
        ("br;q=1.0, gzip;q=0.5", True),
        ("*", True),
        ("gzip;q=0", False),
        ("identity", False),
        ("", False),
    ],
)
def test_accept_encoding_is_read_with_its_quality(header: str, accepted: bool) -> None:
    assert accepts_gzip(header) is accepted


@pytest.fixture
async def client(tmp_path: Path) -> TestClient[web.Request, web.Application]:
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "app.js").write_text(SCRIPT)
    (tmp_path / "secret.txt").write_text("not for the web")
    files = StaticFiles(tmp_path / "static")
    app = web.Application()
    app.router.add_get("/static/{path:.+}", files.handle)
    test_client = TestClient(TestServer(app))
    await test_client.start_server()
    return test_client


async def test_script_is_gzipped_with_validators(
    client: TestClient[web.Request, web.Application],
) -> None:
    try:
        response = await client.get(
            "/static/app.js", headers={"Accept-Encoding": "gzip"}, auto_decompress=False
        )
        raw = await response.read()
        assert response.headers["Content-Encoding"] == "gzip"
        assert response.headers["Vary"] == "Accept-Encoding"
        assert response.headers["Content-Type"] == "text/javascript; charset=utf-8"
        assert gzip.decompress(raw).decode() == SCRIPT
        assert len(raw) < len(SCRIPT) / 5

        etag = response.headers["ETag"]
        again = await client.get(
            "/static/app.js", headers={"Accept-Encoding": "gzip", "If-None-Match": etag}
        )
        assert again.status == 304

        plain = await client.get("/static/app.js", headers={"Accept-Encoding": "identity"})
        assert "Content-Encoding" not in plain.headers
        assert plain.headers["ETag"] != etag
        assert await plain.text() == SCRIPT
    finally:
        await client.close()


async def test_a_changed_file_is_served_anew(
    client: TestClient[web.Request, web.Application], tmp_path: Path
) -> None:
    try:
        first = await client.get("/static/app.js")
        path = tmp_path / "static" / "app.js"
        path.write_text("export const changed = true;\n")
        stat = path.stat()
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
        second = await client.get("/static/app.js")
        assert await second.text() == "export const changed = true;\n"
        assert second.headers["ETag"] != first.headers["ETag"]
    finally:
        await client.close()


@pytest.mark.parametrize(
    "path", ["/static/../secret.txt", "/static/%2e%2e/secret.txt", "/static/nope.js"]
)
async def test_nothing_outside_the_folder_or_missing_is_served(
    client: TestClient[web.Request, web.Application], path: str
) -> None:
    try:
        response = await client.get(path)
        assert response.status == 404
    finally:
        await client.close()


async def test_a_name_that_climbs_out_of_the_folder_finds_nothing(tmp_path: Path) -> None:
    (tmp_path / "static").mkdir()
    (tmp_path / "secret.txt").write_text("not for the web")
    files = StaticFiles(tmp_path / "static")
    assert await files.asset("../secret.txt") is None
    assert await files.asset(str(tmp_path / "secret.txt")) is None
