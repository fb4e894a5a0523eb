"""JSON log lines name the component, dialog, channel and message they concern."""

from __future__ import annotations

import json
import logging

from core.logs import COMPONENT, ContextFilter, JsonFormatter, log_context


def _line(logger: logging.Logger, message: str, *args: object) -> dict[str, object]:
    lines: list[str] = []

    class Catch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = Catch()
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter())
    logger.addHandler(handler)
    try:
        logger.warning(message, *args)
    finally:
        logger.removeHandler(handler)
    assert len(lines) == 1 and "\n" not in lines[0]
    record: dict[str, object] = json.loads(lines[0])
    return record


def test_ids_set_in_a_context_are_on_the_line_and_gone_after_it() -> None:
    logger = logging.getLogger("test.logs")
    token = COMPONENT.set("router")
    try:
        with log_context(dialog_id=7, channel_id=3, message_id=42):
            inside = _line(logger, "send %d parked", 42)
        after = _line(logger, "multi\nline")
    finally:
        COMPONENT.reset(token)
    assert inside["msg"] == "send 42 parked" and inside["level"] == "WARNING"
    assert (inside["component"], inside["dialog_id"], inside["channel_id"],
            inside["message_id"]) == ("router", 7, 3, 42)  # fmt: skip
    assert after["component"] == "router" and "dialog_id" not in after
    assert after["msg"] == "multi\nline"
