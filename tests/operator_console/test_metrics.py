"""What an operations team watches: /metrics in Prometheus format behind a token or on its own
port, /readyz with consumer lag and leases, and JSON log lines that carry ids, never bodies
or secrets.

One hub for the whole module (Redis 7, SQLite): a visitor writes, the operator answers, and
every test reads what that left behind.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio import Redis

from config.settings import Settings
from core import streams
from core.app_keys import REDIS, SESSIONS
from core.bus import Bus
from core.db import make_engine, make_sessionmaker, upgrade
from core.logs import ContextFilter, JsonFormatter
from operator_console import readiness
from operator_console.app import build_app
from operator_console.keys import ROUTER_SERVICE, SETTINGS
from router.worker import Router, RouterService
from tests.support.admin import ADMIN_PASSWORD
from tests.support.hubclient import OperatorClient, VisitorClient
from tests.support.servers import RedisServer, free_port

pytestmark = pytest.mark.servers

TOKEN = "scrape-token-5b1e"
SECRET = "signing-key-never-logged-0c77"
VISITOR_TEXT = "my card number is 4111-1111-1111-1111 and the plan is hidden"
CARD_PART = "4111-1111"
"""A part of the visitor's text no log may hold either. Not digits alone: a random request id
in hex holds any four digits now and then."""
REPLY_TEXT = "our confidential answer 9931"


@dataclass
class Hub:
    base: str
    metrics_base: str
    app: web.Application
    settings: Settings
    log_lines: list[str]


class _Lines(logging.Handler):
    def __init__(self, into: list[str]) -> None:
        super().__init__(logging.INFO)
        self.into = into
        self.addFilter(ContextFilter())
        self.setFormatter(JsonFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append(self.format(record))


@pytest.fixture(scope="module")
def redis7() -> Iterator[RedisServer]:
    with RedisServer("7") as server:
        yield server


@pytest.fixture(scope="module")
async def hub(redis7: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Hub]:
    """A hub whose visitor said something and whose operator answered, with JSON logs caught."""
    settings = Settings(
        redis_url=redis7.url,
        data_dir=tmp_path_factory.mktemp("metrics") / "var",
        admin_password=ADMIN_PASSWORD,
        secret_key=SECRET,
        inbound_shards=2,
        metrics_token=TOKEN,
        metrics_port=free_port(),
    )
    lines: list[str] = []
    catcher = _Lines(lines)
    root = logging.getLogger()
    level = root.level
    root.addHandler(catcher)
    root.setLevel(logging.INFO)
    server = TestServer(build_app(settings), host="127.0.0.1")
    await server.start_server()
    base = str(server.make_url("")).rstrip("/")
    try:
        await _converse(base)
        yield Hub(base, f"http://127.0.0.1:{settings.metrics_port}", server.app, settings, lines)
    finally:
        await server.close()
        root.removeHandler(catcher)
        root.setLevel(level)


async def _converse(base: str) -> None:
    admin = OperatorClient(base)
    await admin.login("admin", ADMIN_PASSWORD)
    await admin.wait_status("online")
    await admin.open_socket()
    visitor = VisitorClient(base)
    await visitor.connect()
    await visitor.say(VISITOR_TEXT)
    dialog = (await admin.receive_until("dialog"))["dialog"]
    await admin.receive_until("message")
    status, _ = await admin.call(
        "POST", f"/api/dialogs/{dialog['id']}/messages", {"text": REPLY_TEXT, "client_msg_id": "r1"}
    )
    assert status in (200, 201, 202)
    await visitor.receive_until("message", text=REPLY_TEXT)
    await visitor.close()
    await admin.close()


async def _scrape(url: str, token: str | None) -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as resp:
        return resp.status, await resp.text()


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def _value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str,
           **labels: str) -> float:  # fmt: skip
    return samples[(name, tuple(sorted(labels.items())))]


async def test_metrics_need_the_token_on_the_hub_port(hub: Hub) -> None:
    assert (await _scrape(f"{hub.base}/metrics", None))[0] == 401
    assert (await _scrape(f"{hub.base}/metrics", "wrong"))[0] == 401
    status, text = await _scrape(f"{hub.base}/metrics", TOKEN)
    assert status == 200 and "openlines_stream_length" in text
    status, text = await _scrape(f"{hub.metrics_base}/metrics", TOKEN)
    assert status == 200 and "openlines_stream_length" in text
    assert (await _scrape(f"{hub.metrics_base}/metrics", None))[0] == 401
    # The metrics port serves nothing else.
    assert (await _scrape(f"{hub.metrics_base}/healthz", TOKEN))[0] == 404


async def test_metrics_count_the_conversation_and_read_streams_and_dialogs(hub: Hub) -> None:
    samples = _samples((await _scrape(f"{hub.base}/metrics", TOKEN))[1])
    assert _value(samples, "openlines_messages_in_total", channel="1") == 1
    assert _value(samples, "openlines_messages_out_total", kind="webchat", outcome="pushed") == 1
    assert _value(samples, "openlines_visitor_to_operator_seconds_count") == 1
    assert _value(samples, "openlines_router_batch_size_count") >= 2  # message, reply
    assert _value(samples, "openlines_router_batch_seconds_count") >= 2
    # On SQLite the router's transactions run on the hub's loop unless the CRM sink's writer
    # has the turn at that moment; each one counts once, where it ran.
    on_loop = _value(samples, "openlines_router_transactions_total", ran_on="loop")
    on_thread = _value(samples, "openlines_router_transactions_total", ran_on="thread")
    assert on_loop >= 1
    assert on_loop + on_thread >= _value(samples, "openlines_router_batch_size_count")
    # Both sockets closed again.
    assert _value(samples, "openlines_websocket_connections", kind="visitor") == 0
    assert _value(samples, "openlines_websocket_connections", kind="operator") == 0
    # The dialog was taken by the admin: nobody waits; the admin is online.
    assert ("openlines_dialogs_waiting", (("line", "1"),)) not in samples
    assert _value(samples, "openlines_operators", status="online") == 1
    inbound = sum(_value(samples, "openlines_stream_length", stream=f"in.{i}") for i in (0, 1))
    assert inbound == 1
    for i in (0, 1):
        assert _value(samples, "openlines_group_pending", stream=f"in.{i}", group="router") == 0
        assert _value(samples, "openlines_group_lag", stream=f"in.{i}", group="router") == 0
        assert _value(samples, "openlines_dead_letters", stream=f"in.{i}") == 0
    assert _value(samples, "openlines_db_pool_connections", state="checked_out") >= 0


async def test_a_waiting_dialog_shows_per_line_with_its_wait(hub: Hub) -> None:
    admin = OperatorClient(hub.base)
    await admin.login("admin", ADMIN_PASSWORD)
    assert (await admin.call("POST", "/api/presence", {"status": "away"}))[0] == 202
    await admin.wait_status("away")
    await admin.close()
    visitor = VisitorClient(hub.base)
    await visitor.connect()
    await visitor.say("anyone there?")
    await visitor.receive_until("message")
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for _ in range(200):  # nobody is online, so the dialog waits once the router has it
        samples = _samples((await _scrape(f"{hub.base}/metrics", TOKEN))[1])
        if ("openlines_dialogs_waiting", (("line", "1"),)) in samples:
            break
        await asyncio.sleep(0.05)
    assert _value(samples, "openlines_dialogs_waiting", line="1") == 1
    assert _value(samples, "openlines_dialog_oldest_wait_seconds", line="1") >= 0
    assert _value(samples, "openlines_websocket_connections", kind="visitor") == 1
    await visitor.close()


async def test_readyz_lists_consumer_lag_and_the_leases_held(hub: Hub) -> None:
    async with aiohttp.ClientSession() as http, http.get(f"{hub.base}/readyz") as resp:
        body = await resp.json()
        assert resp.status == 200, body
    assert body["leases"] == ["cmd", "in.0", "in.1", "timers"]
    groups = {(c["stream"], c["group"]): c for c in body["consumers"]}
    assert groups[("in.0", "router")]["lag"] == 0
    assert groups[("cmd", "router")]["pending"] == 0


async def test_readyz_is_503_for_a_router_holding_no_lease_while_streams_have_no_holder(
    hub: Hub, redis7: RedisServer
) -> None:
    # A router that has not taken its leases (its keeper is not running) on a Redis of its own.
    redis = Redis.from_url(redis7.url.rsplit("/", 1)[0] + "/3", decode_responses=True)
    await redis.flushdb()
    engine = make_engine(hub.settings.effective_database_url)
    await upgrade(engine)
    app = web.Application()
    app[SETTINGS] = hub.settings
    app[REDIS] = redis
    app[SESSIONS] = make_sessionmaker(engine)
    bus = Bus(redis)
    app[ROUTER_SERVICE] = RouterService(Router(app[SESSIONS], bus), bus, 2, "idle-router")
    app.router.add_get("/readyz", readiness.readyz)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        url = str(server.make_url("/readyz"))
        async with aiohttp.ClientSession() as http, http.get(url) as resp:
            body = await resp.json()
            assert resp.status == 503
        assert body["leases"] == []
        assert "no lease while 4 router streams have no holder" in body["problems"][0]
        # Every stream held by someone else: this router has nothing it should hold.
        for stream in ("in.0", "in.1", "cmd", "timers"):
            lease = "lease:" + streams.stream_lease("router", stream)
            await redis.set(lease, "other-router", px=60_000)
        async with aiohttp.ClientSession() as http, http.get(url) as resp:
            assert resp.status == 200, await resp.text()
    finally:
        await server.close()
        await redis.aclose()
        await engine.dispose()


async def test_json_logs_carry_ids_and_never_bodies_or_secrets(hub: Hub) -> None:
    assert hub.log_lines
    records = [json.loads(line) for line in hub.log_lines]  # every line is one JSON object
    for forbidden in (VISITOR_TEXT, REPLY_TEXT, ADMIN_PASSWORD, SECRET, TOKEN, CARD_PART):
        assert not [line for line in hub.log_lines if forbidden in line], forbidden
    assert {"ts", "level", "logger", "msg"} <= set(records[0])
    components = {r.get("component") for r in records}
    assert components & {"router", "webchat", "console-events"}, components
    assert any("request_id" in r for r in records)


def test_the_text_format_stays_the_default() -> None:
    assert Settings().log_format == "text"
    assert Settings().metrics_port == 0 and not Settings().metrics_token.get_secret_value()


async def test_metrics_are_off_on_the_hub_port_without_a_token(tmp_path: Path) -> None:
    from operator_console import metrics_api

    app = web.Application()
    app[SETTINGS] = Settings(data_dir=tmp_path)
    app.router.add_get("/metrics", metrics_api.handler(app, separate_port=False))
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        status, text = await _scrape(str(server.make_url("/metrics")), "anything")
        assert status == 404 and "metrics_token or metrics_port" in text
    finally:
        await server.close()
