"""The web chat channel: the widget's socket in, live push out (see adapter.py)."""

from connectors.base import ChannelKind
from connectors.webchat.adapter import WebchatConnector
from connectors.webchat.config import CAPABILITIES, WebchatConfig, admin_links

KIND = ChannelKind(
    kind="webchat",
    capabilities=CAPABILITIES,
    config=WebchatConfig,
    make=WebchatConnector,
    secrets=frozenset({"site_secret"}),
    links=admin_links,
)
"""The web chat: our own widget, so no webhook; a visitor's other tabs see their messages."""
