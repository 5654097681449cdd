"""Store: the engine's state store, assembled from one repository per area over one SQLAlchemy
engine. SQLite by default; PostgreSQL for production and scale.

For PostgreSQL, a schema other than ``public`` is chosen in the URL, e.g.
``postgresql+psycopg://user@host/db?options=-csearch_path%3Dtenantsync``; the schema must exist.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, ClassVar

from sqlalchemy import Connection, Engine, create_engine, event, func, insert, select
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import StaticPool

from tenantsync.errors import TenantSyncError

# Aliased: Store.reset's keyword parameters carry the same names as these modules.
from . import escrows as _escrows
from . import jobs as _jobs
from . import links as _links
from . import snapshots as _snapshots
from . import watermarks as _watermarks
from .cycles import CyclesRepository
from .deleted import DeletedRepository
from .escrows import EscrowsRepository
from .fingerprints import FingerprintsRepository
from .jobs import JobsRepository
from .links import LinksRepository
from .log import LogRepository
from .notifications import NotificationsRepository
from .reevaluations import ReevaluationsRepository
from .references import ReferencesRepository
from .setup import SetupRepository
from .snapshots import SnapshotsRepository
from .sql import WRITE, dumps, loads, utcnow
from .staged import StagedRepository
from .tables import SCHEMA_VERSION, metadata, schema_version
from .watermarks import WatermarksRepository

# Any constant: serialises create_all between processes opening one PostgreSQL store at once.
_SCHEMA_LOCK = 0x7473_7374  # "tsst"


class StoreSchemaError(TenantSyncError):
    """The store was written by a tenantsync with another table layout."""


class Store(LinksRepository, SnapshotsRepository, WatermarksRepository, JobsRepository,
            CyclesRepository, LogRepository, EscrowsRepository, StagedRepository,
            NotificationsRepository, SetupRepository, FingerprintsRepository,
            DeletedRepository, ReevaluationsRepository, ReferencesRepository):
    """The state store. Thread-safe (one pooled engine); every method is its own transaction."""

    _cache: ClassVar[dict[str, Store]] = {}
    _cache_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, url: str) -> None:
        self.url: URL = make_url(url)
        self.engine = _create_engine(self.url)
        self.writer = self.engine.execution_options(**{WRITE: True})
        try:
            _ensure_schema(self.writer)
        except BaseException:
            self.engine.dispose()
            raise

    @classmethod
    def for_url(cls, url: str) -> Store:
        """One Store per URL in this process, so tasks and flows share an engine and its pool."""
        key = make_url(url).render_as_string(hide_password=False)
        with cls._cache_lock:
            store = cls._cache.get(key)
            if store is None:
                store = cls._cache[key] = cls(url)
            return store

    def close(self) -> None:
        with self._cache_lock:
            for key, cached in list(self._cache.items()):
                if cached is self:
                    del self._cache[key]
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.url.render_as_string(hide_password=True)!r})"

    def reset(self, config: str, *, watermarks: bool = True, escrows: bool = True,
              quarantine: bool = True, links: bool = False) -> None:
        """Restart (reference §4.4): the default clears watermarks and escrows and lifts quarantine,
        keeping links; ``links=True`` also breaks links (resetScope Full). One transaction."""
        with self._write() as conn:
            if watermarks:
                _watermarks.delete_all(conn, config)
            if escrows:
                _escrows.delete_all(conn, config)
            if quarantine:
                _jobs.lift_quarantine(conn, config)
            if links:
                _links.delete_all(conn, config)
                # Without links, snapshots and memberships describe a sync that no longer exists;
                # the next (initial) cycle writes them afresh.
                _snapshots.delete_all(conn, config)


def _create_engine(url: URL) -> Engine:
    if url.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, json_serializer=dumps, json_deserializer=loads)
    database = url.database or ""
    in_memory = database in ("", ":memory:")
    if not in_memory and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    options: dict[str, Any] = {"connect_args": {"timeout": 30}}
    if in_memory:
        # Tests' "sqlite://": one connection for all threads, else each thread sees its own
        # empty database (SQLAlchemy's default pool for memory databases is per thread).
        options = {"connect_args": {"check_same_thread": False}, "poolclass": StaticPool}
    engine = create_engine(url, pool_pre_ping=True, json_serializer=dumps, json_deserializer=loads,
                           **options)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # pysqlite starts transactions lazily (not before a SELECT); take control so that a
        # read-then-write (record_failures) is one transaction. SQLAlchemy's documented recipe.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if not in_memory:
            _enable_wal(cursor)
        # synchronous=NORMAL is durable in WAL mode across a process crash and much faster.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # A write transaction takes the write lock at once, waiting up to the timeout for another
        # writer (Prefect runs tasks in threads). A deferred BEGIN that reads first and writes
        # later fails at once with "database is locked" when another writer committed meanwhile.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITE) else "BEGIN")

    return engine


def _enable_wal(cursor: Any) -> None:
    """WAL: readers (reports, the UI) do not block the cycle's writes, nor the reverse.

    The mode is stored in the file, so only the first connection to a new file switches it; the
    switch needs the database to itself and fails at once (no busy wait) while another connection
    is opening, so it is retried briefly.
    """
    for _attempt in range(200):
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal":
                return
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc):
                raise
            time.sleep(0.05)
    cursor.execute("PRAGMA journal_mode=WAL")  # the last try raises the error as it is


def _ensure_schema(engine: Engine) -> None:
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(select(func.pg_advisory_xact_lock(_SCHEMA_LOCK)))
        metadata.create_all(conn)
        found = conn.execute(select(schema_version.c.version)).scalars().all()
        if not found:
            conn.execute(insert(schema_version).values(version=SCHEMA_VERSION, applied=utcnow()))
        elif max(found) != SCHEMA_VERSION:
            raise StoreSchemaError(
                f"state store {engine.url.render_as_string(hide_password=True)} has schema version "
                f"{max(found)}, this tenantsync uses {SCHEMA_VERSION}: use a new store URL, or "
                "restart the configurations on an empty store")
