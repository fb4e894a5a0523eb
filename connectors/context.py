"""What a connector gets from the hub: the bus, the database, settings and its data folder.

The context reads the running application's shared objects when asked, so connectors can be
created (and their webhook routes registered) before the bus and the database are up.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from config.settings import Settings
from core.app_keys import BUS, SECRET_KEY, SESSIONS
from core.bus import Bus
from core.db import SessionMaker


@dataclass(frozen=True)
class ConnectorContext:
    """A connector's view of the hub."""

    app: web.Application
    settings: Settings

    @property
    def bus(self) -> Bus:
        """The bus (available once the application started)."""
        return self.app[BUS]

    @property
    def sessions(self) -> SessionMaker:
        """Database sessions (available once the application started)."""
        return self.app[SESSIONS]

    @property
    def secret(self) -> bytes:
        """The hub's signing key (visitor tokens, signed links)."""
        return self.app[SECRET_KEY]

    @property
    def data_dir(self) -> Path:
        """Where connectors keep files (attachments live under ``data_dir/attachments``)."""
        return self.settings.data_dir
