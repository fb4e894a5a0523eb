"""Asking a platform about an account's credentials before the hub runs it.

The console calls a kind's ``check`` (``ChannelKind.check``) when an admin saves an account and
when the channel page asks for the platform's view: Telegram's ``getMe`` and
``getWebhookInfo``, VK's ``groups.getById``, Viber's ``get_account_info``. A refusal by the
platform stops the save with a 400 naming the field; a platform that cannot be reached does not
(the admin may be setting up offline) but is said so.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp

CHECK_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class AccountCheck:
    """What the platform said of an account."""

    name: str = ""
    """The bot's or community's name, when the platform knows the account."""
    refused: str = ""
    """Why the platform refused the credentials (the console refuses the save)."""
    field: str = "token"
    """The config field a refusal concerns."""
    unreachable: str = ""
    """Why the platform could not be asked (the save goes through)."""
    webhook: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    """The platform's own view of the webhook, when it has one (Telegram's getWebhookInfo)."""

    def as_json(self) -> dict[str, Any]:
        """The check as the console sends it."""
        view = asdict(self)
        view["webhook"] = dict(self.webhook) or None
        return view


class Unreachable(Exception):
    """The platform did not answer with JSON."""


async def ask(
    url: str,
    *,
    data: Mapping[str, str] | None = None,
    json: Any = None,
    headers: Mapping[str, str] | None = None,
) -> Any:
    """POST to a platform and read its JSON answer, whatever the HTTP status (platforms put
    their refusals in the body); Unreachable when there is no such answer."""
    timeout = aiohttp.ClientTimeout(total=CHECK_TIMEOUT_S)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as http,
            http.post(url, data=data, json=json, headers=headers) as resp,
        ):
            return await resp.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise Unreachable(reason[:300]) from exc


def iso_time(unix: Any) -> str | None:
    """A platform's Unix time as ISO 8601 (None when absent)."""
    if not isinstance(unix, int | float) or unix <= 0:
        return None
    return datetime.fromtimestamp(float(unix), UTC).isoformat()


def now_iso() -> str:
    """The current time, as ISO 8601."""
    return datetime.fromtimestamp(time.time(), UTC).isoformat()
