"""The state store's schema: Alembic revisions (store/migrations), run when a store is opened.

A store written by tenantsync 0.1.0 has no Alembic version table but its own ``ts_schema_version``
(one row, version 1): it is recognised by that table, checked, and brought to the baseline
revision, which adds the tables an older 0.1 build had not created yet and keeps every row; the
later revisions then run as on any store. Another version in that table is a layout this code
does not know: the store is refused, nothing changed.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Connection, Engine, inspect, text

from tenantsync.errors import TenantSyncError
from tenantsync.sql import Migrations

from .locks import locks as _locks_table
from .tables import metadata

VERSION_TABLE = "ts_alembic_version"
LEGACY_TABLE = "ts_schema_version"     # tenantsync 0.1.0's own version table
LEGACY_VERSION = 1
BASELINE = "0001_store_baseline"

MIGRATIONS = Migrations(
    scripts=Path(__file__).resolve().parent / "migrations",
    version_table=VERSION_TABLE,
    lock_key=0x7473_7374,                 # "tsst": any constant distinct from the directory's
    what="state store",
    metadata=(metadata, _locks_table.metadata),
)


class StoreSchemaError(TenantSyncError):
    """The store was written by a tenantsync with another table layout."""


def upgrade(engine: Engine) -> str:
    """Bring the store at ``engine`` to the newest revision; returns it. Safe to run from several
    processes at once (one waits for the other)."""
    return MIGRATIONS.upgrade(engine, error=StoreSchemaError, prepare=_check_legacy)


def _check_legacy(conn: Connection) -> None:
    if MIGRATIONS.current(conn) is not None or not inspect(conn).has_table(LEGACY_TABLE):
        return
    found = conn.execute(text(f"SELECT MAX(version) FROM {LEGACY_TABLE}")).scalar()
    if found is not None and found != LEGACY_VERSION:
        raise StoreSchemaError(
            f"state store {conn.engine.url.render_as_string(hide_password=True)} has schema version "
            f"{found} (in {LEGACY_TABLE}), which this tenantsync does not know: use the tenantsync "
            "that wrote it, a new store URL, or restart the configurations on an empty store")
