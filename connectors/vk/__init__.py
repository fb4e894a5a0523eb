"""The VK channel: community Callback API or Bots Long Poll (see adapter.py)."""

from connectors.base import Capabilities, ChannelKind
from connectors.vk.adapter import VkConnector
from connectors.vk.parse import VkConfig
from connectors.vk.render import TEXT_LIMIT

KIND = ChannelKind(
    kind="vk",
    capabilities=Capabilities(
        label="VK", can_edit=True, receipts=True, max_text=TEXT_LIMIT, buttons=True, files=True
    ),
    config=VkConfig,
    make=VkConnector,
    secrets=frozenset({"token", "secret"}),
    webhook=True,
)
"""VK communities: read reports arrive as ``message_read`` events."""
