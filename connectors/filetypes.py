"""Which files an operator or a web-chat visitor may attach, and what they really are (pure).

The browser's declared content type is never trusted: it is whatever the operator's machine
guessed, and a client may get the file inline. The type comes from the file's first bytes where
the format has a signature, else from a whitelist of extensions; anything that could run in a
browser or on the client's machine (HTML, SVG, scripts, executables) is refused outright.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

_MAGIC: tuple[tuple[bytes, int, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"GIF87a", 0, "image/gif"),
    (b"GIF89a", 0, "image/gif"),
    (b"WEBP", 8, "image/webp"),
    (b"%PDF-", 0, "application/pdf"),
)
"""Signatures of the formats shown inline (images) or often mislabelled (PDF)."""

_FORBIDDEN_MAGIC = (b"MZ", b"\x7fELF", b"#!", b"\xca\xfe\xba\xbe", b"\xcf\xfa\xed\xfe")
"""Windows, Linux and macOS executables and scripts."""

_EXTENSIONS = {
    "txt": "text/plain",
    "log": "text/plain",
    "csv": "text/csv",
    "rtf": "application/rtf",
    "pdf": "application/pdf",
    "doc": "application/msword",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xls": "application/vnd.ms-excel",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "ppt": "application/vnd.ms-powerpoint",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "odt": "application/vnd.oasis.opendocument.text",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
    "odp": "application/vnd.oasis.opendocument.presentation",
    "zip": "application/zip",
    "7z": "application/x-7z-compressed",
    "rar": "application/vnd.rar",
    "gz": "application/gzip",
    "mp3": "audio/mpeg",
    "ogg": "audio/ogg",
    "wav": "audio/wav",
    "m4a": "audio/mp4",
    "mp4": "video/mp4",
    "mov": "video/quicktime",
    "webm": "video/webm",
}
"""Documents, archives and media an operator may send, by extension."""

_MARKUP = (b"<!doctype", b"<html", b"<svg", b"<?xml", b"<script")

MAX_NAME = 200


class Refused(ValueError):
    """The file is not one that may be sent; the text says why."""


@dataclass(frozen=True)
class FileType:
    """What a file is: its kind for the platforms, and the content type it is served with."""

    kind: Literal["image", "file"]
    mime: str


def clean_name(name: str) -> str:
    """A file name safe to show and to put in a header: no path, no control characters."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if ch.isprintable() and ch not in '"<>:|?*')
    return base.strip(" .")[:MAX_NAME] or "file"


def sniff(name: str, head: bytes) -> FileType:
    """The type of a file from its name and first bytes; raises ``Refused`` for a file that
    is not allowed."""
    for magic in _FORBIDDEN_MAGIC:
        if head.startswith(magic):
            raise Refused(f"{name}: programs and scripts cannot be sent")
    for magic, offset, mime in _MAGIC:
        if head[offset : offset + len(magic)] == magic:
            if mime == "image/webp" and head[:4] != b"RIFF":
                continue  # "WEBP" at offset 8 counts only inside a RIFF container
            return FileType("image" if mime.startswith("image/") else "file", mime)
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    by_name = _EXTENSIONS.get(extension)
    if by_name is None:
        raise Refused(
            f"{name}: this type of file cannot be sent (images, PDF, office documents, "
            "text, archives, audio and video can)"
        )
    if by_name.startswith("text/") and head.lstrip()[:16].lower().startswith(_MARKUP):
        # A web page renamed to .txt is still a web page to a browser that sniffs.
        raise Refused(f"{name}: web pages and SVG cannot be sent")
    return FileType("file", by_name)
