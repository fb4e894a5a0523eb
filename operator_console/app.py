"""Builds the hub's aiohttp application and starts the components of the chosen role.

Everything shared lives under typed app keys and is created and torn down in ``cleanup_ctx``;
background components run as tasks held by the application until shutdown.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

from aiohttp import web
from redis.asyncio import Redis

from config.lines import load_lines_file
from config.settings import Settings, config_path
from connectors.context import ConnectorContext
from connectors.registry import KINDS
from connectors.webchat.cross_origin import allow_any_site
from core import streams
from core.app_keys import BUS, REDIS, SECRET_KEY, SESSIONS
from core.backoff import Backoff
from core.bus import Bus, BusConfig
from core.consumer_stop import stop_consumers
from core.db import (
    at_head,
    check_not_newer,
    is_sqlite,
    make_engine,
    make_sessionmaker,
    upgrade,
)
from core.db.recount import FigureRecounter
from core.db.writer import DbWriter
from core.key_upgrade import do_rename_old_keys
from core.logs import COMPONENT
from core.metrics import HubMetrics
from core.outage import REDIS_DOWN
from core.redis_connect import connect, is_cluster, load_cluster_map, quiet_read_ms
from core.redis_eviction import eviction_risk
from core.redis_server import EmbeddedRedis
from core.timers import Timers
from crm_sink import CrmSink, make_adapter
from operator_console import (
    admin_api,
    answers_api,
    answers_csv,
    api,
    attachments_api,
    channels_api,
    client_history_api,
    conversation_api,
    crm_admin_api,
    crm_api,
    files_api,
    kpi,
    metrics_api,
    openapi,
    pages,
    readiness,
    reopen_api,
    routing_api,
    search_api,
    typing_api,
    whatif_api,
)
from operator_console.auth import refuse_read_only, require_session, session_cache
from operator_console.csrf import refuse_cross_site
from operator_console.dialog_status import dialog_status_reader
from operator_console.digest import WeeklyDigest
from operator_console.integrations import admin_api as integrations_api
from operator_console.integrations import realtime
from operator_console.integrations.dispatch import WebhookSender
from operator_console.keys import (
    CHANNELS,
    FIRST_LOGIN,
    LOGIN_GUARD,
    METRICS,
    ROUTER_SERVICE,
    SETTINGS,
)
from operator_console.lines_file import do_apply_lines_file
from operator_console.live import HUB, OperatorHub
from operator_console.load import LOAD_PUSHER, LoadPusher
from operator_console.load import api as load_api
from operator_console.login_guard import LoginGuard, LoginLimits
from operator_console.operator_socket import operator_socket
from operator_console.proxies import TRUSTED_PROXIES, behind_proxies
from operator_console.redis_down import redis_unavailable
from operator_console.request_ids import request_ids
from operator_console.seed import do_seed
from operator_console.socket_budget import SocketBudget, raise_open_file_limit, socket_allowance
from operator_console.stats import routes as stats_routes
from operator_console.vendor_files import vendor_routes
from router.group_commit import Gathering
from router.worker import Router, RouterService

log = logging.getLogger(__name__)

TASKS = web.AppKey("tasks", list[asyncio.Task[None]])
ROLE = web.AppKey("role", str)


def load_secret(settings: Settings) -> bytes:
    """The key that signs visitor tokens: from settings, or kept in data_dir."""
    if settings.secret_key.get_secret_value():
        return settings.secret_key.get_secret_value().encode()
    path = settings.data_dir / "secret_key"
    if not path.exists():
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    return path.read_text().strip().encode()


async def _redis(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    embedded: EmbeddedRedis | None = None
    url = settings.redis_url
    if not url:
        embedded = EmbeddedRedis(settings.data_dir / "redis", settings.redis_appendfsync)
        await embedded.start()
        url = embedded.url
    client = connect(url, settings.redis_max_connections)
    if is_cluster(client):
        await load_cluster_map(client)
    else:
        await _rename_old_keys(client)
        if embedded is None and (risk := await eviction_risk(client)) is not None:
            log.error("%s", risk)
    app[REDIS] = client
    app[METRICS] = HubMetrics()
    app[BUS] = Bus(
        client,
        BusConfig(
            batch_size=settings.batch_size,
            block_ms=quiet_read_ms(client, settings.bus_block_ms),
            claim_idle_ms=settings.claim_idle_ms,
            max_deliveries=settings.max_deliveries,
            maxlen=settings.stream_maxlen,
            # WAIT counts the writes of its own connection; a cluster client's keyless WAIT
            # would go to whichever node, so on a cluster "accepted" waits for no replica.
            replica_wait_ms=0 if is_cluster(client) else settings.redis_wait_replicas_ms,
        ),
        app[METRICS],
    )
    try:
        yield
    finally:
        await client.aclose()
        if embedded is not None:
            await embedded.stop()


async def _rename_old_keys(client: Redis) -> None:
    # Before any component reads: they would otherwise start on empty keys of the new names.
    try:
        await do_rename_old_keys(client)
    except REDIS_DOWN as exc:
        log.warning("Redis keys not checked for old names (Redis unreachable: %s)", exc)


async def _database(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.effective_database_url)
    try:
        # A newer version's schema would be silently misread; refuse it before touching it.
        # At the heads already (a warm start): neither check nor upgrade needs Alembic.
        if not await at_head(engine):
            await check_not_newer(engine)
            await upgrade(engine)
    except BaseException:
        await engine.dispose()
        raise
    app[SESSIONS] = make_sessionmaker(engine)
    password = await do_seed(
        app[SESSIONS], settings.admin_login, settings.admin_password.get_secret_value()
    )
    # [[lines]] of openlines.toml, every start; a bad file stops the start, naming the field.
    await do_apply_lines_file(app[SESSIONS], load_lines_file(config_path()))
    if password is not None:
        app[FIRST_LOGIN] = f"{settings.admin_login} / {password}  (shown once: keep it)"
    else:
        app[FIRST_LOGIN] = f"{settings.admin_login} (password set at first start)"
    try:
        yield
    finally:
        await engine.dispose()


async def _wire(app: web.Application) -> AsyncIterator[None]:
    # Objects that need the bus and the database exist only once those are up.
    settings = app[SETTINGS]
    app[HUB] = OperatorHub(
        app[BUS],
        grace=timedelta(seconds=settings.presence_grace_s),
        auto_away=timedelta(minutes=settings.auto_away_minutes)
        if settings.auto_away_minutes
        else None,
    )
    app[LOAD_PUSHER] = LoadPusher(app[HUB], app[SESSIONS])
    app[SECRET_KEY] = load_secret(app[SETTINGS])
    settings = app[SETTINGS]
    limits = LoginLimits(
        settings.login_max_failures, settings.login_max_failures_per_ip, settings.login_lock_seconds
    )
    app[LOGIN_GUARD] = LoginGuard(app[REDIS], limits)
    yield


async def _components(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    bus = app[BUS]
    role = app[ROLE]
    name = streams.consumer_name(role)
    jobs: list[tuple[str, Callable[[], Awaitable[None]]]] = []
    writers: list[DbWriter] = []
    if role in ("all", "router"):
        # The router is the only writer of dialogs and messages: its batches run with a
        # synchronous driver, on SQLite on this loop whenever they can start at once, else on
        # the writer's thread (core/db/writer.py). Visitors wait on its batches: on SQLite they
        # go before the sink's.
        writer = DbWriter(
            settings.effective_database_url, urgent=True, inline=True, checkpoints=True
        )
        writers.append(writer)
        gathering = (
            Gathering(settings.router_gather_ms / 1000, settings.router_gather_per_s)
            if settings.router_gather_ms
            else None
        )
        router = Router(app[SESSIONS], bus, writer=writer, gathering=gathering)
        if role == "all":
            router.committed = app[HUB].dispatch_committed
        service = RouterService(
            router,
            bus,
            settings.inbound_shards,
            name,
            settings.lease_ttl_ms,
            share_out=not is_sqlite(settings.effective_database_url),
        )
        app[ROUTER_SERVICE] = service
        jobs.append(("router", service.run))
        timers = Timers(app[REDIS], maxlen=settings.stream_maxlen)
        jobs.append(("timers", lambda: timers.run(bus.stopping)))
        recounter = FigureRecounter(app[SESSIONS])
        jobs.append(("figure-recount", lambda: recounter.run(bus.stopping)))
    if role in ("all", "connectors"):
        jobs.extend((connector.kind, connector.run) for connector in app[CHANNELS])
    if role in ("all", "console"):
        jobs.append(("console-events", app[HUB].run))
        jobs.append(("console-load", app[LOAD_PUSHER].run))
        jobs.append(("console-typing", typing_api.VisitorTypingRelay(app[HUB], app[SESSIONS]).run))
        digest = WeeklyDigest(app[SESSIONS], app[REDIS], settings)
        jobs.append(("weekly-digest", lambda: digest.run(bus.stopping)))
        webhooks = WebhookSender(
            app[SESSIONS],
            bus,
            Backoff(first_s=settings.event_webhook_retry_s, factor=3.0, max_s=600.0),
            settings.event_webhook_max_tries,
            settings.event_webhook_timeout_s,
        )
        jobs.append(("event-webhooks", lambda: webhooks.run(name)))
    if role in ("all", "crm"):
        adapter = make_adapter(settings, app[SESSIONS])
        # A writer of its own, not the router's: a router batch that waits on the hub's loop
        # mid-transaction must not hold up the sink's transaction in the same thread.
        crm_writer = DbWriter(settings.effective_database_url)
        writers.append(crm_writer)
        sink = CrmSink(app[SESSIONS], bus, adapter, settings.crm_phone_region or None,
                       writer=crm_writer, gather_s=settings.crm_gather_ms / 1000)  # fmt: skip
        jobs.append(("crm", lambda: sink.run(name)))
    tasks = [asyncio.create_task(_supervised(label, job), name=label) for label, job in jobs]
    app[TASKS] = tasks
    try:
        yield
    finally:
        # Components finish the batch in hand (it is acked) and return; one that does not
        # within the grace period is cancelled, and what it held stays pending for reclaim.
        await stop_consumers(bus, tasks)
        for writer in writers:
            writer.close()


async def _supervised(label: str, job: Callable[[], Awaitable[None]]) -> None:
    """Run a component forever; a crash is logged and the component restarted after a pause."""
    COMPONENT.set(label)  # this task's context: its records, and its child tasks', name it
    log.info("component %s started", label)
    while True:
        try:
            await job()
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("component %s crashed; restarting in 1 s", label)
            await asyncio.sleep(1)


async def _shutdown_sockets(app: web.Application) -> None:
    if HUB in app:
        await app[HUB].close()
    for connector in app.get(CHANNELS, []):
        await connector.close()


def build_app(settings: Settings, role: str = "all") -> web.Application:
    """The hub's web application for ``role`` (``all`` runs every component)."""
    budget = SocketBudget(
        settings.max_open_sockets
        or socket_allowance(raise_open_file_limit(), settings.redis_max_connections)
    )
    app = web.Application(
        middlewares=[
            behind_proxies,
            request_ids,
            budget.middleware,
            redis_unavailable,
            require_session,
            refuse_read_only,
            refuse_cross_site,
        ],
        client_max_size=1024 * 1024,
    )
    app[SETTINGS] = settings
    app[ROLE] = role
    app[TRUSTED_PROXIES] = tuple(settings.trusted_proxies)
    app.cleanup_ctx.append(_redis)
    app.cleanup_ctx.append(_database)
    if role in ("all", "console"):
        app.cleanup_ctx.append(dialog_status_reader)
    app.cleanup_ctx.append(session_cache)
    app.cleanup_ctx.append(_wire)
    app.cleanup_ctx.append(_components)
    app.on_shutdown.append(_shutdown_sockets)
    app.router.add_routes(pages.routes())
    metrics_api.install(app)
    app.router.add_get("/readyz", readiness.readyz)
    if role in ("all", "console"):
        app.router.add_routes(vendor_routes())
        app.router.add_routes(api.routes())
        app.router.add_routes(attachments_api.routes())
        app.router.add_routes(files_api.routes())
        app.router.add_routes(crm_api.routes())
        app.router.add_routes(crm_admin_api.routes())
        app.router.add_routes(client_history_api.routes())
        app.router.add_routes(routing_api.routes())
        app.router.add_routes(reopen_api.routes())
        app.router.add_routes(load_api.routes())
        app.router.add_routes(channels_api.routes())
        app.router.add_routes(admin_api.routes())
        app.router.add_routes(answers_api.routes())
        app.router.add_routes(answers_csv.routes())
        typing_api.install(app)
        whatif_api.install(app)
        app.router.add_routes(search_api.routes())
        app.router.add_routes(conversation_api.routes())
        app.router.add_routes(stats_routes.routes())
        app.router.add_routes(kpi.routes())
        app.router.add_routes(integrations_api.routes())
        app.router.add_routes(realtime.routes())
        app.router.add_routes(openapi.routes())
        app.router.add_get("/api/ws", operator_socket)
    if role in ("all", "connectors"):
        context = ConnectorContext(app, settings)
        app[CHANNELS] = [kind.make(context) for kind in KINDS.values()]
        for connector in app[CHANNELS]:
            app.router.add_routes(connector.routes())
        allow_any_site(app)
    return app
