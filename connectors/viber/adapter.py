"""Viber's I/O over its REST bot API with aiohttp: signed webhook in, send_message out.

The API base URL is the ``viber_api_base`` setting; every call carries ``X-Viber-Auth-Token``.
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
from aiohttp import web

from connectors.accounts import ChannelAccount
from connectors.filelinks import FileLinks
from connectors.linked_files import keep_linked
from connectors.outbound import Receipt, SendError, SendLater, Sent
from connectors.platform import Ingested, PlatformConnector, describe
from connectors.viber.parse import (
    CallbackHead,
    Ignored,
    ViberReceipt,
    dedupe_id,
    parse_callback,
    signature_ok,
)
from connectors.viber.render import TEXT_LIMIT, render, sender
from connectors.webhook_body import read_body, read_payload
from connectors.webhooks import WebhookError
from core.envelope import (
    DialogClosedNotice,
    InboundMessage,
    OutboundMessage,
    PlatformUpdate,
)

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Viber-Content-Signature"
MAX_CALLBACK_BYTES = 256 * 1024
TOO_MANY_REQUESTS = 12
UNREACHABLE = {5: "the user is not registered on Viber", 6: "the user is not subscribed to the bot"}
THROTTLE_WAIT_S = 60.0
EVENT_TYPES = ["delivered", "seen", "failed", "conversation_started"]
"""Optional callbacks the hub asks for (messages and subscriptions always come)."""


class ViberConnector(PlatformConnector):
    """Viber bots, one per channel account."""

    kind = "viber"
    idempotent_sends = False

    def __init__(self, context: Any) -> None:
        super().__init__(context)
        self._http: aiohttp.ClientSession | None = None

    def routes(self) -> list[web.AbstractRouteDef]:
        """POST /hooks/viber/{key}: the callback URL of one bot."""
        return [web.post("/hooks/viber/{key}", self.webhook)]

    @property
    def http(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        return self._http

    async def close(self) -> None:
        await super().close()
        if self._http is not None:
            await self._http.close()

    async def webhook(self, request: web.Request) -> web.Response:
        """Check the signature over the raw body, queue, answer at once (403 when forged)."""
        account = self.account_for(request)
        raw = await read_body(request, MAX_CALLBACK_BYTES)
        signature = request.headers.get(SIGNATURE_HEADER, "") or request.query.get("sig", "")
        if not signature_ok(account.setting("token"), raw, signature):
            raise web.HTTPForbidden(text="bad X-Viber-Content-Signature")
        body, head = read_payload(raw, CallbackHead)
        event = head.event
        if event == "conversation_started":
            # The welcome message is the answer to this callback; nothing is stored for it.
            greeting = account.setting("greeting")
            if not greeting:
                return web.Response(text="")
            return web.json_response(
                {
                    "sender": sender(
                        account.setting("sender_name"), account.setting("sender_avatar")
                    ),
                    "type": "text",
                    "text": greeting[:TEXT_LIMIT],
                }
            )
        key = dedupe_id(head)
        if key is not None and event in ("message", "delivered", "seen", "failed"):
            await self.queue_update(account, key, body)
        else:
            log.info("viber channel %d: %s callback", account.id, event)
        return web.Response(text="")

    async def ingest(self, account: ChannelAccount, update: PlatformUpdate) -> list[Ingested]:
        parsed = parse_callback(update.body)
        if isinstance(parsed, Ignored):
            log.info("viber update %s ignored: %s", update.update_id, parsed.reason)
            return []
        if isinstance(parsed, ViberReceipt):
            return [Receipt(account.id, parsed.message_token, parsed.status, parsed.error)]
        text, attachments = await keep_linked(
            self.http, self.files, account.id, parsed.media, parsed.text, "viber"
        )
        return [
            InboundMessage(
                channel_id=account.id,
                external_user_id=parsed.user_id,
                external_message_id=parsed.message_id,
                text=text[:4000],
                attachments=tuple(attachments),
                client_name=parsed.name,
                hints=parsed.hints,
            )
        ]

    def webhook_wanted(self, account: ChannelAccount) -> bool:
        return True

    async def register_webhook(self, account: ChannelAccount, url: str) -> None:
        """set_webhook; Viber checks the address by calling it (a signed ``webhook`` event),
        which this process answers: the account is loaded before this runs."""
        await self._set_webhook(
            account,
            {"url": url, "event_types": EVENT_TYPES, "send_name": True, "send_photo": False},
        )

    async def remove_webhook(self, account: ChannelAccount) -> None:
        """set_webhook with an empty url, which is how Viber removes one."""
        await self._set_webhook(account, {"url": ""})

    async def _set_webhook(self, account: ChannelAccount, body: dict[str, Any]) -> None:
        url = f"{self.context.settings.viber_api_base.rstrip('/')}/set_webhook"
        headers = {"X-Viber-Auth-Token": account.setting("token")}
        try:
            async with self.http.post(url, json=body, headers=headers) as resp:
                answer = await resp.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise WebhookError(f"Viber unreachable: {describe(exc)}") from exc
        status = int(answer.get("status", -1)) if isinstance(answer, dict) else -1
        if status != 0:
            reason = answer.get("status_message") if isinstance(answer, dict) else None
            raise WebhookError(f"Viber: {reason or f'status {status}'}")

    async def _post(self, account: ChannelAccount, body: dict[str, Any]) -> str:
        url = f"{self.context.settings.viber_api_base.rstrip('/')}/send_message"
        headers = {"X-Viber-Auth-Token": account.setting("token")}
        try:
            async with self.http.post(url, json=body, headers=headers) as resp:
                if resp.status >= 500 or resp.status == 429:
                    raise SendLater(f"Viber answered HTTP {resp.status}")
                answer = await resp.json(content_type=None)
        except aiohttp.ClientError as exc:
            raise SendLater(f"Viber unreachable: {exc}") from exc
        status = int(answer.get("status", -1))
        if status == 0:
            return str(answer.get("message_token"))
        reason = str(answer.get("status_message") or f"status {status}")
        if status == TOO_MANY_REQUESTS:
            raise SendLater(f"Viber: {reason}", after=THROTTLE_WAIT_S)
        raise SendError(f"Viber refused: {UNREACHABLE.get(status, reason)}")

    async def deliver(self, message: OutboundMessage) -> Sent:
        account = self.account_of(message.channel_id)
        if account is None:
            raise SendError("the Viber channel is disabled")
        progress = f"parts:{self.kind}:{message.message_id}"
        state = await self.bus.redis.hgetall(progress)
        done, first = int(state.get("done", 0)), str(state.get("first", ""))
        settings = self.context.settings
        links = FileLinks(
            self.context.secret, settings.effective_public_url, settings.file_link_hours * 3600
        )
        bodies = render(
            message,
            account.setting("sender_name"),
            account.setting("sender_avatar"),
            links.absolute,
        )
        for index, body in enumerate(bodies):
            if index < done:
                continue
            token = await self._post(account, body)
            first = first or token
            await self.bus.redis.hset(progress, mapping={"done": index + 1, "first": first})
            await self.bus.redis.expire(progress, 7 * 24 * 3600)
        if not first:
            raise SendError("nothing to send")
        return Sent(first)

    async def deliver_closed(self, notice: DialogClosedNotice) -> None:
        account = self.account_of(notice.channel_id)
        if account is not None and account.setting("goodbye"):
            await self._post(
                account,
                {
                    "receiver": notice.external_user_id,
                    "sender": sender(account.setting("sender_name")),
                    "type": "text",
                    "text": account.setting("goodbye")[:TEXT_LIMIT],
                },
            )
