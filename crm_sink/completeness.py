"""Completeness: operators fill a client's fields and earn points; admins run checks whose
fill-in tasks go to responsible operators or evenly among chosen ones."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.crm_schema import CrmCheck, CrmContact, CrmFillTask, CrmPoints, CrmProfile
from core.db.schema import Client, Dialog
from crm_sink.actions import CrmWork
from crm_sink.contacts import normalize_email, normalize_phone
from crm_sink.rules import assign_tasks
from crm_sink.store import EMAIL, PHONE, profile_of
from crm_sink.views import missing_of, required_for


class BadField(ValueError):
    """A value an operator typed that is not a phone or an email: ``field`` names the input
    and ``sentence`` says what is wrong in words the operator reads next to it."""

    def __init__(self, field: str, sentence: str) -> None:
        super().__init__(sentence)
        self.field = field
        self.sentence = sentence


BAD_PHONE = (
    "This is not a phone number we can call. Write it with the country code, like +7 916 123-45-67."
)
BAD_EMAIL = "This is not an email address. Write it like name@example.com."


@dataclass(frozen=True)
class ClientEdit:
    """What an operator changes on a client card; None leaves a field as it is. A phone or
    email in ``remove_*`` is taken off the card; replacing one is a removal plus an addition."""

    name: str | None = None
    company: str | None = None
    add_phone: str | None = None
    add_email: str | None = None
    custom_fields: dict[str, str] = field(default_factory=dict)
    remove_phone: str | None = None
    remove_email: str | None = None


def check_contacts(edit: ClientEdit, phone_region: str | None) -> dict[str, str]:
    """The normalised phone and email an edit adds, by kind; BadField when one is not valid."""
    found: dict[str, str] = {}
    if edit.add_phone and edit.add_phone.strip():
        phone = normalize_phone(edit.add_phone, phone_region)
        if phone is None:
            raise BadField(PHONE, BAD_PHONE)
        found[PHONE] = phone
    if edit.add_email and edit.add_email.strip():
        email = normalize_email(edit.add_email)
        if email is None:
            raise BadField(EMAIL, BAD_EMAIL)
        found[EMAIL] = email
    return found


async def _do_contacts(work: CrmWork, client_id: int, edit: ClientEdit) -> None:
    session = work.session
    added = check_contacts(edit, work.phone_region)
    for kind, raw in ((PHONE, edit.remove_phone), (EMAIL, edit.remove_email)):
        if raw and raw not in added.values():
            await session.execute(
                delete(CrmContact).where(
                    CrmContact.client_id == client_id,
                    CrmContact.kind == kind,
                    CrmContact.value == raw,
                )
            )
    for kind, value in added.items():
        exists = await session.scalar(
            select(CrmContact.id).where(
                CrmContact.client_id == client_id,
                CrmContact.kind == kind,
                CrmContact.value == value,
            )
        )
        if exists is None:
            # Typed by an operator: a contact, but never a key that matches automatically.
            session.add(
                CrmContact(client_id=client_id, kind=kind, value=value, created_at=work.now)
            )


async def do_edit_client(work: CrmWork, client_id: int, edit: ClientEdit, operator_id: int) -> int:
    """Apply an operator's edit; returns the points it earned them (required fields that were
    missing and are filled now, each counted once per client)."""
    session = work.session
    required = await required_for(session, client_id)
    before = set(await missing_of(session, client_id, required))
    client = await session.get(Client, client_id)
    assert client is not None
    profile = await profile_of(session, client_id, work.now)
    if edit.name is not None:
        client.name = edit.name.strip()[:255]
    if edit.company is not None:
        profile.company = edit.company.strip()[:255]
    if edit.custom_fields:
        profile.custom_fields = {**profile.custom_fields, **edit.custom_fields}
    await _do_contacts(work, client_id, edit)
    profile.updated_at = work.now
    await session.flush()
    filled = before - set(await missing_of(session, client_id, required))
    return await _do_award(work, client_id, operator_id, {f: required[f] for f in filled})


async def _do_award(work: CrmWork, client_id: int, operator_id: int, filled: dict[str, int]) -> int:
    session = work.session
    earned = 0
    for name in sorted(filled):
        taken = await session.scalar(
            select(CrmPoints.id).where(CrmPoints.client_id == client_id, CrmPoints.field == name)
        )
        if taken is None:
            session.add(
                CrmPoints(
                    operator_id=operator_id,
                    client_id=client_id,
                    field=name,
                    points=filled[name],
                    created_at=work.now,
                )
            )
            earned += filled[name]
    await session.flush()
    return earned


async def do_run_check(
    work: CrmWork, line_id: int, operator_ids: list[int], created_by: int
) -> CrmCheck:
    """List the line's clients missing required fields and give each to an operator."""
    session = work.session
    check = CrmCheck(line_id=line_id, created_by=created_by, created_at=work.now)
    session.add(check)
    await session.flush()
    client_ids = list(
        await session.scalars(
            select(Dialog.client_id)
            .where(Dialog.line_id == line_id)
            .distinct()
            .order_by(Dialog.client_id)
        )
    )
    pending: list[tuple[int, int | None]] = []
    missing_by_client: dict[int, list[str]] = {}
    for cid in client_ids:
        profile = await session.get(CrmProfile, cid)
        if profile is not None and profile.merged_into_id is not None:
            continue
        missing = await missing_of(session, cid, await required_for(session, cid))
        if missing:
            missing_by_client[cid] = missing
            pending.append((cid, profile.responsible_id if profile else None))
    for cid, operator_id in assign_tasks(pending, operator_ids).items():
        session.add(
            CrmFillTask(
                check_id=check.id,
                client_id=cid,
                operator_id=operator_id,
                missing=missing_by_client[cid],
            )
        )
    await session.flush()
    return check


async def check_progress(session: AsyncSession, check_id: int) -> dict[str, Any]:
    """Per operator: how many clients they were given and how many are complete now."""
    tasks = list(await session.scalars(select(CrmFillTask).where(CrmFillTask.check_id == check_id)))
    total: Counter[int] = Counter()
    done: Counter[int] = Counter()
    for task in tasks:
        total[task.operator_id] += 1
        if not await missing_of(
            session, task.client_id, await required_for(session, task.client_id)
        ):
            done[task.operator_id] += 1
    return {
        "check_id": check_id,
        "operators": [
            {"operator_id": op, "total": total[op], "done": done[op]} for op in sorted(total)
        ],
    }


async def tasks_of(session: AsyncSession, operator_id: int) -> list[dict[str, Any]]:
    """An operator's fill-in tasks that are still incomplete, with what is missing now."""
    tasks = list(
        await session.scalars(
            select(CrmFillTask)
            .where(CrmFillTask.operator_id == operator_id)
            .order_by(CrmFillTask.id)
        )
    )
    out: list[dict[str, Any]] = []
    seen: set[int] = set()
    for task in tasks:
        if task.client_id in seen:
            continue
        seen.add(task.client_id)
        missing = await missing_of(
            session, task.client_id, await required_for(session, task.client_id)
        )
        if missing:
            client = await session.get(Client, task.client_id)
            out.append(
                {
                    "task_id": task.id,
                    "check_id": task.check_id,
                    "client_id": task.client_id,
                    "client_name": client.name if client else "",
                    "missing": missing,
                }
            )
    return out


async def points_by_operator(session: AsyncSession) -> dict[int, int]:
    """Points each operator has earned, for statistics."""
    rows = await session.execute(
        select(CrmPoints.operator_id, func.sum(CrmPoints.points)).group_by(CrmPoints.operator_id)
    )
    return {int(op): int(total or 0) for op, total in rows.all()}
