"""Staged deletions: removals held back because a cycle crossed the accidental-deletion threshold
(accidental-deletions), kept until an administrator allows them or the cause is fixed."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import delete, select

from .sql import Repository, bulk_write, id_in, unique, utcnow
from .tables import staged_deletions as t
from .types import STAGED_ACTIONS, check_choice

_COLUMNS = ("config", "source_id", "cycle_id", "target_id", "action", "reason", "display_name", "staged")
_ROW_KEYS = frozenset({"source_id", "target_id", "action", "reason", "displayName"})


class StagedRepository(Repository):
    def stage_deletions(self, config: str, cycle_id: str, rows: Sequence[dict[str, Any]]) -> None:
        """Stage rows {source_id, target_id, action ('delete'|'disable'), reason, displayName}.
        An object staged again (a later cycle) keeps only its latest entry."""
        now = utcnow()
        prepared: dict[str, tuple[Any, ...]] = {}
        for row in rows:
            unknown = row.keys() - _ROW_KEYS
            if unknown:
                raise ValueError(f"staged deletion has unknown keys {sorted(unknown)} "
                                 f"(allowed: {', '.join(sorted(_ROW_KEYS))})")
            check_choice("staged action", row["action"], STAGED_ACTIONS)
            prepared[row["source_id"]] = (config, row["source_id"], cycle_id, row.get("target_id"),
                                          row["action"], row.get("reason"), row.get("displayName"), now)
        with self._write() as conn:
            bulk_write(conn, t, _COLUMNS, prepared.values(), key=("config", "source_id"))

    def staged(self, config: str) -> list[dict[str, Any]]:
        """Rows as staged, plus cycle_id and staged (when), oldest first."""
        query = select(t).where(t.c.config == config).order_by(t.c.staged, t.c.source_id)
        with self._read() as conn:
            return [{"source_id": row.source_id, "target_id": row.target_id, "action": row.action,
                     "reason": row.reason, "displayName": row.display_name,
                     "cycle_id": row.cycle_id, "staged": row.staged}
                    for row in conn.execute(query)]

    def clear_staged(self, config: str, source_ids: Iterable[str] | None = None) -> None:
        """Drop the given staged rows, or all of the configuration's (None)."""
        with self._write() as conn:
            if source_ids is None:
                conn.execute(delete(t).where(t.c.config == config))
                return
            ids = unique(source_ids)
            if ids:
                conn.execute(delete(t).where(t.c.config == config, id_in(conn, t.c.source_id, ids)))
