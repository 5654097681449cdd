"""One cycle per configuration at a time: a lease row in the configuration's own database.

Why a lease in the state store, not a Prefect global concurrency limit: a Prefect slot outlives a
process killed with SIGKILL. Its lease is only revoked by a service of the Prefect server, and the
temporary server of a killed command line dies (or is orphaned) with it; the next command line
starts a new temporary server on the same database that never revokes it. The state store is what
two overlapping cycles would corrupt, every worker that runs a configuration reaches it, and it
needs no Prefect (the engine never imports Prefect).

The row holds the holder (host, pid and the process's start time, so a reused pid is not taken
for the holder), when it was taken and until when it is valid. A heartbeat thread renews the
lease every ``RENEW_S`` while the holder lives — also while a run waits for a deletion approval —
so:

* a holder killed with SIGKILL frees the lock when its lease expires (``LEASE_S``, 60 s);
* a holder on this host whose process is gone frees it at once;
* any other holder is alive: the lock is refused with who holds it, since when.

Taking the lock is one atomic statement on SQLite and PostgreSQL alike: ``INSERT ... ON CONFLICT
DO NOTHING`` for a free lock, and a compare-and-set ``UPDATE ... WHERE holder = <the stale holder>``
to take over a stale one, so two contenders never both win. Lease times come from the holders'
clocks: hosts sharing a store must keep their clocks in step (NTP), a skew of seconds is harmless
against a 60 s lease.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Engine, MetaData, String, Table, delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from tenantsync.errors import TenantSyncError
from tenantsync.sql import UTCDateTime, utcnow

LEASE_S = float(os.environ.get("TENANTSYNC_LOCK_LEASE_S", "60"))     # tests may shorten it
RENEW_S = max(LEASE_S / 6, 0.5)                                      # every 10 s by default
WAIT_S = float(os.environ.get("TENANTSYNC_LOCK_WAIT_S", "60"))      # how long a second cycle waits

# Its own MetaData: the lock is no configuration data, so it is neither archived nor counted with the
# configuration's rows (store/deleted.py). The table comes with the store's schema (store/schema.py).
_meta = MetaData()
locks = Table(
    "ts_locks", _meta,
    Column("config", String, primary_key=True),
    Column("holder", String, nullable=False),      # host/pid/start: one process, never a reused pid
    Column("host", String, nullable=False),
    Column("pid", String, nullable=False),
    Column("what", String, nullable=False),        # "sync cycle", "paused for deletion approval", ...
    Column("acquired", UTCDateTime, nullable=False),
    Column("expires", UTCDateTime, nullable=False),
)


class LockBusy(TenantSyncError):
    """Another live process holds the configuration's lock."""

    def __init__(self, message: str, holder: Holder | None = None):
        super().__init__(message)
        self.holder = holder


# -- who holds it ----------------------------------------------------------------------------------

