"""Every channel the hub knows. Adding a channel adds a package and one line here."""

from __future__ import annotations

from connectors import email, telegram, viber, vk, webchat
from connectors.base import ChannelKind

KINDS: dict[str, ChannelKind] = {
    kind.kind: kind
    for kind in (
        webchat.KIND,
        telegram.KIND,
        viber.KIND,
        vk.KIND,
        email.KIND,
    )
}
"""The kinds of channel, by name, in the order their connectors start."""
