"""The chart library from node_modules: served gzipped under a stable address with validators,
only the files the console names, and a start-up that says how to install it when it is missing."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from operator_console.cli import main
from operator_console.vendor_files import (
    NODE_MODULES,
    VENDOR_FILES,
    MissingVendorFiles,
    check_vendor_files,
    vendor_routes,
)


async def test_chart_library_is_served_from_node_modules_gzipped_and_revalidated() -> None:
    app = web.Application()
    app.router.add_routes(vendor_routes())
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        response = await client.get(
            "/vendor/chart.umd.min.js", headers={"Accept-Encoding": "gzip"}, auto_decompress=False
        )
        raw = await response.read()
        shipped = (NODE_MODULES / VENDOR_FILES["chart.umd.min.js"]).read_bytes()
        assert response.status == 200
        assert response.headers["Content-Type"] == "text/javascript; charset=utf-8"
        assert response.headers["Content-Encoding"] == "gzip"
        assert response.headers["Cache-Control"] == "no-cache"
        assert gzip.decompress(raw) == shipped
        assert b"Chart.js v4" in shipped[:200]
        again = await client.get(
            "/vendor/chart.umd.min.js",
            headers={"Accept-Encoding": "gzip", "If-None-Match": response.headers["ETag"]},
        )
        assert again.status == 304
        matrix = await client.get("/vendor/chartjs-chart-matrix.min.js")
        assert matrix.status == 200
        assert b"chartjs-chart-matrix" in await matrix.read()
        # Only the named files: the rest of node_modules is not on the web.
        for path in ("/vendor/package.json", "/vendor/..%2Fpackage.json", "/vendor/chart.js"):
            assert (await client.get(path)).status == 404
    finally:
        await client.close()


def test_missing_node_modules_stops_the_start_naming_npm_ci(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(MissingVendorFiles, match=r"npm ci"):
        check_vendor_files(tmp_path)
    with pytest.raises(MissingVendorFiles, match=r"chart\.umd\.min\.js"):
        vendor_routes(tmp_path)
    monkeypatch.setattr(
        "operator_console.cli.check_vendor_files", lambda: check_vendor_files(tmp_path)
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OPENLINES_CONFIG", raising=False)
    assert main(["run", "--data-dir", str(tmp_path / "var")]) == 2
    assert "npm ci" in capsys.readouterr().err