def _start_ticks(pid: int) -> str:
    """The process's start time in clock ticks since boot (proc(5), /proc/PID/stat field 22);
    '' where there is no /proc or the process is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[1].split()[19]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:       # exists, owned by someone else
        pass
    try:                          # a zombie (killed, not yet reaped by its parent) holds nothing
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


HOST = socket.gethostname()


def me() -> str:
    """This process: host/pid/start time (a holder adds /<token>: one per lock taken)."""
    pid = os.getpid()
    return f"{HOST}/{pid}/{_start_ticks(pid)}"


def new_holder() -> str:
    return f"{me()}/{uuid.uuid4().hex[:12]}"


@dataclass(frozen=True)
class Holder:
    config: str
    holder: str
    host: str
    pid: int
    what: str
    acquired: datetime
    expires: datetime

    def alive(self, now: datetime | None = None) -> bool:
        """Same host: its process still runs (the same process, by start time). Another host:
        its lease has not expired."""
        if self.host == HOST:
            if not _pid_alive(self.pid):
                return False
            parts = self.holder.split("/")
            started = parts[2] if len(parts) > 2 else ""
            return not started or not _start_ticks(self.pid) or _start_ticks(self.pid) == started
        return (now or utcnow()) < self.expires

    def describe(self) -> str:
        since = self.acquired.strftime("%Y-%m-%d %H:%M:%S UTC")
        return f"{self.what} of {self.config} is running on host {self.host} pid {self.pid} since {since}"


def _row(r: Any) -> Holder:
    return Holder(config=r.config, holder=r.holder, host=r.host, pid=int(r.pid), what=r.what,
                  acquired=r.acquired, expires=r.expires)


# -- the lock row ----------------------------------------------------------------------------------

def holder(engine: Engine, config: str) -> Holder | None:
    with engine.connect() as conn:
        r = conn.execute(select(locks).where(locks.c.config == config)).first()
    return _row(r) if r is not None else None


def try_acquire(engine: Engine, config: str, what: str = "a cycle", *, who: str | None = None) -> Holder | None:
    """Take the lock if it is free or its holder is gone; None when taken, else the live holder."""
    who = who or new_holder()
    now = utcnow()
    values = {"config": config, "holder": who, "host": who.split("/")[0], "pid": who.split("/")[1],
              "what": what, "acquired": now, "expires": now + timedelta(seconds=LEASE_S)}
    with engine.begin() as conn:
        ins = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
        # RETURNING, not rowcount: psycopg reports -1 for INSERT ... ON CONFLICT DO NOTHING.
        if conn.execute(ins(locks).values(**values).on_conflict_do_nothing()
                        .returning(locks.c.config)).first() is not None:
            return None
        r = conn.execute(select(locks).where(locks.c.config == config)).first()
    if r is None:                                   # released meanwhile: try again
        return try_acquire(engine, config, what, who=who)
    found = _row(r)
    if found.holder == who:                        # taken by this very holder meanwhile
        return None
    if found.alive(now):                           # also another run of this process: one lock each
        return found
    with engine.begin() as conn:                   # compare-and-set: only one contender wins
        done = conn.execute(update(locks).where(locks.c.config == config, locks.c.holder == found.holder,
                                                locks.c.expires == found.expires).values(**values)).rowcount
    return None if done == 1 else try_acquire(engine, config, what, who=who)


def renew(engine: Engine, config: str, *, who: str, what: str | None = None) -> bool:
    """Push the expiry out by a lease; False when this process no longer holds the lock."""
    values: dict[str, Any] = {"expires": utcnow() + timedelta(seconds=LEASE_S)}
    if what:
        values["what"] = what
    with engine.begin() as conn:
        return conn.execute(update(locks).where(locks.c.config == config, locks.c.holder == who)
                            .values(**values)).rowcount == 1


def release(engine: Engine, config: str, *, who: str) -> None:
    with engine.begin() as conn:
        conn.execute(delete(locks).where(locks.c.config == config, locks.c.holder == who))


def force_release(engine: Engine, config: str) -> Holder | None:
    """``tenantsync unlock``: remove a dead holder's lock. Refused (LockBusy) while it is alive;
    returns the holder removed, or None when the configuration was not locked."""
    found = holder(engine, config)
    if found is None:
        return None
    if found.alive():
        where = ("its process is alive" if found.host == HOST
                 else f"its lease is renewed (valid until {found.expires:%H:%M:%S} UTC)")
        raise LockBusy(f"{found.describe()} ({where}): let it end, or stop that process; nothing was "
                       "unlocked", found)
    with engine.begin() as conn:
        conn.execute(delete(locks).where(locks.c.config == config, locks.c.holder == found.holder))
    return found


# -- holding it ------------------------------------------------------------------------------------

class Lease:
    """The lock, held: a daemon thread renews it until release (or the process's death)."""

    def __init__(self, engine: Engine, config: str, what: str):
        self.engine, self.config, self.what, self.who = engine, config, what, new_holder()
        self.lost = False
        self._renewing = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"tenantsync-lock-{config}", daemon=True)

    def note(self, what: str) -> None:
        """Say what the holder is doing (e.g. waiting for a deletion approval) to those refused."""
        with self._renewing:
            self.what = what
        self._renew()

    def _renew(self) -> None:
        with self._renewing:          # the heartbeat and note() one at a time: the last word stays
            try:
                if not renew(self.engine, self.config, who=self.who, what=self.what):
                    self.lost = True
            except Exception:
                pass

    def _beat(self) -> None:
        while not self._stop.wait(RENEW_S):
            self._renew()

    def release(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        release(self.engine, self.config, who=self.who)


@contextmanager
def hold(engine: Engine, config: str, *, what: str = "a cycle", wait_s: float = WAIT_S,
         poll_s: float = 1.0, on_wait: Callable[[Holder], None] | None = None) -> Iterator[Lease]:
    """Hold the configuration's lock for the body; wait up to ``wait_s`` for a live holder, then
    raise LockBusy naming it. A holder found dead (same host, process gone) is replaced at once."""
    lease = Lease(engine, config, what)
    deadline = time.monotonic() + max(wait_s, 0)
    told = False
    while (found := try_acquire(engine, config, what, who=lease.who)) is not None:
        if time.monotonic() >= deadline:
            doing = "" if found.what in ("a cycle", "sync cycle") else f" ({found.what})"
            raise LockBusy(f"another cycle of {config} is running on host {found.host} pid {found.pid} since "
                           f"{found.acquired:%Y-%m-%d %H:%M:%S} UTC{doing}; waited {wait_s:.0f} s", found)
        if on_wait and not told:
            on_wait(found)
            told = True
        time.sleep(min(poll_s, max(deadline - time.monotonic(), 0.05)))
    lease._thread.start()
    try:
        yield lease
    finally:
        lease.release()
