"""Log records that say where they come from: the component, the dialog, channel and message
they concern, and the HTTP request that caused them.

The ids live in context variables, set where they become known (``log_context``): an asyncio
task copies the context it was created in, so a component's consumers and a request's handler
each carry their own. With ``log_format = "json"`` every record is one JSON object on one line;
the text format (the default) stays as it was.

What may be logged at INFO: ids, counts, stream names, reasons. Never a message body or a
secret: those are what a shared log aggregator must not receive.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Literal

COMPONENT: ContextVar[str | None] = ContextVar("component", default=None)
REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)
DIALOG_ID: ContextVar[int | None] = ContextVar("dialog_id", default=None)
CHANNEL_ID: ContextVar[int | None] = ContextVar("channel_id", default=None)
MESSAGE_ID: ContextVar[int | str | None] = ContextVar("message_id", default=None)

_Id = ContextVar[str | None] | ContextVar[int | None] | ContextVar[int | str | None]
CONTEXT_FIELDS: dict[str, _Id] = {
    "component": COMPONENT,
    "request_id": REQUEST_ID,
    "dialog_id": DIALOG_ID,
    "channel_id": CHANNEL_ID,
    "message_id": MESSAGE_ID,
}


@contextmanager
def log_context(
    *,
    dialog_id: int | None = None,
    channel_id: int | None = None,
    message_id: int | str | None = None,
) -> Iterator[None]:
    """Name the dialog, channel and message the records logged inside concern."""
    tokens = [
        (var, var.set(value))  # type: ignore[arg-type]
        for var, value in (
            (DIALOG_ID, dialog_id),
            (CHANNEL_ID, channel_id),
            (MESSAGE_ID, message_id),
        )
        if value is not None
    ]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)  # type: ignore[arg-type]


class ContextFilter(logging.Filter):
    """Copies the context's ids onto every record (as attributes, None when unknown)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Always keeps the record; only adds the ids."""
        for name, var in CONTEXT_FIELDS.items():
            setattr(record, name, var.get())
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, the known ids, the error."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(level: str, log_format: Literal["text", "json"] = "text") -> None:
    """Set up the root logger for ``openlines run``: text (the default) or JSON lines."""
    handler = logging.StreamHandler()
    handler.addFilter(ContextFilter())
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
