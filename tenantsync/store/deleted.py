"""Deleted configurations: a mark that stops every later cycle, and a copy of a configuration's
rows into an archive store.

Deleting a configuration never drops its state ("Delete a configuration", Configure cross-tenant
synchronization; "If the sync relationship is severed ... no changes are made to the external users
previously managed", Cross-tenant synchronization overview FAQ). The rows stay where they are, so
that reports keep reading them and a restore is exact (the mark is lifted); the archive is a
self-contained copy, in the same tables, that survives the store being reused or removed.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, Column, String, Table, Text, delete, func, insert, select
from sqlalchemy.engine import make_url

from tenantsync.errors import ConfigError
from tenantsync.sql import UTCDateTime, sqlite_file

from .sql import Repository, bulk_write, utcnow
from .tables import metadata

deleted_configs = Table(
    "ts_deleted_configs", metadata,
    Column("config", String, primary_key=True),
    Column("deleted", UTCDateTime, nullable=False),
    Column("archive", Text),                         # the archive store's URL (password hidden)
    Column("details", JSON(none_as_null=True)),      # row counts, links left in the target, ...
)

CHUNK = 5000


class ConfigDeleted(ConfigError):
    """The configuration was deleted (tenantsync delete-config): no cycle runs until it is restored.
    A ConfigError, so the command line exits 2 (the configuration given is refused)."""


def restore_hint(config: str) -> str:
    return (f"To use {config} again: `tenantsync delete-config CONFIG --restore` (lifts the mark and "
            "resumes its deployments; the state is as it was at deletion).")


class DeletedRepository(Repository):
    def deleted_mark(self, config: str) -> dict[str, Any] | None:
        """{'deleted': datetime, 'archive': url, 'details': {...}} or None when not deleted."""
        with self._read() as conn:
            row = conn.execute(select(deleted_configs).where(deleted_configs.c.config == config)).first()
        return None if row is None else {"deleted": row.deleted, "archive": row.archive,
                                         "details": row.details or {}}

    def mark_deleted(self, config: str, *, archive: str | None, details: dict[str, Any],
                     when: datetime | None = None) -> datetime:
        when = when or utcnow()
        with self._write() as conn:
            conn.execute(delete(deleted_configs).where(deleted_configs.c.config == config))
            conn.execute(insert(deleted_configs).values(config=config, deleted=when, archive=archive,
                                                        details=details))
        return when

    def unmark_deleted(self, config: str) -> bool:
        """Lift the mark; True when there was one."""
        with self._write() as conn:
            return bool(conn.execute(delete(deleted_configs).where(deleted_configs.c.config == config)).rowcount)

    def refuse_if_deleted(self, config: str) -> None:
        """Raise ConfigDeleted, naming the archive and how to restore, when ``config`` is deleted."""
        mark = self.deleted_mark(config)
        if mark is not None:
            raise ConfigDeleted(
                f"configuration {config!r} was deleted on {mark['deleted']:%Y-%m-%d %H:%M} UTC (tenantsync "
                f"delete-config): no cycle runs, and its synced users were left as they are in the target. "
                f"Its state is archived in {mark['archive'] or 'the state store'}. {restore_hint(config)}")

    def config_row_counts(self, config: str) -> dict[str, int]:
        """Rows per table holding ``config`` (tables without rows left out)."""
        counts: dict[str, int] = {}
        with self._read() as conn:
            for table in _config_tables():
                n = conn.execute(select(func.count()).select_from(table)
                                 .where(table.c.config == config)).scalar_one()
                if n:
                    counts[table.name] = int(n)
        return counts

    def copy_config_to(self, config: str, archive: Repository) -> dict[str, int]:
        """Copy every row of ``config`` into ``archive`` (a store with the same tables), in one
        transaction on the archive's side. Returns the rows copied per table."""
        copied: dict[str, int] = {}
        with self._read() as src, archive._write() as dst:
            for table in _config_tables():
                columns = [c.name for c in table.columns]
                result = src.execution_options(yield_per=CHUNK).execute(
                    select(table).where(table.c.config == config))
                n = 0
                for rows in result.partitions():
                    bulk_write(dst, table, columns, (tuple(r) for r in rows))
                    n += len(rows)
                if n:
                    copied[table.name] = n
        return copied


def _config_tables() -> list[Table]:
    """Every table with a ``config`` column, in dependency order (the mark itself included)."""
    return [t for t in metadata.sorted_tables if "config" in t.c]


def default_archive_dir(state_url: str) -> Path:
    """Beside a SQLite store's file (``<folder>/archive``); data/state/archive for other stores."""
    path = sqlite_file(make_url(state_url))
    return path.parent / "archive" if path is not None else Path("data/state/archive")
