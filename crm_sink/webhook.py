"""Outgoing CRM webhook: each push is a signed JSON POST, retried with backoff until a 2xx.

Request: ``POST <url>`` with the body
``{"event": "lead.created" | "transcript.attached", "id": "<key>", "data": {...}}`` and headers
``X-Openlines-Event-Id`` (the key: the receiver's idempotency key), ``X-Openlines-Timestamp``
(unix seconds) and ``X-Openlines-Signature: sha256=<hex HMAC-SHA256(secret, "<ts>.<body>")>``.
Signing the timestamp with the body lets a receiver refuse replays of an old request.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time

import aiohttp

from core.backoff import Backoff
from core.bus import Permanent, Retry
from core.http_answer import answer_head
from core.limits import signature_matches
from crm_sink.pushes import ExternalRefs, LeadPush, Push

log = logging.getLogger(__name__)


WEBHOOK_BACKOFF = Backoff(attempts=4, first_s=0.2, factor=3.0, max_s=5.0)
"""Retries inside one delivery; after them the bus redelivers the event later."""


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """The signature header value for a body sent at ``timestamp``."""
    digest = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def check_signature(secret: bytes, timestamp: str, body: bytes, header: str) -> bool:
    """True when ``header`` signs ``body`` at ``timestamp`` (for receivers and tests)."""
    return signature_matches(sign(secret, timestamp, body), header)


class WebhookAdapter:
    """Posts pushes to one URL; a key acknowledged once is never posted again."""

    name = "webhook"

    def __init__(
        self,
        url: str,
        secret: bytes,
        refs: ExternalRefs,
        backoff: Backoff | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        if not url or not secret:
            raise ValueError("the CRM webhook needs crm_webhook_url and crm_webhook_secret")
        self.url = url
        self.secret = secret
        self.refs = refs
        self.backoff = backoff or WEBHOOK_BACKOFF
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._http: aiohttp.ClientSession | None = None

    async def push(self, item: Push) -> None:
        """POST the push until acknowledged; ``Retry`` when the receiver keeps failing."""
        if await self.refs.get(item.key) is not None:
            return
        event = "lead.created" if isinstance(item, LeadPush) else "transcript.attached"
        body = json.dumps(
            {"event": event, "id": item.key, "data": item.as_json()}, ensure_ascii=False
        ).encode()
        last = ""
        for attempt in range(1, self.backoff.attempts + 1):
            status, last = await self._post(item.key, body)
            if 200 <= status < 300:
                await self.refs.put(item.key, str(status))
                return
            if 400 <= status < 500 and status not in (408, 429):
                # The receiver refuses this body; sending it again cannot help.
                raise Permanent(f"webhook refused {item.key}: {status} {last}")
            if attempt < self.backoff.attempts:
                await asyncio.sleep(self.backoff.delay(attempt))
        raise Retry(f"webhook not acknowledged {item.key}: {last}", after=self.backoff.max_s)

    async def _post(self, key: str, body: bytes) -> tuple[int, str]:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(timeout=self.timeout)
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "X-Openlines-Event-Id": key,
            "X-Openlines-Timestamp": timestamp,
            "X-Openlines-Signature": sign(self.secret, timestamp, body),
        }
        try:
            async with self._http.post(self.url, data=body, headers=headers) as response:
                return response.status, await answer_head(response, 200)
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("CRM webhook %s: %s", self.url, exc)
            return 0, f"{type(exc).__name__}: {exc}"

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._http is not None:
            await self._http.close()
