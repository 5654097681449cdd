"""Delta links per resource ('users', 'groups'). The engine saves one only after the changes it
covers are applied, so a cycle killed half-way re-reads those changes next time."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import Connection, delete, select

from .sql import Repository, bulk_write, utcnow
from .tables import watermarks as t


def delete_all(conn: Connection, config: str) -> None:
    conn.execute(delete(t).where(t.c.config == config))


class WatermarksRepository(Repository):
    def watermarks(self, config: str) -> dict[str, str]:
        with self._read() as conn:
            rows = conn.execute(select(t.c.resource, t.c.delta_link).where(t.c.config == config))
            return {row.resource: row.delta_link for row in rows}

    def save_watermarks(self, config: str, marks: Mapping[str, str]) -> None:
        now = utcnow()
        with self._write() as conn:
            bulk_write(conn, t, ("config", "resource", "delta_link", "saved"),
                       [(config, resource, link, now) for resource, link in marks.items()],
                       key=("config", "resource"))

    def clear_watermarks(self, config: str) -> None:
        with self._write() as conn:
            delete_all(conn, config)
