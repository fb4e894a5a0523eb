"""Fixtures for the Telegram tests, from tests/support/telegram_fixtures.py.

- ``peer`` (function): a running ``TelegramPeer`` for the test bot (``telegram_peer.TOKEN``).
- ``hub`` (function): a whole hub whose Telegram connector talks to that peer.
"""

from __future__ import annotations

from tests.support.telegram_fixtures import (  # noqa: F401  (fixtures, found here by pytest)
    telegram_hub,
    telegram_peer,
)
