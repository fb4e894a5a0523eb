"""The Viber channel: REST bot API with a webhook (see adapter.py)."""

from connectors.base import Capabilities, ChannelKind
from connectors.viber.adapter import ViberConnector
from connectors.viber.check import check_bot
from connectors.viber.parse import ViberConfig
from connectors.viber.render import TEXT_LIMIT
from connectors.webhooks import webhook_links

KIND = ChannelKind(
    kind="viber",
    capabilities=Capabilities(
        label="Viber", receipts=True, max_text=TEXT_LIMIT, buttons=True, files=True
    ),
    config=ViberConfig,
    make=ViberConnector,
    secrets=frozenset({"token"}),
    webhook=True,
    links=webhook_links("viber"),
    check=check_bot,
)
"""Viber bots: delivered and seen reports arrive on the webhook."""
