"""Telegram's view of a bot: ``getMe`` (is the token good, what is the bot called) and
``getWebhookInfo`` (where Telegram sends updates, and its last error doing so)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from config.settings import Settings
from connectors.checks import AccountCheck, Unreachable, ask, iso_time


async def check_bot(settings: Settings, config: Mapping[str, Any], webhook: bool) -> AccountCheck:
    """getMe, and getWebhookInfo when ``webhook`` (the channel page asks; a save does not)."""
    base = f"{settings.telegram_api_base.rstrip('/')}/bot{config.get('token', '')}"
    try:
        me = await ask(f"{base}/getMe")
        if not isinstance(me, dict) or not me.get("ok"):
            return AccountCheck(refused=f"Telegram refused the token: {_reason(me)}")
        bot = me.get("result") or {}
        name = str(bot.get("first_name") or "")
        if bot.get("username"):
            name = f"{name} (@{bot['username']})".strip()
        if not webhook:
            return AccountCheck(name=name)
        info = await ask(f"{base}/getWebhookInfo")
    except Unreachable as exc:
        return AccountCheck(unreachable=f"Telegram could not be reached: {exc}")
    result = info.get("result") if isinstance(info, dict) and info.get("ok") else None
    if not isinstance(result, dict):
        return AccountCheck(name=name, unreachable=f"getWebhookInfo failed: {_reason(info)}")
    return AccountCheck(
        name=name,
        webhook={
            "url": str(result.get("url") or ""),
            "pending_update_count": int(result.get("pending_update_count") or 0),
            "last_error": str(result.get("last_error_message") or ""),
            "last_error_at": iso_time(result.get("last_error_date")),
        },
    )


def _reason(answer: Any) -> str:
    if isinstance(answer, dict) and answer.get("description"):
        return str(answer["description"])[:300]
    return "no answer"
