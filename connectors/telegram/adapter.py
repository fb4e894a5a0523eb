"""Telegram's I/O through aiogram 3: webhook or long polling in, Bot API sends out.

The Bot API base URL is the ``telegram_api_base`` setting (``TelegramAPIServer.from_base``), so
tests talk to a local server that follows the Bot API.
"""

from __future__ import annotations

import asyncio
import logging
import math
from typing import TYPE_CHECKING, Any, cast

from aiohttp import web

from connectors.accounts import ChannelAccount
from connectors.linked_files import LinkedFile, keep_linked
from connectors.outbound import SendError, SendLater, Sent
from connectors.platform import Ingested, PlatformConnector, Poller
from connectors.slow_links import transfer_s
from connectors.telegram.parse import Ignored, TelegramEdit, UpdateHead, parse_update
from connectors.telegram.render import TelegramCall, render
from connectors.webhook_body import read_body, read_payload
from connectors.webhooks import WebhookError
from core.bus import Retry
from core.envelope import (
    Attachment,
    ClientEdit,
    DialogClosedNotice,
    InboundMessage,
    OutboundMessage,
    PlatformUpdate,
)
from core.limits import signature_matches

log = logging.getLogger(__name__)

API_WAIT_S = 60.0
"""How long a Bot API call may take (aiogram's own bound); a call that uploads a file gets its
transfer time on top (``connectors.slow_links``), or a large file on a slow uplink would fail at
every retry."""

if TYPE_CHECKING:
    from aiogram import Bot
    from aiogram.client.session.aiohttp import AiohttpSession

# aiogram takes seconds and over a hundred MiB to import: it is imported by the first use of a
# Telegram account (its bot, its updates, its sends), so a hub without one never pays for it.

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_UPDATE_BYTES = 1024 * 1024
MAX_DOWNLOAD = 20 * 1024 * 1024


