"""Opening a directory database: its engine (tenantsync.sql, SQLite or PostgreSQL), its schema
(the Alembic revisions in migrations/, version table ``directory_alembic_version``), and the two
questions asked without opening a connector (does a directory exist here; disable an instance)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, inspect, update
from sqlalchemy.engine import URL, make_url

from ...sql import Migrations, open_engine, sqlite_file, utcnow, writer
from .tables import VERSION_TABLE, instances, metadata
from .types import DirectoryError

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
MIGRATION_LOCK = 0x7473_6469    # "tsdi": serialises migrations of one PostgreSQL database
CLAIM_LOCK = MIGRATION_LOCK + 1  # serialises claims of the one enabled instance

MIGRATIONS = Migrations(scripts=MIGRATIONS_DIR, version_table=VERSION_TABLE, lock_key=MIGRATION_LOCK,
                        what="directory", metadata=metadata)


def create_directory_engine(url: str | URL) -> Engine:
    url = make_url(url)
    backend = url.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise DirectoryError(f"the directory supports SQLite and PostgreSQL, not {backend}")
    return open_engine(url)


def alembic_config(connection: Connection | None = None) -> Any:
    return MIGRATIONS.config(connection)


def head_revision() -> str:
    return MIGRATIONS.head()


def current_revision(conn: Connection) -> str | None:
    return MIGRATIONS.current(conn)


def upgrade(engine: Engine) -> str:
    """Bring the directory schema to the newest revision (alembic upgrade head); returns it."""
    return MIGRATIONS.upgrade(engine, error=DirectoryError)


def directory_exists(url: str | URL) -> bool:
    """True when ``url`` holds a directory schema (without creating or migrating anything)."""
    url = make_url(url)
    if url.get_backend_name() == "sqlite":
        path = sqlite_file(url)
        if path is None or not path.exists():
            return False
    engine = create_directory_engine(url)
    try:
        with engine.connect() as conn:
            return inspect(conn).has_table(instances.name)
    finally:
        engine.dispose()


def disable_instance(url: str | URL, name: str) -> bool:
    """Mark instance ``name`` disabled in the directory at ``url``, if that directory exists."""
    if not directory_exists(url):
        return False
    engine = create_directory_engine(url)
    try:
        with writer(engine).begin() as conn:
            result = conn.execute(update(instances).where(instances.c.name == name,
                                                          instances.c.enabled.is_(True))
                                  .values(enabled=False, updated_at=utcnow()))
            return bool(result.rowcount)
    finally:
        engine.dispose()
