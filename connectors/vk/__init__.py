"""The VK channel: community Callback API or Bots Long Poll (see adapter.py)."""

from connectors.base import Capabilities, ChannelKind
from connectors.vk.adapter import VkConnector
from connectors.vk.check import check_community
from connectors.vk.parse import VkConfig
from connectors.vk.render import TEXT_LIMIT
from connectors.webhooks import webhook_links

KIND = ChannelKind(
    kind="vk",
    capabilities=Capabilities(
        label="VK", can_edit=True, receipts=True, max_text=TEXT_LIMIT, buttons=True, files=True
    ),
    config=VkConfig,
    make=VkConnector,
    secrets=frozenset({"token", "secret"}),
    webhook=True,
    links=webhook_links("vk"),
    check=check_community,
)
"""VK communities: read reports arrive as ``message_read`` events."""
