"""The router's database writer: one thread, a synchronous driver, one hand-off per batch.

Through an async driver every statement costs two thread switches (aiosqlite runs each one in
its own thread and wakes the event loop for the answer) plus SQLAlchemy's async adaptation:
about three times the CPU of the same statement on a synchronous connection. The router is the
only writer and runs a whole batch in one transaction, so the batch as a whole is handed to a
thread of its own instead: there an event loop of the writer's runs the batch's code, and the
session's statements go straight to the synchronous driver (``sqlite3``, ``psycopg``) with
nothing to wait for. The hub's event loop waits once per batch, and stays free while the
writer waits on the database (a row lock held by another router process, a checkpoint).

The batch's code stays the ``async`` code every caller shares (the console reads through the
same functions on the async engine): the writer's sessions have ``AsyncSession``'s interface
over a synchronous engine, and make each call directly, since nothing in it ever awaits
(``core.db.writer_session``).

SQLite has one writer at a time. Two writers of one process (the router's and the CRM sink's)
that met on its lock waited in SQLite's busy handler, which sleeps 1, 2, 5, 10 … up to 100 ms
between tries however soon the lock is free: in a burst of new clients, visitor messages
waited hundreds of milliseconds behind the sink's leads. On SQLite the process's writers take
turns at a ``WriteGate`` instead, woken the moment the other commits, and the router's
batches go before the sink's. Across processes, the router's writer takes SQLite's lock in
steps of its own (``core.db.write_lock``).

On SQLite the hand-off itself is the larger part of a small batch: the thread has little to do
while SQLite works (its calls take microseconds), the two threads pass the interpreter lock to
and fro, and each batch wakes both loops. So an ``inline`` writer runs a batch on the caller's
own loop whenever nothing would make that loop wait: when the process's turn is free at once
and no other process holds SQLite's write lock. Otherwise the batch goes to the thread as
before, which waits in the loop's stead. On PostgreSQL every statement waits for the server,
so batches always go to the thread.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import uvloop
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from core.db.checkpoint import WalCheckpoints
from core.db.engine import SQLITE_PRAGMAS, SessionMaker, make_sessionmaker, sqlite_file
from core.db.write_lock import (
    URGENT,
    LockWait,
    WriteLockBusy,
    begin_with_the_lock,
    lock_now_or_never,
)
from core.db.writer_session import DirectSession

T = TypeVar("T")

log = logging.getLogger(__name__)

SWITCH_INTERVAL_S = 0.0005
"""How long a thread that wants the interpreter lock waits for the thread holding it, while the
writer runs (Python's default: 5 ms). A batch keeps the lock busy for milliseconds of Python;
meanwhile the hub's event loop gives the lock up each time it waits for the network, and waits
to get it back when a reply comes. At the default each such wake-up could cost up to 5 ms, so
a message crossing a few of them (a stream read, the console's fan-out, the socket's send)
waited tens of milliseconds behind an unrelated batch."""


class _ShortSwitches:
    """``SWITCH_INTERVAL_S`` while any writer of the process runs; the interval found before
    the first one again once the last one is closed."""

    def __init__(self) -> None:
        self._writers = 0
        self._before = sys.getswitchinterval()
        self._lock = threading.Lock()

    def hold(self) -> None:
        with self._lock:
            if self._writers == 0:
                self._before = sys.getswitchinterval()
                sys.setswitchinterval(min(SWITCH_INTERVAL_S, self._before))
            self._writers += 1

    def release(self) -> None:
        with self._lock:
            self._writers -= 1
            if self._writers == 0:
                sys.setswitchinterval(self._before)


_short_switches = _ShortSwitches()

SYNC_DRIVERS = {"sqlite": "sqlite+pysqlite", "postgresql": "postgresql+psycopg"}
"""The synchronous driver the writer uses for each database the hub's async URL names."""


def sync_url(url: str) -> str:
    """The hub's (async) database URL with the writer's synchronous driver."""
    parsed = make_url(url)
    return parsed.set(drivername=SYNC_DRIVERS[parsed.get_backend_name()]).render_as_string(
        hide_password=False
    )


class _SyncDriverEngine(AsyncEngine):
    """An ``AsyncEngine`` facade over an engine with a synchronous driver.

    ``AsyncEngine`` refuses such an engine because on the hub's event loop its statements
    would block; on the writer's own thread blocking is the point, and an inline writer's
    batches run on the loop only when they need not wait for anyone.
    """

    def __init__(self, sync_engine: Engine) -> None:
        self.sync_engine = self._assign_proxied(sync_engine)

    @classmethod
    def _regenerate_proxy_for_target(cls, target: Engine, **_kw: Any) -> _SyncDriverEngine:
        return cls(target)


WRITER_PRAGMAS = (
    # A statement of a large batch (a hundred messages' rows, a hundred dialogs' updates) keeps
    # the stored pages it changes in a statement journal, and past 64 KiB SQLite spills it to a
    # temporary file: a system call for every page, several MiB a second at saturation, for a
    # journal that never outlives its transaction. In memory it is a copy of the page. Only
    # the writer: the console's large reads (statistics) may sort more than fits in memory.
    "PRAGMA temp_store=MEMORY",
)
"""What the writer's SQLite connections set on top of the hub's ``SQLITE_PRAGMAS``."""


def make_writer_engine(
    url: str, lock_wait: LockWait | None = None, checkpoints_elsewhere: bool = False
) -> AsyncEngine:
    """The writer's engine: ``url``'s database through its synchronous driver. On SQLite with
    ``lock_wait``, each transaction begins holding the write lock, tried for as it says; with
    ``checkpoints_elsewhere`` its commits leave the log's checkpoints to ``WalCheckpoints``."""
    target = sync_url(url)
    if target.startswith("sqlite"):
        engine = create_engine(target, connect_args={"timeout": 30, "check_same_thread": False})
        pragmas: tuple[str, ...] = (*SQLITE_PRAGMAS, *WRITER_PRAGMAS)
        if checkpoints_elsewhere:
            pragmas += ("PRAGMA wal_autocheckpoint=0",)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            for pragma in pragmas:
                cur.execute(pragma)
            cur.close()

        if lock_wait is not None:
            begin_with_the_lock(engine, lock_wait)

    else:
        # One batch at a time: the writer never needs more than one connection. Positional
        # parameters (``%s``, which psycopg takes as well as named ones) let the router's
        # statements run on the cursor directly (``core.db.on_cursor``). No ping before each
        # batch (a round trip every time): a connection the server closed is found by the
        # batch's first statement, and the batch runs again (``DbWriter.run``).
        engine = create_engine(target, pool_size=2, max_overflow=2, paramstyle="format")
    return _SyncDriverEngine(engine)


GATE_TIMEOUT_S = 30.0
"""How long a writer waits for its turn at the gate: the SQLite busy timeout it replaces."""


class WriteGate:
    """Turns at one SQLite database for the writers of this process: one transaction at a
    time, an urgent writer's before the others'."""

    def __init__(self) -> None:
        self._turn = threading.Condition()
        self._held = False
        self._urgent_waiting = 0
        self.waiting = 0
        """Writers waiting for their turn now."""

    def acquire(self, urgent: bool, timeout_s: float = GATE_TIMEOUT_S) -> None:
        """Wait for the turn (blocking the thread); TimeoutError after ``timeout_s``."""
        with self._turn:
            self._urgent_waiting += urgent
            self.waiting += 1
            try:
                free = self._turn.wait_for(
                    lambda: not self._held and (urgent or not self._urgent_waiting), timeout_s
                )
            finally:
                self._urgent_waiting -= urgent
                self.waiting -= 1
            if not free:
                raise TimeoutError(f"no turn at the database's writers' gate in {timeout_s:g} s")
            self._held = True

    def try_acquire(self, urgent: bool) -> bool:
        """Take the turn if it is free now and nobody waits before this writer; never wait."""
        with self._turn:
            if self._held or (self._urgent_waiting if urgent else self.waiting):
                return False
            self._held = True
            return True

    def release(self) -> None:
        with self._turn:
            self._held = False
            self._turn.notify_all()


_gates: dict[str, WriteGate] = {}
_gates_lock = threading.Lock()


def write_gate(url: str) -> WriteGate | None:
    """The process's gate for ``url``'s database when it is SQLite; None for another."""
    target = sync_url(url)
    if not target.startswith("sqlite"):
        return None  # row locks: writers of other rows go on together
    with _gates_lock:
        return _gates.setdefault(target, WriteGate())


class DbWriter:
    """A thread with an event loop of its own that runs the router's batches, one at a time.

    ``urgent``: on SQLite, this writer's transactions go before those of the process's other
    writers of the database that wait with them (``WriteGate``).

    ``inline``: on SQLite, a batch runs on the caller's loop when it can start at once (the
    module's docstring); only a batch that could block it goes to the thread. For short
    transactions of a caller that awaits them anyway, as the router's: nothing in them may
    wait long, since the caller's loop serves nothing else meanwhile.

    ``checkpoints``: on SQLite, the log's checkpoints run on a thread of their own after this
    writer's transactions (``core.db.checkpoint``), not in the transactions themselves. For
    the writer that carries the hub's writes, the router's."""

    def __init__(
        self, url: str, urgent: bool = False, inline: bool = False, checkpoints: bool = False
    ) -> None:
        path = sqlite_file(url) if checkpoints else None
        self.checkpoints = WalCheckpoints(path) if path else None
        self.engine = make_writer_engine(
            url, URGENT if urgent else None, checkpoints_elsewhere=self.checkpoints is not None
        )
        self._gate = write_gate(url)
        self._urgent = urgent
        if inline and not urgent:
            # Only an urgent writer's transactions take SQLite's lock as they begin, where a
            # lock held elsewhere is found before anything is done (core.db.write_lock).
            raise ValueError("an inline writer must be urgent")
        self._inline_gate = self._gate if inline else None
        """The gate whose free turn lets a batch run on the caller's loop: an inline writer's
        on SQLite; None where every batch goes to the thread."""
        self.ran_here = 0
        """Batches run on the caller's loop since the start (an inline writer's)."""
        self.handed_off = 0
        """Batches handed to the thread since the start."""
        self._turns = asyncio.Lock()
        """This writer's own tasks, one at a time at the gate."""
        # Its driver never awaits: the sessions' calls need no greenlet (core.db.writer_session).
        self.sessions: SessionMaker = make_sessionmaker(self.engine, DirectSession)
        # uvloop, as the hub's own loop: each batch wakes this loop from its wait and runs one
        # task, and the standard loop's wake-up (its self-pipe, selector and ``_run_once``, all
        # Python) was a third of an empty batch's CPU (``bench.router_batches``).
        self._loop = uvloop.new_event_loop()
        _short_switches.hold()
        self._thread = threading.Thread(target=self._serve, name="db-writer", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()

    async def run(self, work: Callable[[], Coroutine[Any, Any, T]]) -> T:
        """Run ``work()`` on the writer's thread and return what it returned (or raise what
        it raised). Cancelling the caller cancels the work.

        ``work`` is one transaction: when it meets a connection the database closed (a
        restart, an idle timeout), that transaction was rolled back with the connection, and
        ``work()`` runs once more on a new one.

        An ``inline`` writer runs ``work()`` here, on the caller's loop, when the turn is free;
        if another process holds SQLite's write lock, ``work()`` meets ``WriteLockBusy`` when
        its transaction begins, and runs again on the thread. So its transaction must begin
        before it does anything that must not happen twice."""
        gate = self._inline_gate
        if gate is not None and gate.try_acquire(self._urgent):
            try:
                with lock_now_or_never():
                    done_here = await work()
                self.ran_here += 1
                self._committed()
                return done_here
            except WriteLockBusy:
                pass  # another process is writing: the thread waits for it, not this loop
            finally:
                gate.release()
        self.handed_off += 1
        caller = asyncio.get_running_loop()
        done: asyncio.Future[T] = caller.create_future()
        # One task on the writer's loop and one wake-up of each loop: ``run_coroutine_threadsafe``
        # and ``wrap_future`` chain two more futures (one with a lock) for the same hand-off.
        running: list[asyncio.Task[T]] = []
        self._loop.call_soon_threadsafe(self._start, work, running, caller, done)
        try:
            done_there = await done
        except asyncio.CancelledError:
            if not self._loop.is_closed():
                # Queued after ``_start`` on the writer's loop, so the task is there by then.
                self._loop.call_soon_threadsafe(lambda: running[0].cancel())
            raise
        self._committed()
        return done_there

    def _committed(self) -> None:
        if self.checkpoints is not None:
            self.checkpoints.committed()

    def _start(
        self,
        work: Callable[[], Coroutine[Any, Any, T]],
        running: list[asyncio.Task[T]],
        caller: asyncio.AbstractEventLoop,
        done: asyncio.Future[T],
    ) -> None:
        task = self._loop.create_task(self._gated(work))
        running.append(task)

        def ended(_task: asyncio.Task[T]) -> None:
            if not caller.is_closed():
                caller.call_soon_threadsafe(_settle, done, task)

        task.add_done_callback(ended)

    async def _gated(self, work: Callable[[], Coroutine[Any, Any, T]]) -> T:
        """``work`` in this writer's turn at the gate, if the database has one."""
        if self._gate is None:
            return await _again_if_disconnected(work)
        # The wait blocks the writer's thread: only when no other task of this writer holds
        # the turn, since that one could not go on to give it back.
        async with self._turns:
            self._gate.acquire(self._urgent)
            try:
                return await _again_if_disconnected(work)
            finally:
                self._gate.release()

    def close(self) -> None:
        """Stop the thread and close the engine's connections."""
        if self._loop.is_closed():
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self.engine.sync_engine.dispose()
        if self.checkpoints is not None:
            self.checkpoints.close()
        self._loop.close()
        _short_switches.release()


async def _again_if_disconnected(work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    try:
        return await work()
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
        # SQLAlchemy has dropped every connection of the pool older than this one by now.
        log.warning("the database closed the writer's connection (%s); once more", exc.orig)
        return await work()


def _settle(done: asyncio.Future[T], task: asyncio.Task[T]) -> None:
    """Give the caller's future (on the caller's loop) the end of the writer's task."""
    if task.cancelled():
        done.cancel()
        return
    error = task.exception()  # taken even when nobody waits any more, so it is not logged
    if done.done():  # the caller was cancelled meanwhile
        return
    if error is not None:
        done.set_exception(error)
    else:
        done.set_result(task.result())


def on_loop(loop: asyncio.AbstractEventLoop, call: Callable[[], Awaitable[T]]) -> Awaitable[T]:
    """Await what ``call()`` returns on ``loop`` (the hub's) from another thread's loop (the
    writer's).

    For the rare Redis read a batch makes: the hub's Redis client belongs to the hub's loop.
    ``call`` is made there too, so a hub that stops before it runs leaves no coroutine behind
    that was never awaited.
    """

    async def wrapped() -> T:
        return await call()

    return asyncio.wrap_future(asyncio.run_coroutine_threadsafe(wrapped(), loop))
