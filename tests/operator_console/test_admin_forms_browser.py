"""The line form as an admin uses it, at 1280×800 and 375×667: working hours set in the week
editor, holidays picked and imported, every routing setting saved and shown back after a
reload, refusals as sentences next to their field, a queue set while the line is created,
groups of operators and a line's CRM rules; the top bar stays in view throughout.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Locator, Page, expect

from tests.support.admin import ADMIN_PASSWORD
from tests.support.console_page import (
    DESKTOP,
    PHONE,
    bad_text_nodes,
    box,
    low_contrast_text,
    sign_in,
)
from tests.support.hubclient import OperatorClient, VisitorClient

NewPage = Callable[..., Awaitable[Page]]

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.parametrize("redis_server", ["7"], indirect=True),
    pytest.mark.parametrize("db_url", ["sqlite"], indirect=True),
    pytest.mark.timeout(120),
]


async def admin_get(hub: str, path: str) -> Any:
    client = OperatorClient(hub)
    try:
        await client.login("admin", ADMIN_PASSWORD)
        status, body = await client.call("GET", path)
        assert status == 200, body
        return body
    finally:
        await client.close()


async def open_line(page: Page, key: str = "demo") -> Locator:
    """The edit form of line ``key``, opened from the Lines screen."""
    if await page.locator('[data-ol="nav-toggle"]').is_visible():
        await page.locator('[data-ol="nav-toggle"]').click()
    await page.locator('[data-ol="admin-lines"]').click()
    row = page.locator("tr", has=page.locator("td", has_text=key))
    await row.locator('[data-ol="line-edit"]').click()
    form = page.locator('[data-ol="line-form"]')
    await expect(form).to_be_visible()
    return form


def field(form: Locator, path: str) -> Locator:
    return form.locator(f'[data-field="{path}"]')


async def assert_next_to(form: Locator, path: str, sentence: str) -> None:
    """The sentence shows inside the field's own box, under its input."""
    owner = field(form, path)
    error = owner.locator(':scope > [data-ol="field-error"]')
    await expect(error).to_be_visible()
    await expect(error).to_contain_text(sentence)
    outer, inner = await box(owner), await box(error)
    assert outer["y"] <= inner["y"] <= outer["y"] + outer["height"]
    assert "settings." not in (await error.text_content() or "")


async def assert_top_bar_in_view(page: Page) -> None:
    bar = await box(page.locator(".topbar"))
    screen = await box(page.locator("#app-view .screen:not([hidden])"))
    assert bar["y"] == 0 and screen["y"] >= bar["y"] + bar["height"] - 0.5
    viewport = page.viewport_size
    assert viewport is not None
    logout = await box(page.locator('[data-ol="logout"]'))
    assert logout["x"] + logout["width"] <= viewport["width"], "the top bar is cut off"


async def set_hours(form: Locator, day: str, index: int, start: str, end: str) -> None:
    interval = field(form, f"settings.schedule.week.{day}").locator('[data-ol="hours-interval"]')
    times = interval.nth(index).locator('input[type="time"]')
    await times.nth(0).fill(start)
    await times.nth(1).fill(end)


async def fill_settings(form: Locator) -> None:
    await form.locator('input[name="always-open"]').uncheck()
    monday = field(form, "settings.schedule.week.mon")
    await monday.locator('[data-ol="hours-add"]').click()
    await monday.locator('[data-ol="hours-add"]').click()
    await set_hours(form, "mon", 0, "09:00", "13:00")
    await set_hours(form, "mon", 1, "14:00", "18:00")
    await form.locator('input[name="holiday-date"]').fill("2026-12-24")
    await form.locator('[data-ol="holiday-add"]').click()
    await form.locator('select[name="holiday-country"]').select_option("DE")
    await form.locator('input[name="holiday-year"]').fill("2026")
    await form.locator('[data-ol="holiday-import"]').click()
    await expect(form.locator('[data-ol="holiday"]', has_text="Good Friday")).to_have_count(1)
    await form.locator('input[name="no_answer_seconds"]').fill("45")
    await form.locator('select[name="no_answer_action"]').select_option("requeue")
    await form.locator('textarea[name="no_answer"]').fill("Still looking for someone free.")
    await form.locator('select[name="out_of_hours"]').select_option("route")
    await form.locator('select[name="returning"]').select_option("last_operator")
    await form.locator('input[name="create_lead"]').uncheck()
    await form.locator('input[name="out_of_hours_when_offline"]').check()
    await form.locator('select[name="rating"]').select_option("stars")
    await form.locator('input[name="auto_close_minutes"]').fill("30")
    await form.locator('input[name="max_per_operator"]').fill("4")


