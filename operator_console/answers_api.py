"""Quick answers: saved replies, personal and shared per line (docs/PROTOCOL.md).

Who may do what: everyone reads their own personal answers and the shared answers of the lines
they belong to (admins: of every line); everyone writes their own personal answers; admins
write the shared answers of any line and managers those of the lines they are on. Another
operator's personal answer is never shown, to anyone: it answers 404 like a missing one.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import Field, field_validator
from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.app_keys import SESSIONS
from core.db.answers_schema import MAX_ANSWER_TEXT, MAX_ANSWER_TITLE, QuickAnswer
from core.db.routing_schema import member_lines
from core.db.schema import Line, Operator
from core.envelope import utcnow
from core.limits import RowId
from operator_console.answers_text import MIN_SCORE, fuzzy_score, render_answer
from operator_console.api import _visible_dialog
from operator_console.auth import http_error
from operator_console.bodies import Body, path_id, query_id, read_body
from operator_console.keys import OPERATOR

LIST_LIMIT = 200


class _AnswerFields(Body):
    @field_validator("title", "text", check_fields=False)
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must not be blank")
        return value.strip() if value is not None else None


class AnswerBody(_AnswerFields):
    title: str = Field(min_length=1, max_length=MAX_ANSWER_TITLE)
    text: str = Field(min_length=1, max_length=MAX_ANSWER_TEXT)
    line_id: RowId | None = None
    """A line makes the answer shared on it; none makes it personal."""


class AnswerPatch(_AnswerFields):
    title: str | None = Field(default=None, min_length=1, max_length=MAX_ANSWER_TITLE)
    text: str | None = Field(default=None, min_length=1, max_length=MAX_ANSWER_TEXT)


def answer_json(answer: QuickAnswer, editable: bool) -> dict[str, Any]:
    """The console's view of a quick answer."""
    return {
        "id": answer.id,
        "scope": "personal" if answer.owner_id is not None else "shared",
        "line_id": answer.line_id,
        "owner_id": answer.owner_id,
        "title": answer.title,
        "text": answer.text,
        "editable": editable,
        "updated_at": answer.updated_at.isoformat(),
    }


def readable(operator: Operator) -> ColumnElement[bool]:
    """The answers ``operator`` may read: their own, and the shared ones of their lines."""
    mine = QuickAnswer.owner_id == operator.id
    if operator.role == "admin":
        return or_(mine, QuickAnswer.line_id.is_not(None))
    return or_(mine, QuickAnswer.line_id.in_(member_lines(operator.id)))


async def manages_line(session: AsyncSession, operator: Operator, line_id: int) -> bool:
    """Whether ``operator`` may write the shared answers of a line that exists."""
    if operator.role == "admin":
        return await session.get(Line, line_id) is not None
    if operator.role != "manager":
        return False
    found = await session.scalar(
        select(Line.id).where(Line.id == line_id, Line.id.in_(member_lines(operator.id)))
    )
    return found is not None


async def _may_write(session: AsyncSession, operator: Operator, answer: QuickAnswer) -> bool:
    if answer.owner_id is not None:
        return answer.owner_id == operator.id
    return answer.line_id is not None and await manages_line(session, operator, answer.line_id)


def _int_query(request: web.Request, name: str) -> int | None:
    return query_id(request, name)


