"""Front-end libraries from npm, served from ``node_modules`` under stable addresses.

``package.json`` and ``package-lock.json`` at the top of the repository pin them; ``npm ci``
(run by ``make run`` and ``make test``) puts them in ``node_modules``. The console serves each
library's built file as it ships, under ``/vendor/<name>``, with the same gzip and revalidation
as its own static files; nothing of them is copied into the repository.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from operator_console.static_files import StaticFiles

NODE_MODULES = Path(__file__).resolve().parent.parent / "node_modules"
"""Where ``npm ci`` installs the packages of ``package-lock.json``."""

VENDOR_FILES: dict[str, str] = {
    "chart.umd.min.js": "chart.js/dist/chart.umd.min.js",
    "chart.umd.min.js.map": "chart.js/dist/chart.umd.min.js.map",
    "chartjs-chart-matrix.min.js": "chartjs-chart-matrix/dist/chartjs-chart-matrix.min.js",
    "chartjs-chart-matrix.min.js.map": "chartjs-chart-matrix/dist/chartjs-chart-matrix.min.js.map",
}
"""Served name under ``/vendor/`` -> path of the built file inside ``node_modules``."""


class MissingVendorFiles(RuntimeError):
    """``node_modules`` lacks a library the console serves: ``npm ci`` has not run."""


def check_vendor_files(root: Path = NODE_MODULES) -> None:
    """Raise ``MissingVendorFiles`` naming every missing file and the command that fixes it."""
    missing = [inside for inside in VENDOR_FILES.values() if not (root / inside).is_file()]
    if missing:
        raise MissingVendorFiles(
            f"{root} lacks {', '.join(missing)}: the console's chart library is installed by "
            "npm. Run `npm ci` at the top of the repository (`make run` and `make test` do it)."
        )


def vendor_routes(root: Path = NODE_MODULES) -> list[web.AbstractRouteDef]:
    """``GET /vendor/{name}`` for each file of ``VENDOR_FILES``; checks they exist first."""
    check_vendor_files(root)
    files = StaticFiles(root)

    async def vendor(request: web.Request) -> web.Response:
        """GET /vendor/{name}: a library's built file from node_modules."""
        inside = VENDOR_FILES.get(request.match_info["name"])
        if inside is None:
            raise web.HTTPNotFound()
        return await files.respond(request, inside)

    return [web.get("/vendor/{name}", vendor)]