async def assert_settings_shown_back(form: Locator) -> None:
    for name, value in [
        ("no_answer_seconds", "45"),
        ("auto_close_minutes", "30"),
        ("max_per_operator", "4"),
    ]:
        await expect(form.locator(f'input[name="{name}"]')).to_have_value(value)
    for name, value in [
        ("no_answer_action", "requeue"),
        ("out_of_hours", "route"),
        ("returning", "last_operator"),
        ("rating", "stars"),
    ]:
        await expect(form.locator(f'select[name="{name}"]')).to_have_value(value)
    await expect(form.locator('textarea[name="no_answer"]')).to_have_value(
        "Still looking for someone free."
    )
    await expect(form.locator('input[name="create_lead"]')).not_to_be_checked()
    await expect(form.locator('input[name="out_of_hours_when_offline"]')).to_be_checked()
    monday = field(form, "settings.schedule.week.mon").locator('input[type="time"]')
    assert [await t.input_value() for t in await monday.all()] == [
        "09:00",
        "13:00",
        "14:00",
        "18:00",
    ]
    holidays = form.locator('[data-ol="holiday"]')
    await expect(holidays.filter(has_text="2026-12-24")).to_have_count(1)
    await expect(holidays.filter(has_text="2026-04-03")).to_have_count(1)


async def check_refusals(page: Page, form: Locator) -> None:
    save = form.locator('[data-ol="line-save"]')
    offer = form.locator('input[name="offer_seconds"]')
    await offer.fill("5")
    await save.click()
    await assert_next_to(form, "settings.offer_seconds", "Enter 60 or more.")
    await offer.fill("60")
    await set_hours(form, "mon", 1, "12:00", "18:00")
    await save.click()
    await assert_next_to(form, "settings.schedule.week.mon", "overlap")
    await expect(field(form, "settings.offer_seconds").locator(".field-error")).to_be_hidden()
    await set_hours(form, "mon", 1, "14:00", "18:00")
    await form.locator('input[name="no_answer_seconds"]').fill("")
    await save.click()
    await assert_next_to(form, "settings.no_answer_seconds", "never sent")
    await assert_top_bar_in_view(page)


async def test_line_settings_save_show_back_and_refuse_next_to_the_field(
    hub: str, new_page: NewPage, tmp_path: Path
) -> None:
    page = await new_page("admin", viewport=DESKTOP)
    await sign_in(page, hub)
    form = await open_line(page)
    await assert_top_bar_in_view(page)
    await fill_settings(form)
    await page.screenshot(path=tmp_path / "line-form-desktop.png", full_page=True)
    await form.locator('[data-ol="line-save"]').click()
    await expect(page.locator('[data-ol="toast"]')).to_contain_text("Saved.")
    await expect(form).to_have_count(0)
    saved = (await admin_get(hub, "/api/admin/lines"))["lines"][0]["settings"]
    assert saved["schedule"]["week"] == {"mon": ["09:00-13:00", "14:00-18:00"]}
    assert saved["no_answer_seconds"] == 45 and saved["crm"]["create_lead"] is False
    assert saved["out_of_hours_when_offline"] is True

    await page.reload()
    await expect(page.locator('[data-ol="conn"]')).to_have_attribute("data-state", "online")
    form = await open_line(page)
    await assert_settings_shown_back(form)
    await check_refusals(page, form)
    assert await bad_text_nodes(page) == []
    assert await low_contrast_text(page) == []

    phone = await new_page("phone", viewport=PHONE)
    await sign_in(phone, hub)
    form = await open_line(phone)
    await assert_top_bar_in_view(phone)
    await expect(form.locator('input[name="no_answer_seconds"]')).to_have_value("45")
    await form.locator('input[name="always-open"]').uncheck()
    await field(form, "settings.schedule.week.mon").locator('[data-ol="hours-add"]').click()
    await phone.screenshot(path=tmp_path / "line-form-phone.png")
    wide = await phone.evaluate(
        "[...document.querySelectorAll('#app-view .screen:not([hidden]), html')]"
        ".filter((n) => n.scrollWidth > n.clientWidth + 1).map((n) => n.id || n.tagName)"
    )
    assert wide == [], "the form is wider than the phone"
    assert await bad_text_nodes(phone) == []
    assert await low_contrast_text(phone) == []


