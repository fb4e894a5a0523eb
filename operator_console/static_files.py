"""The console's static files: compressed once with gzip, then served from memory.

Each file is read and compressed the first time it is asked for, and again only when its
modification time or size changes. Answers carry a strong ETag per encoding, ``Vary:
Accept-Encoding`` and ``Cache-Control: no-cache``, so browsers revalidate with a cheap 304 and
never run an old module next to a new one.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

COMPRESSIBLE = {".js", ".css", ".html", ".svg", ".json", ".txt", ".map"}
TYPES = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".html": "text/html",
    ".svg": "image/svg+xml",
    ".map": "application/json",
}


@dataclass(frozen=True)
class StaticAsset:
    """One file as served: its bytes, their gzip form (None when not worth it) and validators."""

    body: bytes
    gzipped: bytes | None
    digest: str
    content_type: str
    mtime_ns: int
    size: int


def accepts_gzip(header: str) -> bool:
    """Whether an Accept-Encoding header admits gzip (``gzip;q=0`` refuses it)."""
    for part in header.split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip().lower() not in ("gzip", "*"):
            continue
        quality = params.strip().lower().removeprefix("q=")
        try:
            return not params.strip() or float(quality) > 0
        except ValueError:
            return True
    return False


def _load(path: Path, mtime_ns: int, size: int) -> StaticAsset:
    body = path.read_bytes()
    suffix = path.suffix.lower()
    gzipped: bytes | None = None
    if suffix in COMPRESSIBLE:
        # mtime=0 keeps the compressed bytes, and so the ETag, the same on every start.
        packed = gzip.compress(body, compresslevel=9, mtime=0)
        gzipped = packed if len(packed) < len(body) else None
    guessed = mimetypes.guess_type(path.name)[0]
    content_type = TYPES.get(suffix) or guessed or "application/octet-stream"
    if content_type.startswith("text/") or suffix == ".svg":
        content_type += "; charset=utf-8"
    digest = hashlib.sha256(body).hexdigest()[:20]
    return StaticAsset(body, gzipped, digest, content_type, mtime_ns, size)


class StaticFiles:
    """The files under ``root``, served compressed when the browser accepts gzip."""

    def __init__(self, root: Path) -> None:
        self._root = root.resolve()
        self._cache: dict[Path, StaticAsset] = {}

    def _path(self, name: str) -> Path | None:
        path = (self._root / name).resolve()
        if not path.is_relative_to(self._root) or not path.is_file():
            return None
        return path

    async def asset(self, name: str) -> StaticAsset | None:
        """The file ``name`` under the root, or None when there is no such file."""
        path = self._path(name)
        if path is None:
            return None
        stat = path.stat()
        cached = self._cache.get(path)
        if cached is not None and (cached.mtime_ns, cached.size) == (
            stat.st_mtime_ns,
            stat.st_size,
        ):
            return cached
        asset = await asyncio.to_thread(_load, path, stat.st_mtime_ns, stat.st_size)
        self._cache[path] = asset
        return asset

    async def respond(
        self, request: web.Request, name: str, extra: dict[str, str] | None = None
    ) -> web.Response:
        """The answer to a GET or HEAD of file ``name``: 200, 304 or 404, with the ``extra``
        headers."""
        asset = await self.asset(name)
        if asset is None:
            raise web.HTTPNotFound()
        accepted = accepts_gzip(request.headers.get("Accept-Encoding", ""))
        use_gzip = asset.gzipped is not None and accepted
        etag = f'"{asset.digest}-gzip"' if use_gzip else f'"{asset.digest}"'
        headers = {"ETag": etag, "Vary": "Accept-Encoding", "Cache-Control": "no-cache"}
        headers |= extra or {}
        if etag in {tag.strip() for tag in request.headers.get("If-None-Match", "").split(",")}:
            return web.Response(status=304, headers=headers)
        headers["Content-Type"] = asset.content_type
        if use_gzip:
            headers["Content-Encoding"] = "gzip"
        body = asset.gzipped if use_gzip and asset.gzipped is not None else asset.body
        return web.Response(body=body, headers=headers)

    async def handle(self, request: web.Request) -> web.Response:
        """GET /static/{path}."""
        return await self.respond(request, request.match_info["path"])
