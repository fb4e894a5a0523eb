"""VK's view of a community token: ``groups.getById`` says which community it belongs to."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from config.settings import Settings
from connectors.checks import AccountCheck, Unreachable, ask
from connectors.vk.parse import API_VERSION

AUTH_ERRORS = frozenset({5, 15, 27, 28})
"""Invalid token, access denied, and tokens of the wrong kind: the token is refused."""


async def check_community(
    settings: Settings, config: Mapping[str, Any], webhook: bool
) -> AccountCheck:
    """groups.getById with the token: it must belong to the community the config names."""
    url = f"{settings.vk_api_base.rstrip('/')}/method/groups.getById"
    values = {"access_token": str(config.get("token", "")), "v": API_VERSION}
    try:
        answer = await ask(url, data=values)
    except Unreachable as exc:
        return AccountCheck(unreachable=f"VK could not be reached: {exc}")
    error = answer.get("error") if isinstance(answer, dict) else None
    if isinstance(error, dict):
        reason = str(error.get("error_msg") or f"error {error.get('error_code')}")
        if error.get("error_code") in AUTH_ERRORS:
            return AccountCheck(refused=f"VK refused the token: {reason}")
        return AccountCheck(unreachable=f"VK: {reason}")
    groups = _groups(answer.get("response") if isinstance(answer, dict) else None)
    if not groups:
        return AccountCheck(unreachable="VK named no community for this token")
    group = groups[0]
    name = str(group.get("name") or "")
    if int(group.get("id") or 0) != int(config.get("group_id") or 0):
        return AccountCheck(
            field="group_id",
            refused=f"the token belongs to community {group.get('id')} ({name}), not this one",
        )
    return AccountCheck(name=name)


def _groups(response: Any) -> list[dict[str, Any]]:
    # API 5.199 answers {"groups": [...], "profiles": [...]}; older versions a bare list.
    items = response.get("groups") if isinstance(response, dict) else response
    return [g for g in items if isinstance(g, dict)] if isinstance(items, list) else []