async def test_a_queue_groups_and_crm_rules_from_the_admin_screens(
    hub: str, new_page: NewPage
) -> None:
    page = await new_page("admin", viewport=DESKTOP)
    await sign_in(page, hub)
    # A group of operators, on the Operators screen.
    await page.locator('[data-ol="admin-operators"]').click()
    await page.locator('[data-ol="group-add"]').click()
    group_form = page.locator('[data-ol="group-form"]')
    await group_form.locator('input[name="group-name"]').fill("Night shift")
    await group_form.locator('input[name^="member-"]').first.check()
    await group_form.locator('[data-ol="group-save"]').click()
    await expect(page.locator('[data-ol="group"]', has_text="Night shift")).to_contain_text("Admin")
    await assert_top_bar_in_view(page)
    await page.locator('[data-ol="group"]', has_text="Night shift").locator(
        '[data-ol="group-edit"]').click()  # fmt: skip
    await group_form.locator('input[name="group-name"]').fill("Evening shift")
    await group_form.locator('[data-ol="group-save"]').click()
    await expect(page.locator('[data-ol="group"]')).to_have_text(["Evening shiftAdministratorEdit"])

    # A new line whose queue is set in the create form.
    await page.locator('[data-ol="admin-lines"]').click()
    await page.locator('[data-ol="admin-add"]').click()
    form = page.locator('[data-ol="line-form"]')
    await form.locator('input[name="key"]').fill("Sales Line")
    await form.locator('input[name="name"]').fill("Sales")
    await form.locator("select[aria-label='Operator or group to add']").select_option(
        label="Evening shift"
    )
    await form.locator('[data-ol="queue-add"]').click()
    await form.locator('[data-ol="line-save"]').click()
    await assert_next_to(form, "key", "lowercase letters")
    await form.locator('input[name="key"]').fill("sales")
    await form.locator('[data-ol="line-save"]').click()
    await expect(form).to_have_count(0)
    lines = {ln["key"]: ln for ln in (await admin_get(hub, "/api/admin/lines"))["lines"]}
    assert [set(q) for q in lines["sales"]["queue"]] == [{"group_id", "max_open_dialogs"}]
    # The group cannot go while the line's queue holds it; the refusal says which line.
    await page.locator('[data-ol="admin-operators"]').click()
    await page.locator('[data-ol="group-edit"]').click()
    page.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await group_form.locator('[data-ol="group-delete"]').click()
    await expect(group_form.locator('[data-ol="group-error"]')).to_have_text(
        "the queue of Sales holds this group: take it out first"
    )

    # The CRM rules of a line a client wrote to: a required field with its points, then a
    # completeness check that gives the client to the admin as a fill-in task.
    visitor = VisitorClient(hub)
    await visitor.connect()
    await visitor.say("Is the blue kettle in stock?")
    await visitor.close()
    async with asyncio.timeout(10):
        while not (await admin_get(hub, "/api/dialogs?status=all"))["dialogs"]:
            await asyncio.sleep(0.05)
    await open_line(page, "demo")
    rules = page.locator('[data-ol="required-form"]')
    await rules.locator('input[name="req-phone"]').check()
    await rules.locator('input[name="points-phone"]').fill("10")
    await rules.locator('[data-ol="required-save"]').click()
    await expect(page.locator('[data-ol="toast"]')).to_contain_text("Saved.")
    await page.locator('[data-ol="checks"] input[type="checkbox"]').first.check()
    await page.locator('[data-ol="check-run"]').click()
    await expect(page.locator('[data-ol="check"]')).to_contain_text("Administrator: 0 of 1")
    await page.reload()
    await expect(page.locator('[data-ol="conn"]')).to_have_attribute("data-state", "online")
    await open_line(page, "demo")
    await expect(rules.locator('input[name="req-phone"]')).to_be_checked()
    await expect(rules.locator('input[name="points-phone"]')).to_have_value("10")
    await expect(page.locator('[data-ol="check"]')).to_have_count(1)
    await assert_top_bar_in_view(page)
    assert await bad_text_nodes(page) == []
    assert await low_contrast_text(page) == []

    # The operator given the task finds it among their KPI figures, with what is missing.
    await page.locator('[data-ol="nav-kpi"]').click()
    await page.locator('[data-ol="kpi-tab-tasks"]').click()
    await expect(page.locator('[data-ol="task"]')).to_have_count(1)
    await expect(page.locator('[data-ol="task"]')).to_contain_text("phone")
