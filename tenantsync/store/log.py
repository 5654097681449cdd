"""The provisioning log: one row per object per cycle, Graph's provisioningObjectSummary resource
flattened as in provisioning-log.csv. Written in bulk, once per batch.

A row may be written early and replaced later, in one transaction (``replacing``): a create's row
goes out as soon as its invitation succeeded (the user exists from then on), and the row with the
outcome of its PATCH takes its place, under the same id. A process killed in between leaves the
early row: the create is never missing from the log."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select

from tenantsync.sql import parse_iso

from .sql import Repository, bulk_write, id_in, unique, utcnow
from .tables import provisioning_log as t

# Report key -> column. The order is the CSV column order.
COLUMNS: dict[str, str] = {
    "activityDateTime": "activity_date_time",
    "id": "log_id",
    "jobId": "job_id",
    "cycleId": "cycle_id",
    "changeId": "change_id",
    "provisioningAction": "provisioning_action",
    "status": "status",
    "errorCode": "error_code",
    "reason": "reason",
    "sourceIdentity.id": "source_id",
    "sourceIdentity.displayName": "source_display_name",
    "targetIdentity.id": "target_id",
    "targetIdentity.displayName": "target_display_name",
    "modifiedProperties": "modified_properties",
    "provisioningSteps": "provisioning_steps",
    "durationInMilliseconds": "duration_ms",
}
_KEYS = frozenset(COLUMNS)
_SELECTED = [t.c[column] for column in COLUMNS.values()]


_COLUMNS = ("config", *COLUMNS.values())
# Positions in a prepared row (config first, then COLUMNS order) of the values given defaults.
_WHEN, _ID, _MODIFIED, _STEPS, _DURATION = (_COLUMNS.index(c) for c in (
    "activity_date_time", "log_id", "modified_properties", "provisioning_steps", "duration_ms"))


def _when(value: datetime | str | None) -> datetime:
    """activityDateTime as given by the engine (datetime) or as Graph writes it (ISO 8601 text)."""
    if value is None:
        return utcnow()
    if isinstance(value, str):
        return parse_iso(value)  # a naive result is refused by the column, not guessed
    return value


def _row(config: str, entry: dict[str, Any]) -> list[Any]:
    if not entry.keys() <= _KEYS:  # the cheap test first: this runs 100k times per cycle
        unknown = entry.keys() - _KEYS
        raise ValueError(f"provisioning log row has unknown keys {sorted(unknown)} "
                         f"(allowed: {', '.join(COLUMNS)})")
    row: list[Any] = [config, *map(entry.get, COLUMNS)]  # map over the keys: the fast path for 100k rows
    row[_WHEN] = _when(row[_WHEN])
    row[_ID] = row[_ID] or str(uuid.uuid4())
    row[_MODIFIED] = row[_MODIFIED] or []
    row[_STEPS] = row[_STEPS] or []
    if row[_DURATION] is not None:
        row[_DURATION] = round(row[_DURATION])
    return row


class LogRepository(Repository):
    def log_mark(self) -> int:
        """The last row's position (any configuration): rows written from now on come after it,
        so ``append_log(replacing=..., since=mark)`` finds them by primary key, never by a scan."""
        with self._read() as conn:
            return int(conn.execute(select(func.max(t.c.seq))).scalar() or 0)

    def append_log(self, config: str, rows: Sequence[dict[str, Any]], *,
                   replacing: Sequence[str] = (), since: int = 0) -> None:
        """Append rows in one bulk write (see sql.bulk_write). Missing keys default (id: a new uuid4,
        activityDateTime: now, lists: []); an unknown key is refused before anything is written.
        ``replacing``: ids of earlier rows of this configuration, written after position ``since``
        (log_mark), deleted in the same transaction (a create's early row, module doc)."""
        prepared = [_row(config, entry) for entry in rows]
        old = unique(replacing)
        if prepared or old:
            with self._write() as conn:
                if old:
                    conn.execute(delete(t).where(t.c.seq > since, t.c.config == config,
                                                 id_in(conn, t.c.log_id, old)))
                if prepared:
                    bulk_write(conn, t, _COLUMNS, prepared)

    def created_for(self, config: str, source_ids: Sequence[str]) -> set[str]:
        """The source ids among these that have a create row with a target (any cycle)."""
        ids = unique(source_ids)
        if not ids:
            return set()
        with self._read() as conn:
            rows = conn.execute(select(t.c.source_id).where(
                t.c.config == config, t.c.provisioning_action == "create", t.c.target_id != "",
                id_in(conn, t.c.source_id, ids)))
            return {row.source_id for row in rows}

    def log(self, config: str, cycle_id: str | None = None, *,
            action: str | None = None) -> list[dict[str, Any]]:
        """Rows in the append_log shape (activityDateTime as an aware UTC datetime), ordered by
        activityDateTime then insertion order; optionally one cycle's, one action's."""
        query = select(*_SELECTED).where(t.c.config == config)
        if cycle_id is not None:
            query = query.where(t.c.cycle_id == cycle_id)
        if action is not None:
            query = query.where(t.c.provisioning_action == action)
        query = query.order_by(t.c.activity_date_time, t.c.seq)
        keys = list(COLUMNS)
        with self._read() as conn:
            return [dict(zip(keys, row, strict=True)) for row in conn.execute(query)]
