"""Bitrix24 adapter over its REST API, through an inbound webhook URL.

Methods used (Bitrix24 REST documentation): ``crm.lead.list`` and ``crm.lead.add`` for leads,
``crm.duplicate.findbycomm`` to find an existing lead or contact by phone or email, and
``crm.timeline.comment.add`` for transcripts. Every call is ``POST <base><method>.json`` with a
JSON body; Bitrix24 answers ``{"result": ...}`` or ``{"error", "error_description"}``.

Idempotency: a lead is created with ``ORIGINATOR_ID="openlines"`` and ``ORIGIN_ID=<our key>``
and looked up by them first, so even a crash between ``crm.lead.add`` and recording its id
here never yields a second lead. A client Bitrix24 already knows by phone or email gets no
new lead: its existing lead is used.
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp

from core.bus import Permanent, Retry
from crm_sink.pushes import ExternalRefs, LeadPush, Push, TranscriptPush

log = logging.getLogger(__name__)

ORIGINATOR = "openlines"


class Bitrix24Error(Exception):
    """Bitrix24 answered with an error object."""


class Bitrix24Adapter:
    """Leads and transcripts into one Bitrix24 portal."""

    name = "bitrix24"

    def __init__(self, base_url: str, refs: ExternalRefs, timeout_s: float = 15.0) -> None:
        if not base_url:
            raise ValueError("the Bitrix24 adapter needs crm_bitrix24_url")
        self.base = base_url.rstrip("/") + "/"
        self.refs = refs
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._http: aiohttp.ClientSession | None = None

    async def push(self, item: Push) -> None:
        """Create the lead or add the transcript comment, once per key."""
        if await self.refs.get(item.key) is not None:
            return
        if isinstance(item, LeadPush):
            external = await self._lead(item)
        else:
            external = await self._transcript(item)
        await self.refs.put(item.key, external)

    async def _lead(self, item: LeadPush) -> str:
        found = await self.call(
            "crm.lead.list",
            {"filter": {"ORIGINATOR_ID": ORIGINATOR, "ORIGIN_ID": item.key}, "select": ["ID"]},
        )
        if isinstance(found, list) and found:
            return str(found[0]["ID"])
        existing = await self._find("LEAD", item.phones, item.emails)
        if existing is not None:
            return existing
        fields: dict[str, Any] = {
            "TITLE": item.title,
            "NAME": item.client_name,
            "SOURCE_ID": "OTHER",
            "SOURCE_DESCRIPTION": f"Openlines: {item.channel_kind}, line {item.line_name}",
            "ORIGINATOR_ID": ORIGINATOR,
            "ORIGIN_ID": item.key,
        }
        if item.phones:
            fields["PHONE"] = [{"VALUE": p, "VALUE_TYPE": "WORK"} for p in item.phones]
        if item.emails:
            fields["EMAIL"] = [{"VALUE": e, "VALUE_TYPE": "WORK"} for e in item.emails]
        return str(await self.call("crm.lead.add", {"fields": fields}))

    async def _transcript(self, item: TranscriptPush) -> str:
        entity_type, entity_id = "lead", None
        if item.lead_id is not None:
            entity_id = await self.refs.get(f"lead:{item.lead_id}")
            if entity_id is None:
                # The lead push comes first on the stream; until it lands, wait for it.
                raise Retry(f"lead {item.lead_id} is not in Bitrix24 yet")
        else:
            contact = await self._find("CONTACT", item.phones, item.emails)
            if contact is not None:
                entity_type, entity_id = "contact", contact
            else:
                entity_id = await self._find("LEAD", item.phones, item.emails)
        if entity_id is None:
            log.info("transcript of dialog %d has no Bitrix24 record to go to", item.dialog_id)
            return ""
        comment = await self.call(
            "crm.timeline.comment.add",
            {
                "fields": {
                    "ENTITY_ID": int(entity_id),
                    "ENTITY_TYPE": entity_type,
                    "COMMENT": f"Dialog #{item.dialog_id}\n{item.text}",
                }
            },
        )
        return str(comment)

    async def _find(
        self, entity_type: str, phones: tuple[str, ...], emails: tuple[str, ...]
    ) -> str | None:
        for kind, values in (("PHONE", phones), ("EMAIL", emails)):
            if not values:
                continue
            result = await self.call(
                "crm.duplicate.findbycomm",
                {"entity_type": entity_type, "type": kind, "values": list(values)[:20]},
            )
            # An empty answer is a JSON list ([]), a found one an object of id lists.
            if isinstance(result, dict) and result.get(entity_type):
                return str(min(int(i) for i in result[entity_type]))
        return None

    async def call(self, method: str, params: dict[str, Any]) -> Any:
        """Call a REST method; ``Retry`` on network trouble, 5xx or rate limits."""
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(timeout=self.timeout)
        url = f"{self.base}{method}.json"
        try:
            async with self._http.post(url, json=params) as response:
                status = response.status
                body: Any = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise Retry(f"Bitrix24 {method}: {type(exc).__name__}: {exc}", after=5) from exc
        if isinstance(body, dict) and "error" in body:
            reason = f"Bitrix24 {method}: {body['error']}: {body.get('error_description', '')}"
            if status >= 500 or body["error"] in ("QUERY_LIMIT_EXCEEDED", "INTERNAL_SERVER_ERROR"):
                raise Retry(reason, after=5)
            raise Permanent(reason)
        if status >= 300 or not isinstance(body, dict) or "result" not in body:
            raise Retry(f"Bitrix24 {method}: HTTP {status}", after=5)
        return body["result"]

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._http is not None:
            await self._http.close()
