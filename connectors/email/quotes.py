"""Trimming the quoted history that mail programs append to a reply.

A reply carries everything said before; the operator already has that in the dialog. We cut
at the first attribution line ("On … wrote:", "… пишет:", Outlook's "-----Original Message-----"
or its "From:/Sent:" block) and drop ``>``-quoted lines. When trimming would leave nothing, the
text is kept whole: losing a message is worse than showing a quote.
"""

from __future__ import annotations

import re

_CUT = (
    re.compile(r"^-{2,}\s*(original message|исходное сообщение|пересылаемое сообщение)\s*-{2,}\s*$",
               re.I),
    re.compile(r"^on\b.{0,200}\bwrote:\s*$", re.I),
    re.compile(r"^.{0,200}(пишет|написал|написала|писал|писала)\s*:\s*$", re.I),
    re.compile(r"^le\b.{0,200}\ba écrit\s*:\s*$", re.I),
    re.compile(r"^am\b.{0,200}\bschrieb.{0,100}:\s*$", re.I),
    re.compile(r"^_{20,}\s*$"),
)  # fmt: skip
_OUTLOOK_FROM = re.compile(r"^(from|от|de|von)\s*:\s*\S", re.I)
_OUTLOOK_NEXT = re.compile(r"^(sent|date|отправлено|дата|to|кому)\s*:", re.I)


def trim_quotes(text: str) -> str:
    """The new part of a reply, without the quoted history."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    kept: list[str] = []
    for i, line in enumerate(lines):
        bare = line.strip()
        if any(p.match(bare) for p in _CUT):
            break
        nxt = lines[i + 1].strip() if i + 1 < len(lines) else ""
        if _OUTLOOK_FROM.match(bare) and _OUTLOOK_NEXT.match(nxt):
            break
        if bare.startswith(">"):
            continue
        kept.append(line.rstrip())
    trimmed = "\n".join(kept).strip()
    if not trimmed:
        return "\n".join(line.rstrip() for line in lines).strip()
    return trimmed
