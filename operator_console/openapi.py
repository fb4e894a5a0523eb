"""``GET /api/openapi.json``: the OpenAPI 3.1 document of the console's API.

Paths and methods come from the application's router, so every /api route is listed as it is
served; request schemas come from the pydantic models that validate the requests, through
``model_json_schema`` (``REQUEST_BODIES`` for JSON bodies, ``QUERY_MODELS`` for query
strings). A handler that validates its body with a model is registered here next to it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from core.limits import MAX_ROW_ID, MIN_ROW_ID
from operator_console import (
    admin_lines_api,
    admin_operators_api,
    answers_api,
    api,
    channels_api,
    crm_admin_api,
    crm_api,
    groups_api,
    routing_api,
    whatif_api,
)
from operator_console.integrations import admin_api as integrations_api
from operator_console.integrations.openapi_parts import (
    TOKEN_SCHEME,
    token_security,
    webhooks_document,
)
from operator_console.kpi import board_api as kpi_board
from operator_console.kpi import coverage_api as kpi_coverage
from operator_console.kpi import plans_api as kpi_plans
from operator_console.stats import routes as stats_routes

Handler = Callable[..., Any]

REQUEST_BODIES: dict[Handler, type[BaseModel]] = {
    api.login: api.LoginBody,
    api.presence: api.PresenceBody,
    api.post_message: api.ReplyBody,
    admin_lines_api.create_line: admin_lines_api.LineBody,
    admin_lines_api.edit_line: admin_lines_api.LineEditBody,
    admin_lines_api.set_queue: admin_lines_api.QueueBody,
    admin_operators_api.create_operator: admin_operators_api.OperatorBody,
    admin_operators_api.edit_operator: admin_operators_api.OperatorEditBody,
    answers_api.create_answer: answers_api.AnswerBody,
    answers_api.update_answer: answers_api.AnswerPatch,
    channels_api.create_channel: channels_api.CreateBody,
    channels_api.edit_channel: channels_api.EditBody,
    crm_api.patch_client: crm_api.EditBody,
    crm_api.merge_clients: crm_api.PairBody,
    crm_api.not_duplicate: crm_api.PairBody,
    crm_admin_api.put_required: crm_admin_api.RequiredBody,
    crm_admin_api.run_check: crm_admin_api.CheckBody,
    groups_api.create_group: groups_api.GroupBody,
    groups_api.rename_group: groups_api.GroupBody,
    groups_api.set_members: groups_api.MembersBody,
    routing_api.transfer: routing_api.TransferBody,
    routing_api.invite: routing_api.InviteBody,
    routing_api.note: routing_api.NoteBody,
    kpi_plans.set_plan: kpi_plans.PlanBody,
    kpi_plans.set_weights: kpi_plans.WeightsBody,
    kpi_coverage.set_coverage: kpi_coverage.CoverageBody,
    whatif_api.start_run: whatif_api.RunBody,
    integrations_api.create_token: integrations_api.TokenBody,
    integrations_api.create_webhook: integrations_api.WebhookBody,
    integrations_api.edit_webhook: integrations_api.WebhookEditBody,
}
"""The model that validates each handler's JSON body."""

QUERY_MODELS: dict[Handler, type[BaseModel]] = {
    **stats_routes.QUERY_MODELS,
    kpi_board.board: kpi_board.PeriodQuery,
    kpi_board.rating: kpi_board.PeriodQuery,
    kpi_coverage.coverage: kpi_board.PeriodQuery,
}
"""The model that validates each handler's query string."""

_PATH_PARAM = re.compile(r"\{(\w+)(?::[^}]*)?\}")
_REF = "#/components/schemas/{model}"
ID_SCHEMA = {"type": "integer", "format": "int32", "minimum": MIN_ROW_ID, "maximum": MAX_ROW_ID}
"""An id in a path: the id of one of our rows, as ``bodies.path_id`` reads it."""


def _schemas() -> tuple[dict[Any, Any], dict[str, Any]]:
    models = {*REQUEST_BODIES.values(), *QUERY_MODELS.values()}
    keyed = sorted(models, key=lambda m: (m.__module__, m.__qualname__))
    refs, document = models_json_schema(
        [(model, "validation") for model in keyed], ref_template=_REF
    )
    return dict(refs), document.get("$defs", {})


def _query_value(field: dict[str, Any]) -> dict[str, Any]:
    """The schema of one query parameter: a query string has no ``null``, only an absent
    parameter, so the ``None`` of an optional field is dropped (and with it the default)."""
    shown = {k: v for k, v in field.items() if k not in ("title", "description")}
    branches = [b for b in shown.pop("anyOf", ()) if b.get("type") != "null"]
    if len(branches) == 1:
        shown.pop("default", None)
        shown.update(branches[0])
    elif branches:
        shown["anyOf"] = branches
    return shown


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(by_alias=True, ref_template=_REF)
    required = set(schema.get("required", ()))
    return [
        {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": _query_value(field),
            **({"description": field["description"]} if "description" in field else {}),
        }
        for name, field in schema.get("properties", {}).items()
    ]


def _path_parameter(name: str) -> dict[str, Any]:
    schema = ID_SCHEMA if name.endswith("_id") else {"type": "string", "minLength": 1}
    return {"name": name, "in": "path", "required": True, "schema": schema}


def _operation(route: web.AbstractRoute, path: str, refs: dict[Any, Any]) -> dict[str, Any]:
    handler = route.handler
    doc = (handler.__doc__ or "").strip().splitlines()
    operation: dict[str, Any] = {
        "operationId": f"{handler.__module__.removeprefix('operator_console.')}.{handler.__name__}",
        "summary": doc[0] if doc else "",
        "responses": {
            "200": {"description": "Success"},
            "400": {"description": "A bad request; `error` names the field"},
            "401": {"description": "Not logged in"},
            "403": {"description": "The caller's role may not do this"},
        },
    }
    parameters = [_path_parameter(name) for name in _PATH_PARAM.findall(path)]
    if handler in QUERY_MODELS:
        parameters.extend(_query_parameters(QUERY_MODELS[handler]))
    if parameters:
        operation["parameters"] = parameters
    if handler in REQUEST_BODIES:
        schema = refs[(REQUEST_BODIES[handler], "validation")]
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": schema}},
        }
    return operation


def openapi_document(app: web.Application) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every /api route of ``app``."""
    refs, schemas = _schemas()
    paths: dict[str, dict[str, Any]] = {}
    for route in app.router.routes():
        resource = route.resource
        path = resource.canonical if resource is not None else ""
        if not path.startswith("/api/") or route.method in ("HEAD", "*"):
            continue
        shown = _PATH_PARAM.sub(lambda m: "{" + m.group(1) + "}", path)
        operation = _operation(route, path, refs)
        token_security(route.method, shown, operation)
        paths.setdefault(shown, {})[route.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "Openlines console API", "version": "1"},
        "paths": dict(sorted(paths.items())),
        "webhooks": webhooks_document(),
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "openlines_session"},
                "apiToken": TOKEN_SCHEME,
            },
        },
        "security": [{"session": []}],
    }


async def serve_openapi(request: web.Request) -> web.Response:
    """GET /api/openapi.json: the OpenAPI document of this console's API."""
    return web.json_response(openapi_document(request.app))


def routes() -> list[web.AbstractRouteDef]:
    """The route of the OpenAPI document."""
    return [web.get("/api/openapi.json", serve_openapi)]
