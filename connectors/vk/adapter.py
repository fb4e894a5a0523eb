"""VK communities through the vk_api library: Callback API or Bots Long Poll in,
``messages.send`` out.

vk_api is synchronous (requests), so every call runs in a thread, with one ``VkApiGroup`` per
token. Its API host is hardcoded; ``ApiSession`` (``connectors.vk.api_session``) rewrites it to
the ``vk_api_base`` setting, so tests reach a local server through the real library. Operators'
files are uploaded first (photos or documents for messages; the upload POST goes through
aiohttp) and sent as the ``attachment`` of ``messages.send``; ``message_read`` events become
``seen`` receipts.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy import select

from connectors.accounts import ChannelAccount
from connectors.linked_files import keep_linked
from connectors.outbound import Receipt, SendError, SendLater, Sent
from connectors.platform import Ingested, PlatformConnector, Poller
from connectors.slow_links import transfer_s
from connectors.vk.parse import (
    API_VERSION,
    EventHead,
    Ignored,
    VkEdit,
    VkRead,
    event_key,
    parse_event,
)
from connectors.vk.render import GOODBYE_PART, TEXT_LIMIT, VkSend, as_photo, random_id, render
from connectors.webhook_body import read_body, read_payload
from core.db.schema import ClientIdentity, Dialog, Message
from core.envelope import (
    Attachment,
    ClientEdit,
    DialogClosedNotice,
    InboundMessage,
    OutboundMessage,
    PlatformUpdate,
)
from core.installation import installation_secret
from core.limits import signature_matches

log = logging.getLogger(__name__)

MAX_EVENT_BYTES = 512 * 1024
HTTP_WAIT_S = 60.0
"""How long a request of the file session may take, a file's transfer time aside."""
QUEUED_TYPES = frozenset({"message_new", "message_edit", "message_read"})
"""Events worth the consumer's time; ``message_reply`` (our own sends echoed) is not one."""
UNSEEN = ("sent", "delivered")
"""Delivery statuses a ``message_read`` moves to ``seen``."""
RETRY_LATER = {6: 1.0, 9: 10.0, 10: 5.0, 29: 600.0}
"""VK error codes that mean "not now", with how long to wait: too many requests per second,
flood control, an internal error, a rate limit."""
RANDOM_ID_SECRET = "vk_random_id"
"""The installation secret that keys ``random_id`` values (connectors.vk.render)."""
REFUSED = {
    900: "the user blacklisted the community",
    901: "the user has not allowed messages from the community",
    902: "the user's privacy settings forbid messages",
}


def _no_silent_retry(error: Any) -> None:
    """Error 6 handler: vk_api would sleep and retry without limit inside its thread; returning
    None makes it raise, and the outbound sender's bounded backoff takes over."""
    return None


