"""The provisioning log: one row per object per cycle, Graph's provisioningObjectSummary flattened
as in provisioning-log.csv (DESIGN.md, reference §9). Written in bulk, once per batch."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select

from .sql import Repository, bulk_write, utcnow
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
        return datetime.fromisoformat(value)  # 3.11 reads a trailing 'Z'; a naive result is refused later
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
    def append_log(self, config: str, rows: Sequence[dict[str, Any]]) -> None:
        """Append rows in one bulk write (see sql.bulk_write). Missing keys default (id: a new uuid4,
        activityDateTime: now, lists: []); an unknown key is refused before anything is written."""
        prepared = [_row(config, entry) for entry in rows]
        if prepared:
            with self._write() as conn:
                bulk_write(conn, t, _COLUMNS, prepared)

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
