"""The routing what-if of a line (docs/PROTOCOL.md, "What if…").

Admins, and managers for the lines whose queue holds them, read a line's setup, run a copy of
it with changes against the recorded dialogs of a period (``operator_console.whatif_runs``),
and read the progress and the figures. An admin applies a run's proposed setup in one step;
the routing audit records that it came from that simulation.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from aiohttp import web
from pydantic import Field, model_validator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.app_keys import REDIS, SESSIONS
from core.db.routing_schema import OperatorGroup, RoutingAudit, member_lines
from core.db.schema import Line, Operator
from core.envelope import utcnow
from core.roles import READ_ONLY_ROLES, SUPERVISOR_ROLES
from operator_console.admin_lines_api import check_line
from operator_console.auth import http_error, require_role
from operator_console.bodies import Body, path_id, read_body
from operator_console.line_queue import do_replace_queue
from operator_console.page_policy import page_headers
from operator_console.pages import STATIC
from operator_console.static_files import StaticFiles
from operator_console.whatif_runs import do_start_run, read_run, run_tasks
from simulator.history import current_form
from simulator.setups import SetupForm
from simulator.synthetic import TOLERANCE_SECONDS, TOLERANCE_SHARE

MAX_DAYS = 31
"""The longest period one run replays."""


class RunBody(Body):
    """A what-if run: the period (whole days in the line's zone) and the proposed setup."""

    start: date = Field(alias="from")
    end: date = Field(alias="to")
    runs: int = Field(default=5, ge=1, le=20)
    """Seeded runs of each setup: the spread of the figures comes from them."""
    proposed: SetupForm

    @model_validator(mode="after")
    def _period(self) -> RunBody:
        if self.end < self.start:
            raise ValueError("to: the period ends before it starts")
        if (self.end - self.start).days >= MAX_DAYS:
            raise ValueError(f"to: a period is at most {MAX_DAYS} days")
        return self


async def _line(session: AsyncSession, request: web.Request) -> Line:
    """The path's line, if the caller may simulate it: 404 otherwise (a manager's other lines
    are not theirs to know of)."""
    me = require_role(request, *SUPERVISOR_ROLES)
    line = await session.get(Line, path_id(request, "line_id"))
    mine = me.role != "manager" or line is None
    if not mine and line is not None:
        mine = line.id in set(await session.scalars(member_lines(me.id)))
    if not mine:
        line = None
    if line is None:
        raise http_error(web.HTTPNotFound, "no such line")
    return line


async def whatif_setup(request: web.Request) -> web.Response:
    """GET /api/lines/{line_id}/whatif: the line's setup as the form edits it, the operators
    and groups to name, the default period (the last seven days) and the stated tolerance."""
    async with request.app[SESSIONS]() as session:
        line = await _line(session, request)
        form = await current_form(session, line)
        people = await session.scalars(
            select(Operator).where(Operator.role.not_in(READ_ONLY_ROLES)).order_by(Operator.id)
        )
        groups = await session.scalars(select(OperatorGroup).order_by(OperatorGroup.name))
        operators = [{"id": op.id, "name": op.name} for op in people]
        group_list = [{"id": g.id, "name": g.name} for g in groups]
    today = utcnow().date()
    return web.json_response(
        {
            "line": {"id": line.id, "name": line.name, "read_only": line.source == "file"},
            "current": form.model_dump(mode="json"),
            "operators": operators,
            "groups": group_list,
            "period": {
                "from": (today - timedelta(days=7)).isoformat(),
                "to": (today - timedelta(days=1)).isoformat(),
            },
            "tolerance": {"share": TOLERANCE_SHARE, "seconds": TOLERANCE_SECONDS},
            "may_apply": require_role(request, *SUPERVISOR_ROLES).role == "admin",
        }
    )


async def start_run(request: web.Request) -> web.Response:
    """POST /api/lines/{line_id}/whatif/runs: start a run; 202 with its id."""
    me = require_role(request, *SUPERVISOR_ROLES)
    body = await read_body(request, RunBody)
    async with request.app[SESSIONS]() as session:
        line = await _line(session, request)
        # The proposal is checked as the line editor checks it, before any work starts.
        check_line(body.proposed.timezone, body.proposed.settings)
        await _check_queue(session, body.proposed)
    run_id = await do_start_run(
        request.app, line, me.id, (body.start, body.end), body.runs, body.proposed
    )
    return web.json_response({"run": run_id}, status=202)


async def _check_queue(session: AsyncSession, form: SetupForm) -> None:
    """400 naming the first queue entry that is not an operator who may work, or a group."""
    people = {
        op_id: role for op_id, role in await session.execute(select(Operator.id, Operator.role))
    }
    groups = set(await session.scalars(select(OperatorGroup.id)))
    for index, item in enumerate(form.queue):
        if (
            item.operator_id is not None
            and people.get(item.operator_id, "analyst") in READ_ONLY_ROLES
        ):
            raise http_error(
                web.HTTPBadRequest,
                f"proposed.queue.{index}.operator_id: no such operator on a line",
            )
        if item.group_id is not None and item.group_id not in groups:
            raise http_error(web.HTTPBadRequest, f"proposed.queue.{index}.group_id: no such group")


async def _run_of(request: web.Request, line: Line) -> dict[str, Any]:
    run = await read_run(request.app[REDIS], request.match_info["run"])
    if run is None or run["line_id"] != line.id:
        raise http_error(web.HTTPNotFound, "no such run (runs are kept for a day)")
    return run


async def run_state(request: web.Request) -> web.Response:
    """GET /api/lines/{line_id}/whatif/runs/{run}: progress, then figures or the error."""
    async with request.app[SESSIONS]() as session:
        line = await _line(session, request)
    run = await _run_of(request, line)
    return web.json_response({key: value for key, value in run.items() if key != "by"})


async def apply_run(request: web.Request) -> web.Response:
    """POST /api/lines/{line_id}/whatif/runs/{run}/apply: the run's proposed setup becomes the
    line's (mode, settings and queue; shifts and presence are people's, not the line's)."""
    me = require_role(request, "admin")
    async with request.app[SESSIONS]() as session, session.begin():
        line = await _line(session, request)
        run = await _run_of(request, line)
        if run["state"] != "done":
            raise http_error(web.HTTPConflict, "the run has not finished")
        if line.source == "file":
            raise http_error(
                web.HTTPConflict, "this line is defined in openlines.toml; change it in the file"
            )
        form = SetupForm.model_validate(run["proposed"])
        line.settings = check_line(form.timezone, form.settings)
        line.distribution, line.timezone = form.distribution, form.timezone
        await do_replace_queue(session, line.id, form.queue)
        session.add(
            RoutingAudit(
                dialog_id=None,
                line_id=line.id,
                at=utcnow(),
                event="setup",
                mode=form.distribution,
                operator_id=me.id,
                reason="simulation",
                detail=f"what-if run {run['id']} of {run['from']}..{run['to']}",
            )
        )
    return web.json_response({"applied": run["id"]})


def install(app: web.Application) -> None:
    """The what-if page and endpoints, and the tasks its runs live in."""
    files = StaticFiles(STATIC)

    async def page(request: web.Request) -> web.Response:
        """GET /whatif: the what-if page (its data comes from the endpoints)."""
        return await files.respond(request, "whatif.html", page_headers(request))

    app.cleanup_ctx.append(run_tasks)
    app.router.add_routes(
        [
            web.get("/whatif", page),
            web.get("/api/lines/{line_id}/whatif", whatif_setup),
            web.post("/api/lines/{line_id}/whatif/runs", start_run),
            web.get("/api/lines/{line_id}/whatif/runs/{run}", run_state),
            web.post("/api/lines/{line_id}/whatif/runs/{run}/apply", apply_run),
        ]
    )
