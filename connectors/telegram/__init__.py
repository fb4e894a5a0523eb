"""The Telegram channel: Bot API webhooks or long polling (see adapter.py)."""

from connectors.base import Capabilities, ChannelKind
from connectors.telegram.adapter import TelegramConnector
from connectors.telegram.check import check_bot
from connectors.telegram.parse import TelegramConfig
from connectors.telegram.render import TEXT_LIMIT
from connectors.webhooks import webhook_links

KIND = ChannelKind(
    kind="telegram",
    capabilities=Capabilities(
        label="Telegram", can_edit=True, max_text=TEXT_LIMIT, buttons=True, files=True
    ),
    config=TelegramConfig,
    make=TelegramConnector,
    secrets=frozenset({"token", "webhook_secret"}),
    webhook=True,
    links=webhook_links("telegram"),
    check=check_bot,
)
"""Telegram bots: no delivery reports for bots."""
