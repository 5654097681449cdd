"""The one SQL layer under the state store and the application directory: how an engine is opened
(SQLite and PostgreSQL settings), one object per database URL in a process, JSON columns, UTC
times, and bringing a schema to its newest Alembic revision.

SQLAlchemy and Alembic do the work; what is written here is the few settings both databases need
the same way (a write transaction that takes SQLite's write lock at once, WAL, one PostgreSQL
migration at a time) so that the two layers cannot drift apart.
"""

from __future__ import annotations

import functools
import json
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection, DateTime, Dialect, Engine, create_engine, event, func, select
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import StaticPool
from sqlalchemy.types import TypeDecorator

T = TypeVar("T")

# Execution option marking write transactions: on SQLite they begin with BEGIN IMMEDIATE.
WRITE = "tenantsync_write"


# -- time ------------------------------------------------------------------------------------------

def utcnow() -> datetime:
    return datetime.now(UTC)


def aware(value: datetime | None) -> datetime | None:
    """A stored time as an aware UTC datetime: SQLite gives naive text back (it was written in
    UTC), PostgreSQL's timestamptz answers in the session time zone."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def parse_iso(text: str) -> datetime:
    """ISO 8601 text as Graph writes it (a trailing 'Z' included), in UTC when it has an offset.
    Text without an offset stays naive: a UTCDateTime column refuses it rather than guess."""
    value = datetime.fromisoformat(text)
    return value if value.tzinfo is None else value.astimezone(UTC)


def format_iso(value: datetime) -> str:
    """An aware datetime as Graph writes it: UTC, seconds, a trailing 'Z'."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC in Python.

    SQLite has no time zone type (SQLAlchemy's DATETIME drops tzinfo), PostgreSQL's timestamptz
    answers in the session time zone: both are normalised here so callers compare like with like.
    A naive datetime is refused, since guessing its zone would shift escrow and quarantine times.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} refused: pass a timezone-aware UTC time")
        value = value.astimezone(UTC)
        # SQLite stores text; without tzinfo the text sorts and compares in time order.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return aware(value)


# -- JSON ------------------------------------------------------------------------------------------

def _json_default(value: Any) -> Any:
    # Graph JSON is text already, but engine code may put a datetime in a log detail.
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _dumps_std(value: Any) -> str:
    return json.dumps(value, default=_json_default)


try:
    # orjson (installed with Prefect) encodes the log's JSON columns ~9x faster, which is a third
    # of a 100k-row append; without it the standard encoder gives the same documents.
    import orjson

    _ORJSON_OPTIONS = orjson.OPT_NON_STR_KEYS

    def dumps(value: Any) -> str:
        """The JSON encoder of every JSON column (the engines' json_serializer, bulk writes)."""
        try:
            return orjson.dumps(value, default=_json_default, option=_ORJSON_OPTIONS).decode()
        except TypeError:  # e.g. an int beyond 64 bits, which the standard encoder writes
            return _dumps_std(value)

    loads: Callable[[str | bytes], Any] = orjson.loads
except ImportError:  # pragma: no cover - orjson comes with Prefect
    dumps = _dumps_std
    loads = json.loads


def json_or_null(value: Any) -> str | None:
    """A JSON column's bind value as text; None stays SQL NULL."""
    return None if value is None else dumps(value)


# -- engines ---------------------------------------------------------------------------------------

def is_memory(url: URL) -> bool:
    return url.get_backend_name() == "sqlite" and (url.database or "") in ("", ":memory:")


def sqlite_file(url: URL) -> Path | None:
    """The file of a SQLite URL; None for memory databases and ``file:`` URIs."""
    database = url.database or ""
    if url.get_backend_name() != "sqlite" or database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database).expanduser()


