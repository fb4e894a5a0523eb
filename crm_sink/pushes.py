"""What the sink tells an external CRM, and the one small protocol an adapter implements.

The built-in CRM is the sink's own tables; an external adapter (Bitrix24, an outgoing webhook)
receives ``Push`` values after those tables are committed. Each push carries a ``key`` that is
ours and stable (``lead:<id>``, ``transcript:<dialog id>``): adapters record what they did under
it in ``crm_external_refs`` and do nothing twice, so a redelivered event is harmless.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from core.db import SessionMaker
from core.db.crm_schema import CrmExternalRef


@dataclass(frozen=True, kw_only=True)
class LeadPush:
    """A lead was created for a dialog of an unknown client."""

    key: str
    lead_id: int
    client_id: int
    title: str
    client_name: str
    phones: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    channel_kind: str
    line_id: int
    line_name: str
    responsible_id: int | None
    created_at: datetime

    def as_json(self) -> dict[str, Any]:
        """The push as a JSON-ready dict (webhook body ``data``)."""
        return {
            "lead_id": self.lead_id,
            "client_id": self.client_id,
            "title": self.title,
            "client_name": self.client_name,
            "phones": list(self.phones),
            "emails": list(self.emails),
            "source": {
                "channel": self.channel_kind,
                "line_id": self.line_id,
                "line": self.line_name,
            },
            "responsible_id": self.responsible_id,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True, kw_only=True)
class TranscriptPush:
    """A closed dialog's transcript, attached to the client's lead (or contact)."""

    key: str
    dialog_id: int
    client_id: int
    lead_id: int | None
    phones: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    text: str
    messages: tuple[dict[str, Any], ...] = field(default=())

    def as_json(self) -> dict[str, Any]:
        """The push as a JSON-ready dict (webhook body ``data``)."""
        return {
            "dialog_id": self.dialog_id,
            "client_id": self.client_id,
            "lead_id": self.lead_id,
            "text": self.text,
            "messages": list(self.messages),
        }


Push = LeadPush | TranscriptPush


class Adapter(Protocol):
    """An external CRM. ``push`` is idempotent per ``item.key`` and raises ``core.bus.Retry``
    when the CRM is unreachable, so the bus delivers the event again later."""

    name: str

    async def push(self, item: Push) -> None:
        """Deliver one push (or recognise it was delivered before)."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


class ExternalRefs:
    """What each adapter already did, in ``crm_external_refs``."""

    def __init__(self, sessions: SessionMaker, adapter: str) -> None:
        self.sessions = sessions
        self.adapter = adapter

    async def get(self, key: str) -> str | None:
        """The external id recorded for ``key``, or None when it was never done."""
        async with self.sessions() as session:
            found = await session.scalar(
                select(CrmExternalRef.external_id).where(
                    CrmExternalRef.adapter == self.adapter, CrmExternalRef.key == key
                )
            )
        return found

    async def put(self, key: str, external_id: str) -> None:
        """Record that ``key`` is done; a second record of the same key is ignored."""
        try:
            async with self.sessions() as session, session.begin():
                session.add(CrmExternalRef(adapter=self.adapter, key=key, external_id=external_id))
        except IntegrityError:
            pass
