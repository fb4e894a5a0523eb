"""The web chat's static assets and the two HTML pages the hub fills in per channel."""

from __future__ import annotations

import gzip
import hashlib
import html
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

STATIC_DIR: Path = Path(__file__).resolve().parent / "static"
"""Folder served under ``/widget/``: ``widget.js``, ``chat.html`` and ``demo.html``."""

PAGES = frozenset({"chat.html", "demo.html"})
"""The templates :func:`render_page` accepts; anything else is refused, never read from disk."""

_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")


@cache
def _template(name: str) -> str:
    return (STATIC_DIR / name).read_text(encoding="utf-8")


def render_page(name: str, **values: str) -> str:
    """Return the page ``name`` with every ``{{key}}`` replaced by ``html.escape(values[key])``.

    The substitution is a single pass, so a value that itself contains ``{{...}}`` is inserted
    as text and never expanded. A placeholder without a value raises ``KeyError``: a page with a
    literal ``{{channel_key}}`` in it would load a chat for a channel that does not exist.
    """
    if name not in PAGES:
        raise ValueError(f"unknown widget page: {name!r}")

    def fill(match: re.Match[str]) -> str:
        return html.escape(values[match.group(1)], quote=True)

    return _PLACEHOLDER.sub(fill, _template(name))


@dataclass(frozen=True)
class Script:
    """``widget.js`` as served: its bytes, gzipped once, and a strong ETag of its content."""

    body: bytes
    gzipped: bytes
    etag: str
    """Quoted, as the header carries it; its inside is also the ``?v=`` of versioned URLs."""

    @property
    def version(self) -> str:
        """The content hash that versions the script's URL on the hub's own pages."""
        return self.etag.strip('"')


@cache
def widget_script() -> Script:
    """The embeddable script, read and compressed once per process."""
    body = (STATIC_DIR / "widget.js").read_bytes()
    # mtime=0: the same bytes in every process, so caches and byte-range resumes agree.
    packed = gzip.compress(body, compresslevel=9, mtime=0)
    return Script(body, packed, f'"{hashlib.sha256(body).hexdigest()[:20]}"')


def script_url() -> str:
    """The script's versioned path, cached for a year by browsers: a new script is a new URL."""
    return f"/widget/widget.js?v={widget_script().version}"
