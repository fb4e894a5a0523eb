"""Schemathesis over the console's own ``/api/openapi.json``: every operation, fed requests
drawn from its schema (valid ones and, for the admin, invalid ones too) with a fixed seed and a
bounded number of examples, never answers 5xx nor logs a traceback. An analyst gets 403 from
every state-changing operation.

The hub runs on the test's event loop; schemathesis calls it synchronously (``requests``), so
the run happens in a worker thread while the loop serves it.

Left out for the admin: ``POST /api/logout``, which ends the session the run uses, and every
``/api/admin/operators/{operator_id}`` operation on the admin's or the analyst's own account,
which could change their password or role or disable them (other ids are fuzzed).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import APIOperation, Case, GenerationMode
from schemathesis.core.result import Err
from schemathesis.schemas import BaseSchema

from operator_console.auth import COOKIE
from tests.support.admin import ADMIN_PASSWORD
from tests.support.browser_fixtures import ON_SQLITE
from tests.support.fuzzing import assert_no_tracebacks
from tests.support.hubclient import VisitorClient

pytestmark = [ON_SQLITE, pytest.mark.parametrize("redis_server", ["7"], indirect=True)]

SEED = 20_261_130
ADMIN_EXAMPLES = 8
"""Examples per operation and generation mode for the admin (about 900 requests in all)."""
ANALYST_EXAMPLES = 3
CHANGES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
NOT_FUZZED = frozenset({("POST", "/api/logout")})
"""Operations that would end the run's own session."""
ANALYST_PASSWORD = "analyst-password-1"
EXISTING_ID = 1

Operation = APIOperation[Any, Any, Any, Any]
FuzzCase = Case[Operation]
Keep = Callable[[FuzzCase], bool]


@dataclass(frozen=True)
class Answer:
    """One fuzzed request and the hub's answer."""

    operation: str
    method: str
    path: str
    status: int
    body: str


class Console:
    """A logged-in console user seen through ``requests``, as schemathesis calls the API."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = requests.Session()
        # State-changing requests must come from our own pages (operator_console/csrf.py).
        self.http.headers["Origin"] = base

    def login(self, login: str, password: str) -> None:
        """Log in; the session cookie stays on ``http``."""
        resp = self.http.post(
            f"{self.base}/api/login", json={"login": login, "password": password}, timeout=10
        )
        assert resp.status_code == 200, resp.text

    def status(self, path: str) -> int:
        """The status of a GET of ``path``."""
        return self.http.get(f"{self.base}{path}", timeout=10).status_code

    def call(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        """A JSON call that must succeed."""
        resp = self.http.request(method, f"{self.base}{path}", json=body, timeout=10)
        assert resp.status_code in (200, 201), resp.text
        answer: dict[str, Any] = resp.json()
        return answer


def _cases(
    operation: Operation, mode: GenerationMode, cookies: dict[str, str]
) -> st.SearchStrategy[FuzzCase]:
    """Cases of ``operation``; half of them name row 1 in every id of the path, which the
    world holds (line, channel, dialog, client) or the run has made, so that they get past
    the lookup and into the handler."""
    drawn = operation.as_strategy(mode, cookies=cookies)
    ids = {p.name: EXISTING_ID for p in operation.path_parameters if p.name.endswith("_id")}
    if not ids:
        return drawn
    return drawn | operation.as_strategy(mode, cookies=cookies, path_parameters=ids)


def _fuzz(
    operation: Operation, console: Console, mode: GenerationMode, count: int, keep: Keep
) -> list[Answer]:
    answers: list[Answer] = []
    # The document names the session cookie as a security scheme; the run keeps the real one.
    cookies = {COOKIE: console.http.cookies[COOKIE]}

    @seed(SEED)
    @settings(
        max_examples=count,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(_cases(operation, mode, cookies).filter(keep))
    def send(case: FuzzCase) -> None:
        # The document also names API tokens; the run speaks as its session, not a drawn token.
        if case.headers:
            case.headers.pop("Authorization", None)
        resp = case.call(base_url=console.base, session=console.http, timeout=10)
        answers.append(
            Answer(operation.label, case.method, case.formatted_path, resp.status_code, resp.text)
        )

    try:
        send()
    except Unsatisfiable:
        # Nothing in the operation can be made invalid (no parameters, no body).
        assert mode is GenerationMode.NEGATIVE and not answers, operation.label
    return answers


def _operations(schema: BaseSchema) -> Iterator[Operation]:
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()
        operation = result.ok()
        if (operation.method.upper(), operation.path) not in NOT_FUZZED:
            yield operation


def run_schemathesis(
    console: Console, modes: list[GenerationMode], count: int, keep: Keep
) -> list[Answer]:
    """Every operation of the hub's document, ``count`` examples per mode."""
    resp = console.http.get(f"{console.base}/api/openapi.json", timeout=10)
    assert resp.status_code == 200, resp.text
    schema = schemathesis.openapi.from_dict(resp.json())
    schema.validate()
    return [
        answer
        for operation in _operations(schema)
        for mode in modes
        for answer in _fuzz(operation, console, mode, count, keep)
    ]