def open_engine(url: str | URL) -> Engine:
    """An engine for a state store or a directory. PostgreSQL: a pool that tests connections
    before use (a server restart or an idle timeout would otherwise fail the next cycle). SQLite:
    the file's folder is created, WAL, synchronous=NORMAL, and transactions opened with the
    ``WRITE`` execution option (``writer``) take the write lock at once. Both: JSON columns go
    through ``dumps``/``loads``."""
    url = make_url(url)
    json_options: dict[str, Any] = {"json_serializer": dumps, "json_deserializer": loads}
    if url.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, **json_options)
    path = sqlite_file(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    in_memory = is_memory(url)
    options: dict[str, Any] = {"connect_args": {"timeout": 30}}
    if in_memory:
        # "sqlite://": one connection for all threads, else each thread sees its own empty
        # database (SQLAlchemy's default pool for memory databases is per thread).
        options = {"connect_args": {"check_same_thread": False}, "poolclass": StaticPool}
    engine = create_engine(url, **json_options, **options)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # pysqlite starts transactions lazily (not before a SELECT); take control so that a
        # read-then-write is one transaction. SQLAlchemy's documented recipe ("Serializable
        # isolation / Savepoints / Transactional DDL", SQLite dialect).
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


def writer(engine: Engine) -> Engine:
    """The same engine and pool, its transactions marked as writes (``WRITE``)."""
    return engine.execution_options(**{WRITE: True})


def _enable_wal(cursor: Any) -> None:
    """WAL: readers (reports, the UI) do not block the writes of a cycle, nor the reverse.

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


class PerUrl(Generic[T]):
    """One object per database URL in this process (a Store, a DirectoryTarget), so that tasks and
    flows share its engine and pool and its schema is brought up to date once."""

    def __init__(self) -> None:
        self.by_key: dict[str, T] = {}      # keyed by the URL with its password
        self._lock = threading.Lock()

    @staticmethod
    def key(url: str | URL) -> str:
        return make_url(url).render_as_string(hide_password=False)

    def get(self, url: str | URL, make: Callable[[], T]) -> T:
        key = self.key(url)
        with self._lock:
            found = self.by_key.get(key)
            if found is None:
                found = self.by_key[key] = make()
            return found

    def find(self, url: str | URL) -> T | None:
        """The object ``get`` made for ``url``, if it is still open; never makes one."""
        with self._lock:
            return self.by_key.get(self.key(url))

    def forget(self, item: T) -> None:
        """Drop ``item`` (closed): the next ``get`` for its URL makes a new one."""
        with self._lock:
            for key, cached in list(self.by_key.items()):
                if cached is item:
                    del self.by_key[key]


# -- schema revisions (Alembic) ---------------------------------------------------------------------

@dataclass(frozen=True)
class Migrations:
    """An Alembic script folder and the version table it keeps, one per kind of database. Run in
    process on the caller's connection (env.py reads ``config.attributes["connection"]``)."""

    scripts: Path            # script_location: env.py, versions/
    version_table: str       # distinct per kind: a store and a directory may share one database
    lock_key: int            # PostgreSQL advisory lock: one upgrade of a database at a time
    what: str                # "state store", "directory": the subject of error messages
    metadata: Any            # the tables the revisions build (a MetaData or a tuple of them)

    def config(self, connection: Connection | None = None) -> Any:
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(self.scripts))
        cfg.attributes["connection"] = connection
        return cfg

    def head(self) -> str:
        return _head(str(self.scripts))

    def current(self, conn: Connection) -> str | None:
        from alembic.runtime.migration import MigrationContext

        ctx = MigrationContext.configure(conn, opts={"version_table": self.version_table})
        return ctx.get_current_revision()

    def upgrade(self, engine: Engine, *, error: Callable[[str], Exception],
                prepare: Callable[[Connection], None] | None = None) -> str:
        """Bring the database to the newest revision (``alembic upgrade head``) in one write
        transaction; returns it. ``prepare`` runs first, under the same lock (it may refuse a
        database by raising). A revision this code does not know raises ``error(message)``."""
        from alembic import command
        from alembic.util import CommandError

        head = self.head()
        with writer(engine).begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(select(func.pg_advisory_xact_lock(self.lock_key)))
            if prepare is not None:
                prepare(conn)
            current = self.current(conn)
            if current == head:
                return head
            try:
                command.upgrade(self.config(conn), "head")
            except CommandError as exc:
                raise error(
                    f"{self.what} {engine.url.render_as_string(hide_password=True)} is at schema "
                    f"revision {current!r}, which this tenantsync does not know ({exc}); use a newer "
                    "tenantsync or another database") from None
        return head

    def run_env(self) -> None:
        """The body of the scripts' env.py: migrate the connection the caller passed, or the URL
        of ``sqlalchemy.url`` when ``alembic`` is run by hand (``--sql`` writes the DDL out)."""
        from alembic import context

        config = context.config
        options: dict[str, Any] = {"target_metadata": self.metadata, "version_table": self.version_table}
        if context.is_offline_mode():
            context.configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True, **options)
            with context.begin_transaction():
                context.run_migrations()
            return

        def run(connection: Connection) -> None:
            # SQLite changes columns by copying the table ("batch" mode, Alembic's SQLite docs).
            context.configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite",
                              **options)
            with context.begin_transaction():
                context.run_migrations()

        connection = config.attributes.get("connection")
        if connection is not None:
            run(connection)
            return
        engine = open_engine(config.get_main_option("sqlalchemy.url") or "")
        try:
            with writer(engine).begin() as conn:
                run(conn)
        finally:
            engine.dispose()


@functools.cache
def _head(scripts: str) -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", scripts)
    return ScriptDirectory.from_config(cfg).get_current_head() or ""
