"""What a connector gets from the hub: the bus, the database, settings and its data folder.

The context reads the running application's shared objects when asked, so connectors can be
created (and their webhook routes registered) before the bus and the database are up.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from config.settings import Settings
from connectors.accounts import Accounts
from connectors.attachments import AttachmentStore
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


class ContextConnector:
    """A connector built on a ``ConnectorContext``: the bus and sessions it reaches through it."""

    def __init__(self, context: ConnectorContext) -> None:
        self.context = context

    @property
    def bus(self) -> Bus:
        return self.context.bus

    @property
    def sessions(self) -> SessionMaker:
        return self.context.sessions


class AccountConnector(ContextConnector):
    """A connector that loads its own channel accounts (``accounts``) and keeps the files it
    receives and sends (``files``); the subclass's ``kind`` names its accounts."""

    kind = ""

    def __init__(self, context: ConnectorContext) -> None:
        super().__init__(context)
        self.accounts = Accounts(self.kind)
        self.files = AttachmentStore(context.data_dir)

    async def load_accounts(self) -> None:
        """Read this kind's accounts from the database now (see connectors.base.LoadsAccounts)."""
        await self.accounts.load(self.sessions)
