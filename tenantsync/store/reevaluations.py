"""Source users the next incremental cycle evaluates again although users/delta will not return
them: a repair changed what scopes them, outside the user object (``tenantsync disable-sms``: the
SMS sign-in state lives on the user's phone method, which users/delta does not carry). The cycle
plans them from their snapshots, like the members of a changed group, and clears them once a
completed cycle has evaluated them."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, select

from .sql import Repository, bulk_write, id_in, unique, utcnow
from .tables import reevaluations as t


class ReevaluationsRepository(Repository):
    def request_reevaluation(self, config: str, source_ids: Iterable[str], reason: str) -> None:
        """Ask the next cycle to evaluate these source users again (idempotent)."""
        ids = unique(source_ids)
        if not ids:
            return
        now = utcnow()
        with self._write() as conn:
            bulk_write(conn, t, ("config", "source_id", "reason", "requested"),
                       [(config, i, reason, now) for i in ids], key=("config", "source_id"))

    def reevaluations(self, config: str) -> dict[str, str]:
        """source id -> why it is to be evaluated again."""
        with self._read() as conn:
            rows = conn.execute(select(t.c.source_id, t.c.reason).where(t.c.config == config)).all()
        return {row.source_id: row.reason for row in rows}

    def clear_reevaluations(self, config: str, source_ids: Iterable[str] | None = None) -> None:
        """Forget the requests of these users (None: all of the configuration's)."""
        with self._write() as conn:
            stmt = delete(t).where(t.c.config == config)
            if source_ids is not None:
                ids = unique(source_ids)
                if not ids:
                    return
                stmt = stmt.where(id_in(conn, t.c.source_id, ids))
            conn.execute(stmt)
