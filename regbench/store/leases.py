"""Run leases: one store, many processes (docs/architecture.md, Store).

A process leases the runs it trains, refreshes the leases from a heartbeat thread, and a lease
whose holder is gone is reclaimed by the next process, so two processes never train the same
run and a killed one leaves nothing stuck.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from regbench.store.schema import FINAL_STATUSES, StoreFile

# A holder refreshes its leases every HEARTBEAT_S seconds; a lease whose heartbeat is older
# than LEASE_TIMEOUT_S (holder on another host, frozen or gone) may be reclaimed. On the same
# host a lease whose pid no longer exists is reclaimed at once (the holder was killed).
HEARTBEAT_S = 10.0
LEASE_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Lease:
    """Who holds runs: this process (pid, host) and a token unique to one ``run_plan`` call."""

    pid: int = field(default_factory=os.getpid)
    host: str = field(default_factory=socket.gethostname)
    token: str = field(default_factory=lambda: uuid.uuid4().hex)


@dataclass(frozen=True)
class Claim:
    """What :meth:`Store.claim` found: runs now ours, held by a live process, already finished,
    and how many of ours were taken over from expired leases."""

    mine: list[str]
    elsewhere: list[str]
    finished: list[str]
    reclaimed: int


def holder_alive(pid: int, host: str, heartbeat: float, now: float, timeout: float = LEASE_TIMEOUT_S) -> bool:
    """Whether a lease's holder may still be training: a fresh heartbeat and, on this host, a live pid."""
    if now - heartbeat > timeout:
        return False
    if host != socket.gethostname():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


class StoreLeases(StoreFile):
    """The lease methods of :class:`~regbench.store.Store`."""

    def claim(self, keys: Iterable[str], lease: Lease, timeout: float = LEASE_TIMEOUT_S) -> Claim:
        """Lease every run of ``keys`` that is neither finished nor held by a live process, in one
        transaction, so two processes never train the same run. Expired leases are taken over."""
        now = time.time()
        mine, elsewhere, finished, reclaimed = [], [], [], 0
        with self.transaction() as db:
            wanted = list(dict.fromkeys(keys))
            status = dict(db.execute("SELECT run_key, status FROM runs").fetchall()) if wanted else {}
            held = {r[0]: r[1:] for r in db.execute("SELECT run_key, pid, host, heartbeat, token FROM leases")}
            for key in wanted:
                if status.get(key) in FINAL_STATUSES:
                    finished.append(key)
                    continue
                if key in held:
                    pid, host, beat, token = held[key]
                    if token != lease.token and holder_alive(pid, host, beat, now, timeout):
                        elsewhere.append(key)
                        continue
                    reclaimed += token != lease.token
                mine.append(key)
            db.executemany(
                "INSERT OR REPLACE INTO leases VALUES (?,?,?,?,?,?)",
                [(k, lease.pid, lease.host, now, now, lease.token) for k in mine],
            )
        return Claim(mine, elsewhere, finished, reclaimed)

    def release(self, lease: Lease, keys: Iterable[str] | None = None) -> None:
        """Give up ``lease``'s runs (all of them when ``keys`` is None): another process may take them."""
        with self.transaction() as db:
            if keys is None:
                db.execute("DELETE FROM leases WHERE token=?", (lease.token,))
            else:
                db.executemany("DELETE FROM leases WHERE token=? AND run_key=?", [(lease.token, k) for k in keys])

    def leases(self) -> list[dict[str, Any]]:
        """Every current lease: run_key, pid, host, started, heartbeat, token."""
        cur = self.db.execute("SELECT * FROM leases ORDER BY started, run_key")
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, row)) for row in cur.fetchall()]

    @contextmanager
    def heartbeat(self, lease: Lease, every: float = HEARTBEAT_S) -> Iterator[None]:
        """Refresh ``lease``'s heartbeat from a thread (its own connection) while the block runs,
        then release whatever it still holds (an interrupted run is free for the next invocation)."""
        stop = threading.Event()

        def beat() -> None:
            db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            try:
                while not stop.wait(every):
                    try:
                        db.execute("UPDATE leases SET heartbeat=? WHERE token=?", (time.time(), lease.token))
                    except sqlite3.OperationalError:  # busy for 60 s: the next beat tries again
                        continue
            finally:
                db.close()

        thread = threading.Thread(target=beat, name="regbench-lease-heartbeat", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()
            self.release(lease)
