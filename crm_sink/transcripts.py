"""A closed dialog's transcript as the CRM record keeps it, and the key it is pushed under.

A dialog reopened and closed again gets its transcript rebuilt; each close has its own push
key, so a CRM adapter adds the later conversation instead of finding the first one done.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.schema import Message
from crm_sink.rules import TranscriptFile, TranscriptLine, transcript_text


def transcript_key(dialog_id: int, closes: int) -> str:
    """The push key of the transcript of a dialog's ``closes``-th close; the first keeps the
    plain form adapters have recorded all along."""
    return f"transcript:{dialog_id}" if closes == 1 else f"transcript:{dialog_id}:{closes}"


async def transcript_body(
    session: AsyncSession, dialog_id: int, closed_at: str, closes: int
) -> dict[str, Any]:
    """The transcript note's body: client and operator messages with their files (by name
    and link), colleagues' hidden messages left out, and which close of the dialog it records.

    Each message keeps ``attachments`` (the links, as before) beside ``files``."""
    messages = await session.scalars(
        select(Message)
        .where(Message.dialog_id == dialog_id, Message.hidden.is_(False))
        .order_by(Message.id)
    )
    lines = [
        TranscriptLine(
            m.author,
            m.author_name,
            m.created_at,
            m.text,
            tuple(
                TranscriptFile(str(a.get("name") or ""), str(a["url"]))
                for a in m.attachments
                if a.get("url")
            ),
        )
        for m in messages
    ]
    return {
        "text": transcript_text(lines),
        "messages": [
            {
                "author": ln.author,
                "author_name": ln.author_name,
                "at": ln.at.isoformat(),
                "text": ln.text,
                "attachments": [f.url for f in ln.attachments],
                "files": [{"name": f.name, "url": f.url} for f in ln.attachments],
            }
            for ln in lines
        ],
        "closed_at": closed_at,
        "closes": closes,
    }