def documented(console: Console, methods: frozenset[str]) -> set[str]:
    """The operations of the document with one of ``methods`` that the run fuzzes."""
    document = console.http.get(f"{console.base}/api/openapi.json", timeout=10).json()
    return {
        f"{method.upper()} {path}"
        for path, operations in document["paths"].items()
        for method in operations
        if method.upper() in methods and (method.upper(), path) not in NOT_FUZZED
    }


def _sparing(*operator_ids: int) -> Keep:
    def keep(case: FuzzCase) -> bool:
        return (case.path_parameters or {}).get("operator_id") not in operator_ids

    return keep


async def _first_dialog(hub: str, admin: Console) -> None:
    """A visitor's dialog on the demo line, so that dialog 1 and client 1 exist."""
    visitor = VisitorClient(hub)
    try:
        await visitor.connect()
        await visitor.say("a dialog to fuzz")
        async with asyncio.timeout(15):
            while (await asyncio.to_thread(admin.status, f"/api/dialogs/{EXISTING_ID}")) != 200:
                await asyncio.sleep(0.1)
    finally:
        await visitor.close()


@pytest.fixture
async def consoles(hub: str) -> AsyncIterator[tuple[Console, Console, int]]:
    """The admin and an analyst, both logged in, and the analyst's id."""
    admin, analyst = Console(hub), Console(hub)
    try:
        yield await _logged_in(hub, admin, analyst)
    finally:
        admin.http.close()
        analyst.http.close()


async def _logged_in(hub: str, admin: Console, analyst: Console) -> tuple[Console, Console, int]:
    await asyncio.to_thread(admin.login, "admin", ADMIN_PASSWORD)
    created = await asyncio.to_thread(
        admin.call, "POST", "/api/admin/operators",
        {"login": "ann", "name": "Ann", "role": "analyst", "password": ANALYST_PASSWORD},
    )  # fmt: skip
    await _first_dialog(hub, admin)
    # Both log in before the run fuzzes /api/login, which counts failures per address.
    await asyncio.to_thread(analyst.login, "ann", ANALYST_PASSWORD)
    return admin, analyst, int(created["operator"]["id"])


async def test_fuzzed_api_never_answers_5xx_nor_logs_a_traceback(
    consoles: tuple[Console, Console, int], caplog: pytest.LogCaptureFixture
) -> None:
    admin, _analyst, analyst_id = consoles
    me = await asyncio.to_thread(admin.call, "GET", "/api/me")
    keep = _sparing(int(me["operator"]["id"]), analyst_id)
    modes = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
    answers = await asyncio.to_thread(run_schemathesis, admin, modes, ADMIN_EXAMPLES, keep)
    every = await asyncio.to_thread(documented, admin, CHANGES | {"GET"})
    assert {a.operation for a in answers} == every and len(every) > 60
    assert len(answers) > 800
    assert [a for a in answers if a.status >= 500] == []
    assert any(a.status == 200 for a in answers)
    assert_no_tracebacks(caplog)


async def test_fuzzed_analyst_gets_403_from_every_state_changing_operation(
    consoles: tuple[Console, Console, int], caplog: pytest.LogCaptureFixture
) -> None:
    _admin, analyst, _analyst_id = consoles
    modes = [GenerationMode.POSITIVE]
    answers = await asyncio.to_thread(
        run_schemathesis, analyst, modes, ANALYST_EXAMPLES, lambda case: True
    )
    changes = [a for a in answers if a.method in CHANGES and a.path != "/api/login"]
    changing = await asyncio.to_thread(documented, analyst, CHANGES)
    assert {a.operation for a in changes} == changing - {"POST /api/login"}
    assert len(changing) > 30
    assert [a for a in changes if a.status != 403] == []
    assert [a for a in answers if a.status >= 500] == []
    assert_no_tracebacks(caplog)
