"""Connections whose kernel buffers hold little, so that a client that stops reading fills
them, and the hub's own buffer, with a few frames rather than megabytes."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import aiohttp
from aiohttp.connector import AddrInfoType

from core.envelope import ReminderEvent

SMALL_BUFFER = 4096

LONG_NAME = "Анна " + "Петрова " * 250
"""A long client name makes each frame about 2 KB, so the socket's buffers fill after a few
hundred frames rather than thousands."""


def _small_socket(address: AddrInfoType) -> socket.socket:
    family, kind, proto, _name, _address = address
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SMALL_BUFFER)
    return sock


def small_session(**kwargs: Any) -> aiohttp.ClientSession:
    """A client session whose sockets take in little that the client has not read."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(socket_factory=_small_socket), **kwargs
    )


def small_sends(transport: asyncio.BaseTransport) -> None:
    """Make the kernel hold little of what the hub writes on this connection."""
    sock = transport.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SMALL_BUFFER)


def long_reminder(number: int, operator_id: int, dialog_id: int) -> ReminderEvent:
    """A reminder for ``operator_id`` whose frame is about 2 KB (``LONG_NAME``), numbered by
    its ``waited_minutes``."""
    return ReminderEvent(
        key=f"overflow-{number}",
        recipients=(operator_id,),
        dialog_id=dialog_id,
        stage="operator",
        waited_minutes=number,
        client_name=LONG_NAME,
    )
