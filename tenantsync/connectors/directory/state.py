"""Sync state (delta links with the fingerprint of what they track) and cycle records."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, delete, select, update

from ...sql import utcnow
from .base import DirectoryBase, as_dict, inserted_id
from .tables import cycles, sync_state


def save_link(conn: Connection, instance: str, resource: str, link: str, fingerprint: str) -> None:
    """Save the delta link of ``resource`` in the caller's transaction (with the page it covers)."""
    now = utcnow()
    where = (sync_state.c.instance == instance) & (sync_state.c.resource == resource)
    done = conn.execute(update(sync_state).where(where)
                        .values(delta_link=link, fingerprint=fingerprint, saved_at=now))
    if not done.rowcount:
        conn.execute(sync_state.insert().values(instance=instance, resource=resource, delta_link=link,
                                                fingerprint=fingerprint, saved_at=now))


class SyncStateMixin(DirectoryBase):
    def delta_links(self, instance: str) -> dict[str, tuple[str, str]]:
        """resource -> (delta link, fingerprint)."""
        with self._read() as conn:
            rows = conn.execute(select(sync_state.c.resource, sync_state.c.delta_link,
                                       sync_state.c.fingerprint)
                                .where(sync_state.c.instance == instance))
            return {r.resource: (r.delta_link, r.fingerprint) for r in rows}

    def clear_delta_links(self, instance: str) -> None:
        with self._write() as conn:
            conn.execute(delete(sync_state).where(sync_state.c.instance == instance))

    # -- cycles ------------------------------------------------------------------------------------
    def start_cycle(self, instance: str, kind: str) -> int:
        with self._write() as conn:
            result = conn.execute(cycles.insert().values(instance=instance, kind=kind, status="running",
                                                         started_at=utcnow()))
            return inserted_id(result)

    def finish_cycle(self, cycle_id: int, status: str, counts: Mapping[str, int], message: str) -> None:
        with self._write() as conn:
            conn.execute(update(cycles).where(cycles.c.id == cycle_id)
                         .values(status=status, counts=dict(counts), message=message, ended_at=utcnow()))

    def cycles(self, instance: str) -> list[dict[str, Any]]:
        with self._read() as conn:
            rows = conn.execute(select(cycles).where(cycles.c.instance == instance)
                                .order_by(cycles.c.id)).mappings().all()
            return [as_dict(r) for r in rows]
