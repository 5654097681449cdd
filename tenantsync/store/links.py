"""Source -> target links: what we created or matched, keyed by source object id."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, Row, delete, func, select

from .sql import Repository, bulk_write, id_in, unique, utcnow
from .tables import links as t
from .types import LINK_STATES, Link, check_choice

_COLUMNS = ("config", "source_id", "target_id", "state", "source_upn", "updated")


def _link(row: Row[Any]) -> Link:
    return Link(source_id=row.source_id, target_id=row.target_id, state=_STATES.get(row.state, row.state),
                source_upn=row.source_upn, updated=row.updated)


_STATES = {s: s for s in LINK_STATES}      # one string per state, not one per row read


def delete_all(conn: Connection, config: str) -> None:
    conn.execute(delete(t).where(t.c.config == config))


class LinksRepository(Repository):
    def links(self, config: str) -> dict[str, Link]:
        """All links of the configuration, by source id, whatever their state."""
        with self._read() as conn:
            rows = conn.execute(select(t).where(t.c.config == config))
            return {row.source_id: _link(row) for row in rows}

    def links_for(self, config: str, source_ids: Iterable[str]) -> dict[str, Link]:
        """The links of these source ids; ids without a link are absent from the answer."""
        ids = unique(source_ids)
        if not ids:
            return {}
        with self._read() as conn:
            rows = conn.execute(select(t).where(t.c.config == config, id_in(conn, t.c.source_id, ids)))
            return {row.source_id: _link(row) for row in rows}

    def upsert_links(self, config: str, links: Iterable[Link]) -> None:
        """Insert or overwrite links; ``updated`` left None becomes now. A repeated source id:
        the last one wins."""
        now = utcnow()
        rows: dict[str, tuple[Any, ...]] = {}
        for link in links:
            check_choice("link state", link.state, LINK_STATES)
            rows[link.source_id] = (config, link.source_id, link.target_id, link.state,
                                    link.source_upn, link.updated or now)
        with self._write() as conn:
            bulk_write(conn, t, _COLUMNS, rows.values(), key=("config", "source_id"))

    def pending_links(self, config: str) -> list[str]:
        """Source ids whose target user was invited but not yet completed (PATCH and anchor)."""
        with self._read() as conn:
            rows = conn.execute(select(t.c.source_id).where(t.c.config == config, t.c.state == "pending"))
            return [row.source_id for row in rows]

    def delete_links(self, config: str, source_ids: Iterable[str]) -> None:
        ids = unique(source_ids)
        if ids:
            with self._write() as conn:
                conn.execute(delete(t).where(t.c.config == config, id_in(conn, t.c.source_id, ids)))

    def count_links(self, config: str, states: Iterable[str] = ("active", "disabled", "pending")) -> int:
        """Links in these states ('deleted', soft-deleted by us, is left out by default)."""
        with self._read() as conn:
            query = select(func.count()).select_from(t).where(t.c.config == config,
                                                              t.c.state.in_(list(states)))
            return int(conn.execute(query).scalar_one())
