"""CSV import and export of a line's shared quick answers; admins and the line's managers.

The file is ``title,text`` with a header row, UTF-8 (a byte order mark is accepted). An import
checks every row before it writes anything: one bad row answers 400 naming the row (the header
is row 1) and the field, and nothing is imported. A title already on the line gets the new
text; other titles are added; answers missing from the file stay.
"""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select

from core.app_keys import SESSIONS
from core.db.answers_schema import QuickAnswer
from core.envelope import utcnow
from operator_console.answers_api import manages_line
from operator_console.answers_text import CsvError, answers_csv, check_csv
from operator_console.auth import http_error
from operator_console.bodies import path_id
from operator_console.keys import OPERATOR


def _line_id(request: web.Request) -> int:
    return path_id(request, "line_id")


async def export_answers(request: web.Request) -> web.Response:
    """GET /api/lines/{line_id}/answers.csv."""
    line_id = _line_id(request)
    async with request.app[SESSIONS]() as session:
        if not await manages_line(session, request[OPERATOR], line_id):
            raise http_error(web.HTTPForbidden, "you do not manage this line's answers")
        rows = (
            await session.execute(
                select(QuickAnswer.title, QuickAnswer.text)
                .where(QuickAnswer.line_id == line_id)
                .order_by(QuickAnswer.title, QuickAnswer.id)
            )
        ).all()
    return web.Response(
        text=answers_csv([(r.title, r.text) for r in rows]),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="answers-line-{line_id}.csv"'},
    )


async def import_answers(request: web.Request) -> web.Response:
    """POST /api/lines/{line_id}/answers.csv with the CSV as the body."""
    line_id = _line_id(request)
    try:
        rows = check_csv((await request.read()).decode("utf-8"))
    except UnicodeDecodeError:
        raise http_error(web.HTTPBadRequest, "file: not UTF-8 text") from None
    except CsvError as exc:
        return web.json_response(
            {"error": str(exc), "row": exc.row, "field": exc.field}, status=400
        )
    created = updated = 0
    now = utcnow()
    async with request.app[SESSIONS]() as session, session.begin():
        if not await manages_line(session, request[OPERATOR], line_id):
            raise http_error(web.HTTPForbidden, "you do not manage this line's answers")
        existing = {
            a.title.casefold(): a
            for a in await session.scalars(
                select(QuickAnswer).where(QuickAnswer.line_id == line_id)
            )
        }
        for row in rows:
            answer = existing.get(row.title.casefold())
            if answer is None:
                session.add(
                    QuickAnswer(
                        line_id=line_id,
                        title=row.title,
                        text=row.text,
                        created_at=now,
                        updated_at=now,
                    )
                )
                created += 1
            elif answer.text != row.text or answer.title != row.title:
                answer.title, answer.text, answer.updated_at = row.title, row.text, now
                updated += 1
    return web.json_response({"created": created, "updated": updated})


def routes() -> list[web.AbstractRouteDef]:
    """The CSV routes of shared quick answers."""
    return [
        web.get("/api/lines/{line_id}/answers.csv", export_answers),
        web.post("/api/lines/{line_id}/answers.csv", import_answers),
    ]
