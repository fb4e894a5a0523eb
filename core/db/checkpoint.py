"""The router's SQLite checkpoints, on a thread of their own instead of in its transactions.

In WAL mode SQLite copies the log back into the database file (a checkpoint) once the log has
grown past 1 000 pages, and it does so in the transaction that crossed the mark, right after
its commit: the pages' writes and two ``fsync`` calls, several milliseconds. For the router
that held up about one batch in ten at saturation, and one in a few hundred at 200 msg/s;
when the writer runs a batch inline, the hub's own event loop waited with it.

So the router's writer turns SQLite's automatic checkpoints off on its connections and wakes
a ``WalCheckpoints`` thread after its transactions, which checkpoints on a connection of its
own. A ``PASSIVE`` checkpoint waits for nobody: the router goes on writing while it copies,
and the log starts over at the first transaction after a checkpoint that copied it all (as
after SQLite's own). While the router is idle the thread sleeps.
"""

from __future__ import annotations

import logging
import sqlite3
import threading

log = logging.getLogger(__name__)

PAUSE_S = 1.0
"""The least time between two checkpoints: the commits meanwhile wait for the next one. Each
checkpoint copies every page changed since the one before, and the same few pages (the open
dialogs', the day's statistics) change in every batch: checkpoints four times a second cost
more CPU at 200 msg/s than SQLite's own, which come about as often as this at that rate."""


class WalCheckpoints:
    """Checkpoints the write-ahead log of the SQLite database at ``path`` after commits."""

    def __init__(self, path: str, pause_s: float = PAUSE_S) -> None:
        self.path = path
        self.pause_s = pause_s
        self.done = 0
        """Checkpoints run since the start."""
        self._due = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="wal-checkpoints", daemon=True)
        self._thread.start()

    def committed(self) -> None:
        """Note that a transaction may have added to the log; from any thread."""
        self._due.set()

    def _serve(self) -> None:
        self._due.wait()  # the first commit: the database exists by then
        if self._stopping.is_set():
            return
        connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            while not self._stopping.is_set():
                self._due.clear()
                self._checkpoint(connection)
                self._stopping.wait(self.pause_s)
                self._due.wait()
        finally:
            connection.close()

    def _checkpoint(self, connection: sqlite3.Connection) -> None:
        try:
            connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error as exc:
            # The next commit wakes the thread again; the log only grows meanwhile.
            log.warning("checkpoint of %s failed: %s", self.path, exc)
            return
        self.done += 1

    def close(self) -> None:
        """Stop the thread (a checkpoint in progress finishes first)."""
        self._stopping.set()
        self._due.set()
        self._thread.join(timeout=30)
