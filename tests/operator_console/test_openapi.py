"""The OpenAPI document lists every /api route the console serves, with the request schemas
of the pydantic models that validate them; no handler validates a body unregistered."""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path

from aiohttp import web

from config.settings import Settings
from operator_console.app import build_app
from operator_console.openapi import QUERY_MODELS, REQUEST_BODIES, openapi_document

BODY_READ = re.compile(r"(?:read_body|_body)\(request, (\w+)\)|_edit_body\(request\)")


def _app(tmp_path: Path) -> web.Application:
    return build_app(Settings(data_dir=tmp_path / "var"))


def test_every_api_route_is_in_the_document(tmp_path: Path) -> None:
    app = _app(tmp_path)
    document = openapi_document(app)
    assert document["openapi"].startswith("3.1")
    served = {
        (route.method.lower(), re.sub(r"\{(\w+):[^}]*\}", r"{\1}", route.resource.canonical))
        for route in app.router.routes()
        if route.resource is not None
        and route.resource.canonical.startswith("/api/")
        and route.method != "HEAD"
    }
    listed = {(method, path) for path, ops in document["paths"].items() for method in ops}
    assert served == listed
    assert ("get", "/api/openapi.json") in listed
    assert ("get", "/api/stats/dialogs.csv") in listed


def test_request_schemas_come_from_the_validating_models(tmp_path: Path) -> None:
    document = openapi_document(_app(tmp_path))
    schemas = document["components"]["schemas"]
    queue = document["paths"]["/api/admin/lines/{line_id}/queue"]["put"]
    ref = queue["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert schemas[ref.rsplit("/", 1)[-1]]["properties"]["queue"]["type"] == "array"
    report = document["paths"]["/api/stats/dialogs"]["get"]
    params = {p["name"]: p for p in report["parameters"]}
    assert {"from", "to", "line_id", "status", "sort", "order", "after", "limit"} <= set(params)
    assert params["sort"]["schema"]["enum"][0] == "started_at"
    assert params["limit"]["schema"]["maximum"] == 500
    summary = document["paths"]["/api/stats/summary"]["get"]
    assert "group_by" in {p["name"] for p in summary["parameters"]}
    assert {
        p["name"]
        for p in document["paths"]["/api/dialogs/{dialog_id}/close"]["post"].get("parameters", [])
    } == {"dialog_id"}


def test_every_handler_that_validates_a_body_is_registered(tmp_path: Path) -> None:
    app = _app(tmp_path)
    for route in app.router.routes():
        handler = route.handler
        if not inspect.isfunction(handler):
            continue
        found = BODY_READ.search(inspect.getsource(handler))
        if found is None:
            assert handler not in REQUEST_BODIES or route.method == "HEAD"
            continue
        assert handler in REQUEST_BODIES, handler.__qualname__
        model = found.group(1) or "EditBody"
        assert REQUEST_BODIES[handler].__name__ == model, handler.__qualname__
    assert all(inspect.isfunction(h) for h in QUERY_MODELS)


def test_ids_are_bounded_to_the_id_columns_and_query_parameters_never_null(tmp_path: Path) -> None:
    document = openapi_document(_app(tmp_path))
    for path, operations in document["paths"].items():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                schema = parameter["schema"]
                if parameter["in"] == "path" and parameter["name"].endswith("_id"):
                    assert schema == {
                        "type": "integer",
                        "format": "int32",
                        "minimum": -(2**31),
                        "maximum": 2**31 - 1,
                    }, path
                assert "null" not in json.dumps(schema), (path, parameter)
    daily = document["paths"]["/api/stats/daily"]["get"]
    params = {p["name"]: p["schema"] for p in daily["parameters"]}
    assert params["from"] == {"type": "string", "format": "date"}
    assert params["line_id"] == {"type": "integer", "minimum": -(2**31), "maximum": 2**31 - 1}