async def list_answers(request: web.Request) -> web.Response:
    """GET /api/answers?q=&line=&scope=all|personal|shared."""
    operator = request[OPERATOR]
    scope = request.query.get("scope", "all")
    if scope not in ("all", "personal", "shared"):
        raise http_error(web.HTTPBadRequest, "scope: one of all, personal, shared")
    line_id = _int_query(request, "line")
    query = select(QuickAnswer).where(readable(operator))
    if scope == "personal":
        query = query.where(QuickAnswer.owner_id.is_not(None))
    elif scope == "shared":
        query = query.where(QuickAnswer.line_id.is_not(None))
    if line_id is not None:
        # The reply box of a dialog on this line: personal answers and this line's shared ones.
        query = query.where(or_(QuickAnswer.owner_id.is_not(None), QuickAnswer.line_id == line_id))
    async with request.app[SESSIONS]() as session:
        answers = list(await session.scalars(query.order_by(QuickAnswer.title, QuickAnswer.id)))
        managed = {a.line_id for a in answers if a.line_id is not None}
        managed = {x for x in managed if await manages_line(session, operator, x)}
    q = request.query.get("q", "")
    if q.strip():
        scored = [(fuzzy_score(q, a.title, a.text), a) for a in answers]
        answers = [a for s, a in sorted(scored, key=lambda p: -p[0]) if s >= MIN_SCORE]
    return web.json_response(
        {
            "answers": [
                answer_json(a, a.owner_id == operator.id or a.line_id in managed)
                for a in answers[:LIST_LIMIT]
            ]
        }
    )


async def create_answer(request: web.Request) -> web.Response:
    """POST /api/answers."""
    body = await read_body(request, AnswerBody)
    operator = request[OPERATOR]
    async with request.app[SESSIONS]() as session, session.begin():
        if body.line_id is not None and not await manages_line(session, operator, body.line_id):
            raise http_error(web.HTTPForbidden, "line_id: you do not manage this line's answers")
        now = utcnow()
        answer = QuickAnswer(
            owner_id=operator.id if body.line_id is None else None,
            line_id=body.line_id,
            title=body.title,
            text=body.text,
            created_at=now,
            updated_at=now,
        )
        session.add(answer)
    return web.json_response({"answer": answer_json(answer, True)}, status=201)


async def _writable(request: web.Request, session: AsyncSession) -> QuickAnswer:
    """The answer of the path, or 404 when the caller cannot read it, 403 when only read."""
    answer_id = path_id(request, "answer_id")
    operator = request[OPERATOR]
    answer = await session.scalar(
        select(QuickAnswer).where(QuickAnswer.id == answer_id, readable(operator))
    )
    if answer is None:
        raise http_error(web.HTTPNotFound, "no such answer")
    if not await _may_write(session, operator, answer):
        raise http_error(web.HTTPForbidden, "you may not change this answer")
    return answer


async def update_answer(request: web.Request) -> web.Response:
    """PATCH /api/answers/{id}."""
    body = await read_body(request, AnswerPatch)
    async with request.app[SESSIONS]() as session, session.begin():
        answer = await _writable(request, session)
        answer.title = body.title or answer.title
        answer.text = body.text or answer.text
        answer.updated_at = utcnow()
    return web.json_response({"answer": answer_json(answer, True)})


async def delete_answer(request: web.Request) -> web.Response:
    """DELETE /api/answers/{id}."""
    async with request.app[SESSIONS]() as session, session.begin():
        await session.delete(await _writable(request, session))
    return web.Response(status=204)


async def render_for_dialog(request: web.Request) -> web.Response:
    """GET /api/dialogs/{dialog_id}/answers/{answer_id}: the answer ready to send."""
    operator = request[OPERATOR]
    answer_id = path_id(request, "answer_id")
    async with request.app[SESSIONS]() as session:
        view = await _visible_dialog(request, session)
        answer = await session.scalar(
            select(QuickAnswer).where(QuickAnswer.id == answer_id, readable(operator))
        )
    if answer is None:
        raise http_error(web.HTTPNotFound, "no such answer")
    text = render_answer(answer.text, view.client_name, operator.name, view.line_name)
    return web.json_response({"answer_id": answer.id, "dialog_id": view.id, "text": text})


def routes() -> list[web.AbstractRouteDef]:
    """The quick answers' routes (the CSV ones are in ``answers_csv``)."""
    return [
        web.get("/api/answers", list_answers),
        web.post("/api/answers", create_answer),
        web.patch("/api/answers/{answer_id}", update_answer),
        web.delete("/api/answers/{answer_id}", delete_answer),
        web.get("/api/dialogs/{dialog_id}/answers/{answer_id}", render_for_dialog),
    ]
