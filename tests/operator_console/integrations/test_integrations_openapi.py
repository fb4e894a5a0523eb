"""Integrations in ``/api/openapi.json``: the token scheme and scopes, the admin endpoints'
bodies, the realtime API and every event webhook."""

from __future__ import annotations

from pathlib import Path

from config.settings import Settings
from core.integration_events import HOOK_EVENTS
from operator_console.app import build_app
from operator_console.openapi import openapi_document


def test_tokens_webhooks_and_the_realtime_api_are_documented(tmp_path: Path) -> None:
    document = openapi_document(build_app(Settings(data_dir=tmp_path / "var")))
    paths = document["paths"]
    assert document["components"]["securitySchemes"]["apiToken"]["scheme"] == "bearer"
    assert paths["/api/dialogs"]["get"]["x-token-scope"] == "dialogs:read"
    assert paths["/api/dialogs/{dialog_id}/messages"]["post"]["x-token-scope"] == "messages:send"
    assert paths["/api/stats/summary"]["get"]["x-token-scope"] == "stats:read"
    assert paths["/api/crm/merges"]["post"]["x-token-scope"] == "clients:manage"
    assert "x-token-scope" not in paths["/api/admin/tokens"]["post"]
    schemas = document["components"]["schemas"]
    token_body = paths["/api/admin/tokens"]["post"]["requestBody"]["content"]["application/json"]
    scopes = schemas[token_body["schema"]["$ref"].rsplit("/", 1)[-1]]["properties"]["scopes"]
    assert "stats:read" in str(scopes)
    assert set(paths["/api/admin/webhooks/{webhook_id}"]) == {"patch", "delete"}
    assert "get" in paths["/api/admin/webhooks/{webhook_id}/deliveries"]
    realtime = paths["/api/integrations/events"]["get"]
    assert {p["name"] for p in realtime["parameters"]} == {"events", "after", "batch"}
    assert set(document["webhooks"]) == set(HOOK_EVENTS)
    hook = document["webhooks"]["client.merged"]["post"]
    assert "Openlines-Signature" in hook["description"]
