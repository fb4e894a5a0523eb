"""The what-if page as a person sees it: an admin opens it from the line in the admin screen at
1280×800, halves the operators' capacity and runs it over last week's recorded dialogs; the
progress bar fills, the figures show current against proposed with the stated tolerance, the
chart of waits over the day is drawn, and applying the proposal changes the line and leaves a
routing audit record that names the simulation. A manager opens it on a 375×667 phone for
their own line only."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.async_api import Page, expect
from sqlalchemy import select

from core.db import SessionMaker
from core.db.routing_schema import RoutingAudit
from core.db.schema import Client, ClientIdentity, Dialog, Line, LineOperator, Operator
from core.envelope import utcnow
from operator_console.auth import hash_password
from tests.support.browser_fixtures import ON_SQLITE
from tests.support.console_page import DESKTOP, PHONE, bad_text_nodes, box, sign_in

NewPage = Callable[..., Awaitable[Page]]

pytestmark = [
    pytest.mark.e2e,
    ON_SQLITE,
    pytest.mark.parametrize("redis_server", ["7"], indirect=True),
    pytest.mark.timeout(120),
]


async def _seed(db: SessionMaker) -> dict[str, int]:
    """Two operators of capacity 2 on the demo line, a manager on it, and 120 dialogs of the
    last seven days, each taken at once or after a short wait and closed after ~10 minutes."""
    rng = random.Random(5)
    async with db() as s, s.begin():
        people = {
            login: Operator(
                login=login,
                name=login.title(),
                role=role,
                password_hash=hash_password("pw-" + login),
            )
            for login, role in (("olga", "operator"), ("petr", "operator"), ("mara", "manager"))
        }
        s.add_all(people.values())
        await s.flush()
        for position, login in enumerate(("olga", "petr", "mara")):
            s.add(
                LineOperator(
                    line_id=1, operator_id=people[login].id, position=position, max_open_dialogs=2
                )
            )
        day = (utcnow() - timedelta(days=7)).replace(hour=9, minute=0, second=0, microsecond=0)
        for n in range(120):
            opened = day + timedelta(days=n % 6, minutes=rng.randrange(0, 480))
            client = Client(name=f"Client {n}")
            s.add(client)
            await s.flush()
            identity = ClientIdentity(client_id=client.id, channel_id=1, external_id=f"ext-{n}")
            s.add(identity)
            await s.flush()
            assigned = opened + timedelta(seconds=rng.choice([0, 0, 5, 30, 90]))
            s.add(
                Dialog(
                    line_id=1,
                    channel_id=1,
                    client_id=client.id,
                    identity_id=identity.id,
                    operator_id=people[rng.choice(["olga", "petr"])].id,
                    status="closed",
                    opened_at=opened,
                    assigned_at=assigned,
                    first_response_at=assigned + timedelta(seconds=rng.randrange(10, 120)),
                    closed_at=assigned + timedelta(seconds=rng.randrange(300, 900)),
                    closed_by="operator",
                    outcome="answered",
                    began_in_hours=True,
                )
            )
        return {login: person.id for login, person in people.items()}


async def test_admin_runs_a_what_if_and_applies_it(
    hub: str, new_page: NewPage, db: SessionMaker, tmp_path: Path
) -> None:
    ids = await _seed(db)
    page = await new_page("admin", viewport=DESKTOP, reduced_motion="reduce")
    await sign_in(page, hub)
    await page.locator('[data-ol="admin-lines"]').click()
    link = page.locator('tr[data-line="1"] [data-ol="line-whatif"]')
    await expect(link).to_have_text("What if…")
    await link.click()
    await expect(page).to_have_url(f"{hub}/whatif?line=1")
    form = page.locator('[data-ol="whatif-form"]')
    await expect(form).to_be_visible()
    # The period defaults to the last seven days; the form is a copy of the line's setup.
    today = utcnow().date()
    await expect(page.locator('[data-ol="whatif-from"]')).to_have_value(
        (today - timedelta(days=7)).isoformat()
    )
    await expect(page.locator('[data-ol="whatif-to"]')).to_have_value(
        (today - timedelta(days=1)).isoformat()
    )
    olga_row = page.locator(f'tr[data-operator="{ids["olga"]}"]')
    await expect(olga_row.locator('[name="limit"]')).to_have_value("2")
    await page.locator('[data-ol="whatif-mode"]').select_option("sequence")
    for login in ("olga", "petr"):
        await page.locator(f'tr[data-operator="{ids[login]}"] [name="limit"]').fill("1")
    await page.locator(f'tr[data-operator="{ids["mara"]}"] [name="in_queue"]').uncheck()
    await page.locator('[data-ol="whatif-runs"]').fill("3")
    await page.locator('[data-ol="whatif-run"]').click()
    figures = page.locator('[data-ol="whatif-figures"]')
    await expect(figures).to_be_visible(timeout=30_000)
    await expect(page.locator('[data-ol="whatif-validation"]')).to_contain_text(
        "120 recorded dialogs replayed"
    )
    await expect(page.locator('[data-ol="whatif-validation"]')).to_contain_text(
        "within 20% or 10 s"
    )
    assert await figures.locator("tbody tr").count() == 10
    await expect(figures.locator('tr[data-figure="timed_out"] th')).to_have_text("Offers timed out")
    await page.wait_for_function(
        """() => { const c = document.querySelector('[data-ol="whatif-chart"]');
                   const chart = c && window.Chart && Chart.getChart(c);
                   return chart && chart.data.datasets.length === 2
                     && chart.data.datasets[0].data.some((v) => v > 0 || v === 0); }"""
    )
    chart = await box(page.locator('[data-ol="whatif-chart"]'))
    assert chart["width"] > 300 and chart["height"] > 200
    assert await bad_text_nodes(page) == []
    await page.screenshot(path=str(tmp_path / "whatif-1280x800.png"), full_page=True)
    await page.locator('[data-ol="whatif-apply"]').click()
    await expect(page.locator('[data-ol="whatif-applied"]')).to_contain_text("routing audit")
    async with db() as s:
        line = await s.get(Line, 1)
        queue = (
            await s.scalars(
                select(LineOperator)
                .where(LineOperator.line_id == 1)
                .order_by(LineOperator.position)
            )
        ).all()
        audit = (await s.scalars(select(RoutingAudit).where(RoutingAudit.event == "setup"))).all()
    assert line is not None and line.distribution == "sequence"
    # The seeded admin keeps their place; mara left the queue; the others hold one dialog.
    assert [(q.operator_id, q.max_open_dialogs) for q in queue] == [
        (1, None),
        (ids["olga"], 1),
        (ids["petr"], 1),
    ]
    assert [(a.line_id, a.reason, a.dialog_id) for a in audit] == [(1, "simulation", None)]
    assert "what-if run" in audit[0].detail


async def test_manager_on_a_phone_simulates_their_own_line_only(
    hub: str, new_page: NewPage, db: SessionMaker, tmp_path: Path
) -> None:
    await _seed(db)
    async with db() as s, s.begin():
        other = Line(key="sales", name="Sales", settings={})
        s.add(other)
        await s.flush()
        other_id = other.id
    page = await new_page(
        "manager", viewport=PHONE, reduced_motion="reduce", is_mobile=True, has_touch=True
    )
    await page.goto(f"{hub}/")
    await page.locator('[data-ol="login"]').fill("mara")
    await page.locator('[data-ol="password"]').fill("pw-mara")
    await page.locator('[data-ol="login-submit"]').click()
    await expect(page.locator('[data-ol="conn"]')).to_have_attribute("data-state", "online")
    await page.goto(f"{hub}/whatif?line={other_id}")
    await expect(page.locator('[data-ol="whatif"]')).to_contain_text("no such line")
    await page.goto(f"{hub}/whatif?line=1")
    form = page.locator('[data-ol="whatif-form"]')
    await expect(form).to_be_visible()
    shape = await box(form)
    assert shape["x"] >= 0 and shape["x"] + shape["width"] <= PHONE["width"] + 1, shape
    await page.locator('[data-ol="whatif-runs"]').fill("2")
    await page.locator('[data-ol="whatif-run"]').click()
    await expect(page.locator('[data-ol="whatif-figures"]')).to_be_visible(timeout=30_000)
    await expect(page.locator('[data-ol="whatif-apply"]')).to_have_count(0)  # admins apply
    assert await bad_text_nodes(page) == []
    await page.screenshot(path=str(tmp_path / "whatif-375x667.png"), full_page=True)
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], width
