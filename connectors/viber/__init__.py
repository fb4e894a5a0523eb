"""The Viber channel: REST bot API with a webhook (see adapter.py)."""

from connectors.base import Capabilities, ChannelKind
from connectors.viber.adapter import ViberConnector
from connectors.viber.parse import ViberConfig
from connectors.viber.render import TEXT_LIMIT

KIND = ChannelKind(
    kind="viber",
    capabilities=Capabilities(
        label="Viber", receipts=True, max_text=TEXT_LIMIT, buttons=True, files=True
    ),
    config=ViberConfig,
    make=ViberConnector,
    secrets=frozenset({"token"}),
    webhook=True,
)
"""Viber bots: delivered and seen reports arrive on the webhook."""
