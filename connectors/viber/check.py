"""Viber's view of a bot: ``get_account_info`` (is the token good, what is the bot called, and
which webhook Viber calls)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from config.settings import Settings
from connectors.checks import AccountCheck, Unreachable, ask

INVALID_TOKEN = 2


async def check_bot(settings: Settings, config: Mapping[str, Any], webhook: bool) -> AccountCheck:
    """get_account_info with the account's token."""
    url = f"{settings.viber_api_base.rstrip('/')}/get_account_info"
    try:
        answer = await ask(url, json={}, headers={"X-Viber-Auth-Token": str(config.get("token"))})
    except Unreachable as exc:
        return AccountCheck(unreachable=f"Viber could not be reached: {exc}")
    if not isinstance(answer, dict):
        return AccountCheck(unreachable="Viber gave no answer")
    status = int(answer.get("status", -1))
    if status != 0:
        reason = str(answer.get("status_message") or f"status {status}")
        if status == INVALID_TOKEN:
            return AccountCheck(refused=f"Viber refused the token: {reason}")
        return AccountCheck(unreachable=f"Viber: {reason}")
    name = str(answer.get("name") or "")
    hook = {"url": str(answer.get("webhook") or "")} if webhook else {}
    return AccountCheck(name=name, webhook=hook)
