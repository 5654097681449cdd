"""Identity-provider instances writing into the directory (at most one enabled), and the run
lock that keeps two runs of one instance apart."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import func, select, update

from ...errors import ConfigError
from ...sql import sqlite_file, utcnow
from .base import DirectoryBase
from .schema import CLAIM_LOCK
from .tables import instances


class InstancesMixin(DirectoryBase):
    def claim_instance(self, name: str, display_name: str, *, tenant_id: str | None,
                       kind: str = "entra", error: Callable[[str], Exception] | None = None) -> None:
        """Register ``name`` as the enabled instance; refused while another one is enabled."""
        now = utcnow()
        with self._write() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(select(func.pg_advisory_xact_lock(CLAIM_LOCK)))
            others = conn.execute(select(instances).where(instances.c.enabled.is_(True),
                                                          instances.c.name != name)).mappings().all()
            if others:
                other = others[0]
                message = (
                    f"identity provider instance {display_name!r} (configuration {name!r}) cannot be "
                    f"enabled: instance {other['display_name']!r} (configuration {other['name']!r}, "
                    f"Entra tenant {other['tenant_id']}) is already enabled for directory {self.where}. "
                    "Only one identity provider instance can be enabled at a time; multi-IdP "
                    "environments are not supported. Disable the other instance first "
                    "(settings.enabled: false and run it once).")
                raise (error(message) if error else ConfigError(message))
            found = conn.execute(select(instances.c.name).where(instances.c.name == name)).first()
            values = {"display_name": display_name, "kind": kind, "tenant_id": tenant_id,
                      "enabled": True, "updated_at": now}
            if found:
                conn.execute(update(instances).where(instances.c.name == name).values(**values))
            else:
                conn.execute(instances.insert().values(name=name, created_at=now, **values))

    def disable_instance(self, name: str) -> bool:
        """Mark ``name`` disabled (its data stays); True when it was enabled."""
        with self._write() as conn:
            result = conn.execute(update(instances).where(instances.c.name == name,
                                                          instances.c.enabled.is_(True))
                                  .values(enabled=False, updated_at=utcnow()))
            return bool(result.rowcount)

    def instances(self) -> list[dict[str, Any]]:
        with self._read() as conn:
            rows = conn.execute(select(instances).order_by(instances.c.name)).mappings().all()
            return [dict(r) for r in rows]

    @contextmanager
    def run_lock(self, instance: str) -> Iterator[bool]:
        """Hold the run lock of ``instance`` while the block runs; yields False (and holds
        nothing) when another run of it, in any process, has it. PostgreSQL: a session advisory
        lock keyed by schema and instance; SQLite: an flock on ``<database>.<instance>.lock``
        beside the file."""
        def key_of(where: str) -> int:
            digest = hashlib.sha256(f"tenantsync-directory:{where}:{instance}".encode()).digest()
            return int.from_bytes(digest[:8], "big", signed=True)

        if self.engine.dialect.name == "postgresql":
            conn = self.engine.connect()
            try:
                # Advisory locks are database-wide: the schema keeps two directories apart.
                key = key_of(str(conn.execute(select(func.current_schema())).scalar()))
                got = bool(conn.execute(select(func.pg_try_advisory_lock(key))).scalar())
                conn.commit()
                try:
                    yield got
                finally:
                    if got:
                        conn.execute(select(func.pg_advisory_unlock(key)))
                        conn.commit()
            finally:
                conn.close()
            return
        path = sqlite_file(self.url)
        if path is None:
            yield True
            return
        import fcntl

        with open(path.with_name(f"{path.name}.{instance}.lock"), "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
