"""What integrations add to ``/api/openapi.json``: the bearer token scheme and each
operation's scope, the realtime API's query, and the event webhooks (OpenAPI 3.1 ``webhooks``).
"""

from __future__ import annotations

from typing import Any

from core.envelope import IntegrationEvent
from core.integration_events import HOOK_EVENTS
from operator_console.integrations.signing import EVENT_HEADER, EVENT_ID_HEADER, SIGNATURE_HEADER
from operator_console.integrations.tokens import ANY_TOKEN, EVENT_SCOPES, SCOPES, scope_needed
from operator_console.live import BATCH_MOST

TOKEN_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "description": "An API token made by an admin (`olt_…`); it acts as that admin, narrowed "
    f"to its scopes: {', '.join(SCOPES)}. `x-token-scope` on an operation names the scope it "
    "needs; an operation without it is closed to tokens.",
}

EVENT_BODY: dict[str, Any] = {
    "type": "object",
    "required": ["id", "type", "version", "created_at", "data"],
    "properties": {
        "id": {"type": "string", "description": "Event id: the same for a repeat; dedupe on it"},
        "type": {"type": "string", "enum": list(HOOK_EVENTS)},
        "version": {"type": "integer", "const": IntegrationEvent.model_fields["v"].default},
        "created_at": {"type": "string", "format": "date-time"},
        "data": {"type": "object"},
    },
}
"""The JSON of one event, in a webhook's body and in a realtime frame."""


def token_security(method: str, path: str, operation: dict[str, Any]) -> None:
    """Mark ``operation`` open to API tokens, with the scope it needs, when it is."""
    scope = scope_needed(method.upper(), path)
    if scope is None:
        return
    operation["security"] = [{"session": []}, {"apiToken": []}]
    operation["x-token-scope"] = "any" if scope == ANY_TOKEN else scope
    if path == "/api/integrations/events":
        operation["description"] = (
            "A websocket (upgrade with an API token). The first frame is "
            '`{"type": "ready", "events": [...]}`; each further frame is one event as '
            "webhooks receive it plus `stream_id`. Reconnect with `after=<stream_id>` of the "
            "last frame handled to receive what was missed. With `batch=1` each websocket "
            f"message is a JSON array of such frames, in order, up to {BATCH_MOST}: a burst "
            "in one message. Events need these scopes: "
            + ", ".join(f"{e}: {s}" for e, s in EVENT_SCOPES.items())
        )
        operation["parameters"] = [
            {"name": "events", "in": "query", "required": False,
             "schema": {"type": "string"},
             "description": "Comma-separated event names; default: all the token may hear"},
            {"name": "after", "in": "query", "required": False,
             "schema": {"type": "string", "pattern": r"^\d{1,20}-\d{1,20}$"}},
            {"name": "batch", "in": "query", "required": False,
             "schema": {"type": "string", "enum": ["0", "1"]},
             "description": "1: each message is a list of frames"},
        ]  # fmt: skip


def webhooks_document() -> dict[str, Any]:
    """The ``webhooks`` section: one signed POST per event type."""
    headers = {
        SIGNATURE_HEADER: "t=<unix seconds>,v1=<hex HMAC-SHA256 of '<t>.<body>' under the "
        "webhook's secret>; refuse a t older than 5 minutes",
        EVENT_HEADER: "the event's type",
        EVENT_ID_HEADER: "the event's id",
    }
    return {
        event: {
            "post": {
                "summary": f"{event}: sent to webhooks subscribed to it",
                "description": "Headers: "
                + "; ".join(f"`{k}`: {v}" for k, v in headers.items())
                + ". Any 2xx acknowledges; 5xx, 408, 429 or no answer is retried with "
                "growing waits; another 4xx is not retried.",
                "requestBody": {"content": {"application/json": {"schema": EVENT_BODY}}},
                "responses": {"200": {"description": "Received"}},
            }
        }
        for event in HOOK_EVENTS
    }
