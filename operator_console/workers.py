"""``openlines run --role console --workers N``: N console processes serving one port.

The console keeps nothing a request or a socket needs in one process's memory: sessions are
rows (each process caches them for seconds), presence is counted in Redis
(``core.presence``), every process tails the events stream for its own sockets, and what must
happen once (the weekly digest) claims its turn in Redis. So several console processes can
serve one port: each listens with ``SO_REUSEPORT`` and the kernel shares new connections out
among them. Nothing is handed from one process to another.

This process only supervises. It forks the workers after the hub is imported, so they share
those pages. The first worker starts alone, since it is the one that upgrades the schema and
seeds the first admin (two at once would race); the others start once it serves. A worker
that dies is started again; SIGINT and SIGTERM are passed on and the supervisor returns once
every worker has stopped.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import NoReturn

from config.settings import Settings
from core.redis_server import die_with_parent

log = logging.getLogger(__name__)

REFUSED = 2
"""The exit status of a hub that refuses to start (``operator_console.serving.run_hub``)."""

RESTART_PAUSE_S = 1.0
"""How long a dead worker's place stays empty: a worker that dies at once is not restarted in
a tight loop."""


@dataclass
class Worker:
    """What a console worker process knows of its place among the others."""

    index: int
    count: int
    ready_fd: int | None = None
    """Written to (and closed) once the worker serves: the supervisor waits on it."""

    def serving(self) -> None:
        """Tell the supervisor this worker accepts connections."""
        if self.ready_fd is not None:
            os.write(self.ready_fd, b"1")
            os.close(self.ready_fd)
            self.ready_fd = None


def worker_settings(settings: Settings, index: int) -> Settings:
    """A worker's settings: its own metrics port (``metrics_port`` + index), when there is one.

    Prometheus must scrape every worker: one port shared by all would answer each scrape from
    a different process's counters."""
    if not settings.metrics_port:
        return settings
    return settings.model_copy(update={"metrics_port": settings.metrics_port + index})


def workers_refused(settings: Settings, role: str, count: int) -> str | None:
    """Why ``--workers count`` cannot run ``role`` with these settings; None when it can."""
    if count < 1:
        return f"--workers {count}: at least 1"
    if count == 1:
        return None
    if role != "console":
        return (
            f"--workers {count} needs --role console: the other roles scale by processes of "
            "their own (docs/DEPLOY.md)"
        )
    if not settings.redis_url:
        return (
            f"--workers {count} needs redis_url: the workers share one Redis, and each would "
            "otherwise start an embedded one of its own"
        )
    return None


RunHub = Callable[[Settings, str, Worker], int]
"""Serves a role in this process until stopped: ``operator_console.serving.run_hub``."""


class Supervisor:
    """Forks the console workers, starts a dead one again, and stops them all on a signal."""

    def __init__(self, settings: Settings, count: int, run_hub: RunHub) -> None:
        self.settings = settings
        self.count = count
        self.run_hub = run_hub
        self.workers: dict[int, int] = {}
        """Each live worker's index, by its pid."""
        self.stopping = False

    def run(self) -> int:
        """Serve until SIGINT or SIGTERM; the exit status for ``openlines run``."""
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._stop)
        refused = self._start_first()
        if refused is not None:
            return refused
        for index in range(1, self.count):
            self._fork(index, None)
        return self._watch()

    def _start_first(self) -> int | None:
        """Start worker 0 and wait until it serves; its exit status if it never does."""
        read_end, write_end = os.pipe()
        pid = self._fork(0, write_end)
        os.close(write_end)
        with os.fdopen(read_end, "rb") as ready:
            served = ready.read(1)  # nothing, at its end: the worker exited first
        if served and not self.stopping:
            return None
        if self.stopping:
            self._watch()
            return 0
        _, status = os.waitpid(pid, 0)
        self.workers.pop(pid, None)
        code = os.waitstatus_to_exitcode(status)
        log.error("the first console worker exited with %d before it served", code)
        return code or 1

    def _fork(self, index: int, ready_fd: int | None) -> int:
        sys.stdout.flush()
        sys.stderr.flush()
        orphaned = die_with_parent()  # made here: it checks the child's parent is this process
        pid = os.fork()
        if pid == 0:
            self._be_worker(index, ready_fd, orphaned)
        self.workers[pid] = index
        log.info("console worker %d of %d started (pid %d)", index + 1, self.count, pid)
        return pid

    def _be_worker(
        self, index: int, ready_fd: int | None, orphaned: Callable[[], None] | None
    ) -> NoReturn:
        """The child's side of the fork: serve, then leave without the parent's cleanup."""
        code = 1
        try:
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, signal.SIG_DFL)
            if orphaned is not None:
                orphaned()  # a supervisor killed outright takes its workers with it
            worker = Worker(index, self.count, ready_fd)
            code = self.run_hub(worker_settings(self.settings, index), "console", worker)
        except BaseException:
            log.exception("console worker %d failed", index + 1)
        finally:
            logging.shutdown()
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)

    def _watch(self) -> int:
        """Wait for the workers, starting one that dies again; the exit status at the end."""
        while self.workers:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                break
            index = self.workers.pop(pid, None)
            if index is None or self.stopping:
                continue
            code = os.waitstatus_to_exitcode(status)
            if code == REFUSED:
                log.error("console worker %d refused to start; stopping the others", index + 1)
                self._stop(signal.SIGTERM, None)
                self._watch()
                return REFUSED
            log.error(
                "console worker %d (pid %d) exited with %d; starting it again", index + 1, pid, code
            )
            time.sleep(RESTART_PAUSE_S)
            if not self.stopping:
                self._fork(index, None)
        return 0

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        """Pass a stop on to every worker; the supervisor returns once they have all gone."""
        del frame
        self.stopping = True
        for pid in list(self.workers):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        log.info("stopping %d console worker(s) (signal %d)", len(self.workers), signum)


def run_workers(settings: Settings, count: int, run_hub: RunHub) -> int:
    """``openlines run --role console --workers count``."""
    return Supervisor(settings, count, run_hub).run()