class VkConnector(PlatformConnector):
    """VK communities, one per channel account."""

    kind = "vk"
    idempotent_sends = True  # random_id makes VK drop a resend of the same message
    libraries = ("vk_api",)

    def __init__(self, context: Any) -> None:
        super().__init__(context)
        self._apis: dict[int, tuple[str, Any]] = {}
        self._http: aiohttp.ClientSession | None = None
        # Long polls hold a thread for up to ``poll_wait`` seconds each; their own pool keeps
        # them from starving the default one that sends and file writes use.
        self._poll_threads = ThreadPoolExecutor(max_workers=32, thread_name_prefix="vk-poll")
        self._random_key: bytes | None = None

    async def random_key(self) -> bytes:
        """The installation's key for ``random_id`` values (read once, made on first use)."""
        if self._random_key is None:
            self._random_key = await installation_secret(self.sessions, RANDOM_ID_SECRET)
        return self._random_key

    def routes(self) -> list[web.AbstractRouteDef]:
        """POST /hooks/vk/{key}: the Callback API server of one community."""
        return [web.post("/hooks/vk/{key}", self.webhook)]

    def api(self, account: ChannelAccount) -> Any:
        """The ``VkApiGroup`` of an account, made once per token."""
        token = account.setting("token")
        known = self._apis.get(account.id)
        if known is not None and known[0] == token:
            return known[1]
        # vk_api is imported by the first VK account, so a hub without one never loads it.
        from vk_api import VkApiGroup  # type: ignore[import-untyped]

        from connectors.vk.api_session import ApiSession

        vk = VkApiGroup(
            token=token,
            api_version=API_VERSION,
            session=ApiSession(self.context.settings.vk_api_base),
        )
        vk.error_handlers[6] = _no_silent_retry
        self._apis[account.id] = (token, vk)
        return vk

    @property
    def http(self) -> aiohttp.ClientSession:
        """Downloads of users' files and uploads of operators' files."""
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=HTTP_WAIT_S))
        return self._http

    async def accounts_changed(self) -> None:
        for account_id in [i for i in self._apis if i not in self.accounts.by_id]:
            del self._apis[account_id]

    async def close(self) -> None:
        await super().close()
        if self._http is not None:
            await self._http.close()
        # A poll thread in flight ends by itself within poll_wait; nobody waits for it.
        self._poll_threads.shutdown(wait=False, cancel_futures=True)

    # --- in ----------------------------------------------------------------------------------

    async def webhook(self, request: web.Request) -> web.Response:
        """Answer a confirmation, check the secret, queue the event, answer "ok" at once."""
        account = self.account_for(request)
        if account.setting("mode", "callback") != "callback":
            raise web.HTTPNotFound(text="this community uses long polling")
        raw = await read_body(request, MAX_EVENT_BYTES)
        # VK's secret is a field of the JSON: the body is parsed (within limits) to find it.
        body, head = read_payload(raw, EventHead)
        if str(head.group_id) != account.setting("group_id"):
            raise web.HTTPForbidden(text="group_id: not this channel's community")
        if head.type == "confirmation":
            return web.Response(text=account.setting("confirmation"))
        if not signature_matches(account.setting("secret"), head.secret):
            raise web.HTTPForbidden(text="secret: wrong or missing")
        if head.type in QUEUED_TYPES:
            await self.queue_update(account, event_key(body), body)
        return web.Response(text="ok")

    def poller(self, account: ChannelAccount) -> Poller | None:
        if account.setting("mode", "callback") != "longpoll":
            return None
        session: list[Any] = []  # the VkBotLongPoll, once it got its server

        async def poll_round() -> None:
            if not session:
                session.append(await self._long_poll(account))
            await self._poll_once(account, session[0])

        return poll_round

    async def _long_poll(self, account: ChannelAccount) -> Any:
        """A Bots Long Poll session; the last ``ts`` is kept in Redis so a restart resumes."""
        from vk_api.bot_longpoll import VkBotLongPoll  # type: ignore[import-untyped]

        loop = asyncio.get_running_loop()
        vk = self.api(account)
        wait = int(account.config.get("poll_wait", 25))
        group_id = int(account.setting("group_id"))
        longpoll = await loop.run_in_executor(
            self._poll_threads, lambda: VkBotLongPoll(vk, group_id, wait=wait)
        )
        stored = await self.bus.redis.get(f"vk:ts:{account.id}")
        if stored:
            # An expired ts gets failed=1 and a fresh one, which vk_api applies.
            longpoll.ts = stored
        return longpoll

    async def _poll_once(self, account: ChannelAccount, longpoll: Any) -> None:
        """One long poll request in a thread; its events are queued, then its ``ts`` kept."""
        loop = asyncio.get_running_loop()
        events = await loop.run_in_executor(self._poll_threads, _check, longpoll)
        for body in events:
            if body.get("type") in QUEUED_TYPES:
                await self.queue_update(account, event_key(body), body)
        await self.bus.redis.set(f"vk:ts:{account.id}", str(longpoll.ts))

    async def ingest(self, account: ChannelAccount, update: PlatformUpdate) -> list[Ingested]:
        parsed = parse_event(update.body, int(account.setting("group_id") or 0))
        if isinstance(parsed, Ignored):
            log.info("vk event %s ignored: %s", update.update_id, parsed.reason)
            return []
        if isinstance(parsed, VkRead):
            return list(await self._read_receipts(account, parsed))
        if isinstance(parsed, VkEdit):
            edit = ClientEdit(
                channel_id=account.id,
                external_user_id=str(parsed.peer_id),
                external_message_id=parsed.message_id,
                text=parsed.text,
                edited_at=parsed.edited_at,
            )
            return [edit]
        text, attachments = await keep_linked(
            self.http, self.files, account.id, parsed.files, parsed.text, "VK"
        )
        return [
            InboundMessage(
                channel_id=account.id,
                external_user_id=str(parsed.peer_id),
                external_message_id=parsed.message_id,
                text=text[:4000],
                attachments=tuple(attachments),
                client_name=f"VK id{parsed.peer_id}",
                hints=parsed.hints,
                sent_at=parsed.sent_at,
            )
        ]

    async def _read_receipts(self, account: ChannelAccount, read: VkRead) -> list[Receipt]:
        """``seen`` receipts for our messages to this user that VK numbers up to the one read.

        VK reports only the last message read, so every earlier one still marked sent (or
        delivered) is seen too; the sender's receipt handling never moves a status backwards.
        """
        async with self.sessions() as session:
            rows = await session.execute(
                select(Message.external_id)
                .join(Dialog, Dialog.id == Message.dialog_id)
                .join(ClientIdentity, ClientIdentity.id == Dialog.identity_id)
                .where(
                    ClientIdentity.channel_id == account.id,
                    ClientIdentity.external_id == str(read.peer_id),
                    Message.channel_id == account.id,
                    Message.author != "client",
                    Message.external_id.is_not(None),
                    Message.delivery_status.in_(UNSEEN),
                )
            )
            external_ids = [str(row[0]) for row in rows]
        return [
            Receipt(account.id, external_id, "seen")
            for external_id in external_ids
            if external_id.isdigit() and int(external_id) <= read.read_message_id
        ]

    # --- out ---------------------------------------------------------------------------------

    async def deliver(self, message: OutboundMessage) -> Sent:
        account = self.account_of(message.channel_id)
        if account is None:
            raise SendError("the VK channel is disabled")
        calls = render(message, await self.random_key())
        if not calls:
            raise SendError("nothing to send: the message has no text and no files")
        # A retry resends every part with the same random_id and VK drops the ones it has;
        # the progress record only saves those calls.
        progress = f"parts:{self.kind}:{message.message_id}"
        state = await self.bus.redis.hgetall(progress)
        done, first = int(state.get("done", 0)), str(state.get("first", ""))
        for index, call in enumerate(calls):
            if index < done:
                continue
            sent_id = await self._send(account, call)
            first = first or sent_id
            await self.bus.redis.hset(progress, mapping={"done": index + 1, "first": first})
            await self.bus.redis.expire(progress, 7 * 24 * 3600)
        return Sent(first)

    async def _send(self, account: ChannelAccount, call: VkSend) -> str:
        """One ``messages.send``, after uploading its files (again, on a retry: the same
        ``random_id`` still makes VK drop a resend, whatever the attachment ids)."""
        values: dict[str, Any] = {
            "peer_id": call.peer_id,
            "message": call.message,
            "random_id": call.random_id,
        }
        if call.files:
            uploaded = [await self._upload(account, call.peer_id, file) for file in call.files]
            values["attachment"] = ",".join(uploaded)
        return str(await self._method(account, "messages.send", values))

    async def _upload(self, account: ChannelAccount, peer_id: int, file: Attachment) -> str:
        """Upload one stored file for a message to ``peer_id``; its ``attachment`` string.

        Images VK shows inline (JPEG, PNG, GIF) take the photo route, everything else the
        document one: get an upload url, POST the file there, save what the upload answered.
        """
        stored = await self.files.read(file.url)
        if stored is None:
            raise SendError(f"attachment {file.name or file.kind} is no longer stored")
        data, meta = stored
        name = file.name or meta.name or ("photo.jpg" if as_photo(file) else "file")
        if as_photo(file):
            server = await self._method(
                account, "photos.getMessagesUploadServer", {"peer_id": peer_id}
            )
            answer = await self._post_file(server, "photo", name, data, meta.mime)
            if not answer.get("photo") or answer.get("photo") == "[]":
                raise SendError(f"VK refused the image {name}: {_upload_reason(answer)}")
            saved = await self._method(
                account,
                "photos.saveMessagesPhoto",
                {
                    "photo": answer["photo"],
                    "server": answer.get("server"),
                    "hash": answer.get("hash"),
                },
            )
            photo = saved[0] if isinstance(saved, list) and saved else saved
            return _attachment_id("photo", photo)
        server = await self._method(
            account, "docs.getMessagesUploadServer", {"peer_id": peer_id, "type": "doc"}
        )
        answer = await self._post_file(server, "file", name, data, meta.mime)
        if not answer.get("file"):
            raise SendError(f"VK refused the file {name}: {_upload_reason(answer)}")
        saved = await self._method(account, "docs.save", {"file": answer["file"], "title": name})
        # API 5.199 answers {"type": "doc", "doc": {…}}; older versions a list of documents.
        doc = saved.get("doc") if isinstance(saved, dict) else saved[0] if saved else None
        return _attachment_id("doc", doc)

    async def _post_file(
        self, server: Any, field: str, name: str, data: bytes, mime: str
    ) -> dict[str, Any]:
        """POST a file as multipart ``field`` to the upload url an API method gave."""
        url = server.get("upload_url") if isinstance(server, dict) else None
        if not isinstance(url, str) or not url:
            raise SendLater("VK gave no upload url")
        form = aiohttp.FormData()
        form.add_field(field, data, filename=name, content_type=mime or "application/octet-stream")
        try:
            # Its transfer time on top of the wait: a large file on a slow uplink would
            # otherwise fail at every retry.
            upload = aiohttp.ClientTimeout(total=HTTP_WAIT_S + transfer_s(len(data)))
            async with self.http.post(url, data=form, timeout=upload) as resp:
                if resp.status >= 500 or resp.status == 429:
                    raise SendLater(f"VK upload answered HTTP {resp.status}")
                if resp.status != 200:
                    raise SendError(f"VK refused the upload of {name}: HTTP {resp.status}")
                answer = await resp.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise SendLater(f"VK upload failed: {exc}") from exc
        except ValueError as exc:
            raise SendLater(f"VK upload answered no JSON: {exc}") from exc
        if not isinstance(answer, dict):
            raise SendLater("VK upload answered no object")
        return answer

    async def _method(self, account: ChannelAccount, name: str, values: dict[str, Any]) -> Any:
        """One API call in a thread, its errors turned into SendLater or SendError."""
        from requests import RequestException
        from vk_api.exceptions import (  # type: ignore[import-untyped]
            ApiError,
            ApiHttpError,
            VkApiError,
        )

        vk = self.api(account)
        try:
            return await asyncio.to_thread(vk.method, name, values)
        except ApiError as exc:
            reason = str(exc.error.get("error_msg") or exc)
            if exc.code in RETRY_LATER:
                raise SendLater(f"VK: {reason}", after=RETRY_LATER[exc.code]) from exc
            raise SendError(f"VK refused: {REFUSED.get(exc.code, reason)} ({reason})") from exc
        except ApiHttpError as exc:
            raise SendLater(f"VK answered HTTP {exc.response.status_code}") from exc
        except RequestException as exc:
            raise SendLater(f"VK unreachable: {exc}") from exc
        except VkApiError as exc:  # a captcha or an auth failure: no retry will fix it
            raise SendError(f"VK refused: {exc}") from exc

    async def deliver_closed(self, notice: DialogClosedNotice) -> None:
        account = self.account_of(notice.channel_id)
        goodbye = account.setting("goodbye") if account else ""
        if account is not None and goodbye:
            # Keyed by the dialog, with a part number no message uses, so it is sent once.
            rid = random_id(await self.random_key(), notice.dialog_id, GOODBYE_PART)
            call = VkSend(int(notice.external_user_id), goodbye[:TEXT_LIMIT], rid)
            await self._send(account, call)


def _upload_reason(answer: dict[str, Any]) -> str:
    return str(answer.get("error_descr") or answer.get("error") or "empty upload answer")


def _attachment_id(kind: str, saved: Any) -> str:
    """``photo<owner>_<id>`` or ``doc<owner>_<id>`` (with ``_<access_key>`` when VK gave one)."""
    if not isinstance(saved, dict) or "owner_id" not in saved or "id" not in saved:
        raise SendError(f"VK saved the {kind} without an id")
    ident = f"{kind}{int(saved['owner_id'])}_{int(saved['id'])}"
    key = saved.get("access_key")
    return f"{ident}_{key}" if isinstance(key, str) and key else ident


def _check(longpoll: Any) -> list[dict[str, Any]]:
    """One long poll request (in a thread); vk_api itself handles failed=1/2/3."""
    return [dict(event.raw) for event in longpoll.check()]
