"""Request bodies of the console's API: strict models, and one way to say what is wrong."""

from __future__ import annotations

from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from core.limits import InputError, loads_limited, parse_row_id
from operator_console.auth import http_error


class Body(BaseModel):
    """A JSON request body; unknown fields are refused rather than ignored."""

    model_config = ConfigDict(extra="forbid")


B = TypeVar("B", bound=Body)
R = TypeVar("R")


def bad_request(exc: ValidationError, where: str = "") -> web.HTTPException:
    """A 400 naming the first field that is wrong, e.g. ``config.group_id: Field required``."""
    return http_error(web.HTTPBadRequest, field_problem(exc, where))


def field_problem(exc: ValidationError, where: str = "", whole: str = "body") -> str:
    """The first field that is wrong and why, e.g. ``config.group_id: Field required``;
    ``whole`` names what a problem of no one field is about."""
    first = exc.errors()[0]
    path = ".".join(str(p) for p in (where, *first["loc"]) if p != "")
    return f"{path or whole}: {first['msg']}"


async def read_body(request: web.Request, model: type[B]) -> B:
    """The request's JSON body as ``model``, or a 400 that names what is wrong."""
    try:
        return model.model_validate(loads_limited(await request.read() or b"{}"))
    except InputError as exc:
        raise http_error(web.HTTPBadRequest, f"body: {exc}") from None
    except ValidationError as exc:
        raise bad_request(exc) from exc


def path_id(request: web.Request, name: str) -> int:
    """The id in the path's ``name`` part; 404 naming the thing when no row can have it."""
    value = parse_row_id(request.match_info[name])
    if value is None:
        raise http_error(web.HTTPNotFound, f"no such {name.removesuffix('_id')}")
    return value


async def path_row(session: AsyncSession, request: web.Request, model: type[R], name: str) -> R:
    """The ``model`` row whose id is in the path's ``name`` part; 404 naming the thing (as
    ``path_id`` does) when there is no such row."""
    row = await session.get(model, path_id(request, name))
    if row is None:
        raise http_error(web.HTTPNotFound, f"no such {name.removesuffix('_id')}")
    return row


def query_id(request: web.Request, name: str, default: int | None = None) -> int | None:
    """An id or count in the query string, within the range of our id columns; 400 naming
    it when it is not one."""
    raw = request.query.get(name, "")
    if raw == "":
        return default
    value = parse_row_id(raw)
    if value is None:
        raise http_error(web.HTTPBadRequest, f"{name}: not a whole number within 32 bits")
    return value
