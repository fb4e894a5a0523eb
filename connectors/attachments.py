"""Files that come with client messages, kept in the data directory.

A file lives at ``data_dir/attachments/<channel id>/<sha256>`` with a ``.json`` sidecar holding
its content type and name. Content addressing makes a re-delivered update store nothing new,
and the url never reveals a platform's own file link (which can carry the bot token). Only
logged-in operators who may see a dialog of that channel can fetch a file, through
``GET /api/attachments/<channel id>/<sha256>`` (``operator_console.attachments_api``).

A web chat visitor uploads a file before the message that carries it, and may never send that
message: such an upload waits beside a ``.pending`` marker, which the message's acceptance
removes, and is deleted a day later if none did. Without that, a script could fill the disk
with uploads that no message ever names, within the upload budget of its addresses.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from core.envelope import Attachment

log = logging.getLogger(__name__)

URL_PREFIX = "/api/attachments/"
PENDING = ".pending"
"""The suffix of the marker beside a file that waits for a message to carry it."""
_URL = re.compile(r"^/api/attachments/(\d{1,18})/([0-9a-f]{64})$")

Kind = Literal["image", "file", "voice", "sticker", "video"]


@dataclass(frozen=True)
class StoredFile:
    """A stored attachment on disk."""

    channel_id: int
    sha256: str
    path: Path
    mime: str
    name: str


def attachment_url(channel_id: int, sha256: str) -> str:
    """The console url of a stored file."""
    return f"{URL_PREFIX}{channel_id}/{sha256}"


def parse_url(url: str) -> tuple[int, str] | None:
    """(channel id, sha256) of an attachment url, or None for anything else."""
    match = _URL.match(url)
    return (int(match.group(1)), match.group(2)) if match else None


class AttachmentStore:
    """Content-addressed files under ``data_dir/attachments``."""

    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir / "attachments"

    async def save(
        self,
        channel_id: int,
        data: bytes,
        *,
        kind: Kind,
        name: str = "",
        mime: str = "",
        pending: bool = False,
    ) -> Attachment:
        """Store a file (off the event loop) and return the attachment that points to it.

        A ``pending`` file (a visitor's upload) is kept only until ``sweep_pending`` finds it
        unclaimed: a message must carry it first (``claim``). Content already stored for a
        message stays whatever a new upload of it does."""
        sha = hashlib.sha256(data).hexdigest()
        await asyncio.to_thread(self._write, channel_id, sha, data, mime, name, pending)
        return Attachment(
            kind=kind, url=attachment_url(channel_id, sha), name=name, mime=mime, size=len(data)
        )

    def _write(
        self, channel_id: int, sha: str, data: bytes, mime: str, name: str, pending: bool
    ) -> None:
        folder = self.root / str(channel_id)
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / sha
        marker = folder / f"{sha}{PENDING}"
        if pending and (not target.exists() or marker.exists()):
            marker.touch()  # before the file: a sweep never finds the file without it
        if not target.exists():
            # Write then rename: a reader never sees half a file, and two writers of the same
            # content race harmlessly.
            tmp = folder / f".{sha}.{os.getpid()}.tmp"
            tmp.write_bytes(data)
            tmp.replace(target)
        meta = json.dumps({"mime": mime or "application/octet-stream", "name": name})
        (folder / f"{sha}.json").write_text(meta)

    def find(self, channel_id: int, sha256: str) -> StoredFile | None:
        """A stored file, or None when there is none."""
        if not re.fullmatch(r"[0-9a-f]{64}", sha256):
            return None
        path = self.root / str(channel_id) / sha256
        if not path.is_file():
            return None
        mime, name = "application/octet-stream", ""
        meta = path.with_name(f"{sha256}.json")
        if meta.is_file():
            data = json.loads(meta.read_text())
            mime, name = str(data.get("mime") or mime), str(data.get("name") or "")
        return StoredFile(channel_id, sha256, path, mime, name)

    async def claim(self, attachments: Iterable[Attachment]) -> list[str]:
        """Keep these files for good, as a message now carries them; the names of those no
        longer stored (swept, or never here)."""
        return await asyncio.to_thread(self._claim, list(attachments))

    def _claim(self, attachments: list[Attachment]) -> list[str]:
        gone = []
        for att in attachments:
            parsed = parse_url(att.url)
            path = self.root / str(parsed[0]) / parsed[1] if parsed else None
            if path is None or not path.is_file():
                gone.append(att.name or att.kind)
                continue
            path.with_name(f"{path.name}{PENDING}").unlink(missing_ok=True)
        return gone

    def sweep_pending(self, older_than_s: float, now: float | None = None) -> int:
        """Delete the pending files no message claimed within ``older_than_s`` seconds of
        their upload; how many. Blocking: run it in a thread."""
        cutoff = (time.time() if now is None else now) - older_than_s
        swept = 0
        for marker in self.root.glob(f"*/*{PENDING}"):
            try:
                if marker.stat().st_mtime > cutoff:
                    continue
                sha = marker.name.removesuffix(PENDING)
                for path in (marker.with_name(sha), marker.with_name(f"{sha}.json"), marker):
                    path.unlink(missing_ok=True)
                swept += 1
            except OSError as exc:
                log.warning("could not sweep the upload %s: %s", marker.name, exc)
        return swept

    async def read(self, url: str) -> tuple[bytes, StoredFile] | None:
        """The bytes of a stored attachment by its url (for sending it to a platform)."""
        parsed = parse_url(url)
        stored = self.find(*parsed) if parsed else None
        if stored is None:
            return None
        return await asyncio.to_thread(stored.path.read_bytes), stored