class TelegramConnector(PlatformConnector):
    """Telegram bots, one per channel account."""

    kind = "telegram"
    idempotent_sends = False
    libraries = ("aiogram", "aiogram.client.session.aiohttp", "aiogram.client.telegram")

    def __init__(self, context: Any) -> None:
        super().__init__(context)
        self._bots: dict[int, tuple[str, Bot]] = {}

    def routes(self) -> list[web.AbstractRouteDef]:
        """POST /hooks/telegram/{key}: the webhook of one bot."""
        return [web.post("/hooks/telegram/{key}", self.webhook)]

    def bot(self, account: ChannelAccount) -> Bot:
        """The aiogram Bot of an account, made once per token."""
        token = account.setting("token")
        known = self._bots.get(account.id)
        if known is not None and known[0] == token:
            return known[1]
        bot = self._new_bot(token)
        self._bots[account.id] = (token, bot)
        if known is not None:
            asyncio.get_running_loop().create_task(known[1].session.close())
        return bot

    def _new_bot(self, token: str) -> Bot:
        from aiogram import Bot
        from aiogram.client.session.aiohttp import AiohttpSession
        from aiogram.client.telegram import TelegramAPIServer

        api = TelegramAPIServer.from_base(self.context.settings.telegram_api_base)
        return Bot(token, session=AiohttpSession(api=api, timeout=API_WAIT_S))

    async def accounts_changed(self) -> None:
        for account_id in [i for i in self._bots if i not in self.accounts.by_id]:
            _token, bot = self._bots.pop(account_id)
            await bot.session.close()

    async def close(self) -> None:
        await super().close()
        for _token, bot in self._bots.values():
            await bot.session.close()
        self._bots.clear()

    async def webhook(self, request: web.Request) -> web.Response:
        """Check the secret token, queue the update, answer at once (no database work)."""
        account = self.account_for(request)
        if account.setting("mode", "webhook") != "webhook":
            raise web.HTTPNotFound(text="this bot uses long polling")
        expected = account.setting("webhook_secret")
        given = request.headers.get(SECRET_HEADER, "")
        if not expected or not signature_matches(expected, given):
            raise web.HTTPUnauthorized(text="Unauthorized")
        raw = await read_body(request, MAX_UPDATE_BYTES)
        body, head = read_payload(raw, UpdateHead)
        await self.queue_update(account, str(head.update_id), body)
        return web.Response(text="ok")

    def poller(self, account: ChannelAccount) -> Poller | None:
        if account.setting("mode", "webhook") != "polling":
            return None
        webhook_gone = False

        async def poll_round() -> None:
            nonlocal webhook_gone
            if not webhook_gone:  # getUpdates is refused while a webhook is set
                await self.bot(account).delete_webhook(drop_pending_updates=False)
                webhook_gone = True
            await self._poll_once(account)

        return poll_round

    async def _poll_once(self, account: ChannelAccount) -> None:
        """One getUpdates with a durable offset: confirmed only after the updates are queued."""
        from aiogram.exceptions import TelegramRetryAfter

        bot = self.bot(account)
        offset_key = f"telegram:offset:{account.id}"
        timeout = int(account.config.get("poll_timeout", 25))
        stored = await self.bus.redis.get(offset_key)
        offset = int(stored) if stored else None
        try:
            updates = await bot.get_updates(offset=offset, timeout=timeout, limit=100)
        except TelegramRetryAfter as exc:
            await asyncio.sleep(exc.retry_after)
            return
        for update in updates:
            body = update.model_dump(mode="json", by_alias=True, exclude_none=True)
            await self.queue_update(account, str(update.update_id), body)
        if updates:
            await self.bus.redis.set(offset_key, updates[-1].update_id + 1)
        elif timeout == 0:
            await asyncio.sleep(1)

    def webhook_wanted(self, account: ChannelAccount) -> bool:
        return account.setting("mode", "webhook") == "webhook"

    async def register_webhook(self, account: ChannelAccount, url: str) -> None:
        """setWebhook with the account's secret_token, which every update must then carry."""
        from aiogram.exceptions import TelegramAPIError

        try:
            await self.bot(account).set_webhook(
                url, secret_token=account.setting("webhook_secret"), drop_pending_updates=False
            )
        except TelegramAPIError as exc:
            raise WebhookError(f"Telegram: {exc.message}") from exc

    async def remove_webhook(self, account: ChannelAccount) -> None:
        """deleteWebhook; a disabled account's bot is made for the call and closed after."""
        from aiogram.exceptions import TelegramAPIError

        enabled = account.id in self.accounts.by_id
        bot = self.bot(account) if enabled else self._new_bot(account.setting("token"))
        try:
            await bot.delete_webhook(drop_pending_updates=False)
        except TelegramAPIError as exc:
            raise WebhookError(f"Telegram: {exc.message}") from exc
        finally:
            if not enabled:
                await bot.session.close()

    async def ingest(self, account: ChannelAccount, update: PlatformUpdate) -> list[Ingested]:
        from aiogram.exceptions import (
            TelegramBadRequest,
            TelegramNetworkError,
            TelegramRetryAfter,
            TelegramServerError,
        )

        parsed = parse_update(update.body)
        if isinstance(parsed, Ignored):
            log.info("telegram update %s ignored: %s", update.update_id, parsed.reason)
            return []
        if isinstance(parsed, TelegramEdit):
            edit = ClientEdit(
                channel_id=account.id,
                external_user_id=str(parsed.chat_id),
                external_message_id=parsed.message_id,
                text=parsed.text,
                edited_at=parsed.edited_at,
            )
            return [edit]
        text = parsed.text
        wanted: list[LinkedFile] = []
        bot = self.bot(account)
        for ref in parsed.files:
            if ref.size > MAX_DOWNLOAD:
                text = (text + f"\n[{ref.name}: over the 20 MB a bot may download]").strip()
                continue
            try:
                file = await bot.get_file(ref.file_id)
            except TelegramBadRequest as exc:
                text = (text + f"\n[{ref.name}: could not be downloaded: {exc.message}]").strip()
                continue
            except (TelegramNetworkError, TelegramServerError, TelegramRetryAfter) as exc:
                raise Retry(f"getFile of {ref.file_id} failed: {exc}") from exc
            if file.file_path is None:
                text = (text + f"\n[{ref.name}: could not be downloaded]").strip()
                continue
            url = bot.session.api.file_url(bot.token, file.file_path)
            wanted.append(LinkedFile(url, ref.kind, ref.name, ref.size, ref.mime))
        attachments: list[Attachment] = []
        if wanted:
            # The file itself is read like every platform's linked file: its time grows with
            # its size, a refusal is a note and a server error or a stalled link a retry.
            http = await cast("AiohttpSession", bot.session).create_session()
            text, attachments = await keep_linked(
                http, self.files, account.id, wanted, text, "Telegram"
            )
        return [
            InboundMessage(
                channel_id=account.id,
                external_user_id=str(parsed.chat_id),
                external_message_id=parsed.message_id,
                text=text[:4000],
                attachments=tuple(attachments),
                client_name=parsed.name[:255],
                hints=parsed.hints,
                sent_at=parsed.sent_at,
            )
        ]

    async def deliver(self, message: OutboundMessage) -> Sent:
        account = self.account_of(message.channel_id)
        if account is None:
            raise SendError("the Telegram channel is disabled")
        bot = self.bot(account)
        # Parts already sent by an earlier attempt are skipped, so a 429 on part 3 never
        # resends parts 1 and 2.
        progress = f"parts:{self.kind}:{message.message_id}"
        state = await self.bus.redis.hgetall(progress)
        done = int(state.get("done", 0))
        first = str(state.get("first", ""))
        for index, call in enumerate(render(message)):
            if index < done:
                continue
            sent_id = await self._call(bot, int(message.external_user_id), call)
            first = first or f"{message.external_user_id}:{sent_id}"
            await self.bus.redis.hset(progress, mapping={"done": index + 1, "first": first})
            await self.bus.redis.expire(progress, 7 * 24 * 3600)
        if not first:
            raise SendError("nothing to send: the message has no text and no files")
        return Sent(first)

    async def _call(self, bot: Bot, chat_id: int, call: TelegramCall) -> int:
        from aiogram.exceptions import (
            TelegramAPIError,
            TelegramBadRequest,
            TelegramForbiddenError,
            TelegramNetworkError,
            TelegramNotFound,
            TelegramRetryAfter,
            TelegramServerError,
            TelegramUnauthorizedError,
        )
        from aiogram.types import BufferedInputFile

        try:
            if call.method == "sendMessage":
                return (await bot.send_message(chat_id, call.text)).message_id
            stored = await self.files.read(call.attachment_url)
            if stored is None:
                raise SendError(f"attachment {call.name} is no longer stored")
            upload = BufferedInputFile(stored[0], filename=call.name)
            wait = math.ceil(API_WAIT_S + transfer_s(len(stored[0])))
            if call.method == "sendPhoto":
                return (await bot.send_photo(chat_id, upload, request_timeout=wait)).message_id
            return (await bot.send_document(chat_id, upload, request_timeout=wait)).message_id
        except TelegramRetryAfter as exc:
            raise SendLater(
                f"Telegram: too many requests ({exc.message})", after=exc.retry_after
            ) from exc
        except (TelegramNetworkError, TelegramServerError) as exc:
            raise SendLater(f"Telegram: {exc.message}") from exc
        except TelegramForbiddenError as exc:
            raise SendError(f"Telegram refused: {exc.message} (the user blocked the bot?)") from exc
        except (TelegramBadRequest, TelegramNotFound, TelegramUnauthorizedError) as exc:
            raise SendError(f"Telegram refused: {exc.message}") from exc
        except TelegramAPIError as exc:
            raise SendLater(f"Telegram: {exc.message}") from exc

    async def deliver_closed(self, notice: DialogClosedNotice) -> None:
        account = self.account_of(notice.channel_id)
        goodbye = account.setting("goodbye") if account else ""
        if account is not None and goodbye:
            await self._call(
                self.bot(account),
                int(notice.external_user_id),
                TelegramCall("sendMessage", text=goodbye),
            )
