"""Folder names as IMAP wants them: modified UTF-7 (RFC 3501, 5.1.3), in a quoted string.

People name folders "Sent Items" or "Поддержка": sent as they are, the first reaches the server
as two words and the second as 8-bit bytes in an atom, which servers refuse. aioimaplib sends
a folder name exactly as given, and no library of the field we use does this encoding.
"""

from __future__ import annotations

import base64

import aioimaplib


def modified_utf7(name: str) -> str:
    """``name`` in IMAP's modified UTF-7: printable ASCII as itself ("&" as "&-"), every run of
    other characters as "&", the base64 of their UTF-16BE ("," for "/", no padding), "-"."""
    out: list[str] = []
    run: list[str] = []

    def close_run() -> None:
        if run:
            data = base64.b64encode("".join(run).encode("utf-16-be")).decode("ascii")
            out.append("&" + data.rstrip("=").replace("/", ",") + "-")
            run.clear()

    for char in name:
        if " " <= char <= "~":
            close_run()
            out.append("&-" if char == "&" else char)
        else:
            run.append(char)
    close_run()
    return "".join(out)


def imap_mailbox(name: str) -> str:
    """``name`` ready for a command: modified UTF-7, quoted, its quotes and backslashes escaped."""
    return str(aioimaplib.quoted(modified_utf7(name)))
