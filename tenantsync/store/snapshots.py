"""Snapshots of source users (raw Graph JSON) and the direct members of assigned groups.

A delta round returns only the properties that changed, so the engine merges it into the last
snapshot to see the whole user; group deltas likewise report member changes, not member lists.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, delete, select, tuple_

from .sql import Repository, bulk_write, id_in, unique
from .tables import memberships as m
from .tables import snapshots as s

_SNAPSHOT = ("config", "object_id", "data")
_MEMBER = ("config", "group_id", "member_id")
_PAIRS_PER_STATEMENT = 400  # two bound values per pair, under SQLite's historical 999 limit


def delete_all(conn: Connection, config: str) -> None:
    conn.execute(delete(s).where(s.c.config == config))
    conn.execute(delete(m).where(m.c.config == config))


class SnapshotsRepository(Repository):
    def snapshots(self, config: str, ids: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
        """Snapshots by object id; ``ids=None`` reads all of the configuration's snapshots."""
        query = select(s.c.object_id, s.c.data).where(s.c.config == config)
        with self._read() as conn:
            if ids is not None:
                wanted = unique(ids)
                if not wanted:
                    return {}
                query = query.where(id_in(conn, s.c.object_id, wanted))
            return {row.object_id: row.data for row in conn.execute(query)}

    def save_snapshots(self, config: str, users: Mapping[str, dict[str, Any]]) -> int:
        """Insert or overwrite the snapshots of these users (whole documents, not merged); returns
        how many were written. A snapshot stored already as it is now is not written again (the
        database compares the JSON text, which the same encoder wrote: a restart over 100,000
        users in step writes none; a key order that differs only costs a write)."""
        with self._write() as conn:
            return bulk_write(conn, s, _SNAPSHOT, ((config, oid, data) for oid, data in users.items()),
                              key=("config", "object_id"), changed_only=True)

    def keep_snapshots(self, config: str, ids: Collection[str]) -> None:
        """Remove the snapshots of every object not in ``ids`` (after a full read: the users the
        source no longer has). A set is used as it is (an initial cycle's 100,000 ids: no copy)."""
        wanted = ids if isinstance(ids, (set, frozenset, dict)) else set(ids)
        with self._write() as conn:
            gone = [oid for oid in conn.execute(select(s.c.object_id).where(s.c.config == config)).scalars()
                    if oid not in wanted]
            if gone:
                conn.execute(delete(s).where(s.c.config == config, id_in(conn, s.c.object_id, gone)))

    def remove_snapshots(self, config: str, ids: Iterable[str]) -> None:
        wanted = unique(ids)
        if wanted:
            with self._write() as conn:
                conn.execute(delete(s).where(s.c.config == config, id_in(conn, s.c.object_id, wanted)))

    def replace_snapshots(self, config: str, users: Mapping[str, dict[str, Any]]) -> None:
        """Initial cycle: drop the configuration's snapshots and bulk-insert these, one transaction."""
        with self._write() as conn:
            conn.execute(delete(s).where(s.c.config == config))
            bulk_write(conn, s, _SNAPSHOT, ((config, oid, data) for oid, data in users.items()))

    # direct memberships of assigned groups

    def memberships(self, config: str) -> dict[str, set[str]]:
        """group_id -> direct member ids. A group without members has no row, so it is absent."""
        members: dict[str, set[str]] = {}
        with self._read() as conn:
            for row in conn.execute(select(m.c.group_id, m.c.member_id).where(m.c.config == config)):
                members.setdefault(row.group_id, set()).add(row.member_id)
        return members

    def replace_memberships(self, config: str, members: Mapping[str, set[str]]) -> None:
        with self._write() as conn:
            conn.execute(delete(m).where(m.c.config == config))
            bulk_write(conn, m, _MEMBER, ((config, gid, mid) for gid, mids in members.items()
                                          for mid in mids))

    def change_memberships(self, config: str, added: Iterable[tuple[str, str]],
                           removed: Iterable[tuple[str, str]]) -> None:
        """Apply (group_id, member_id) changes: removals first, then additions, so a pair that is
        in both (removed and added back within one delta) ends up present. Adding a present pair
        or removing an absent one is not an error (a replayed delta page repeats them)."""
        gone = unique(removed)
        with self._write() as conn:
            for start in range(0, len(gone), _PAIRS_PER_STATEMENT):
                pairs = gone[start:start + _PAIRS_PER_STATEMENT]
                conn.execute(delete(m).where(m.c.config == config,
                                             tuple_(m.c.group_id, m.c.member_id).in_(pairs)))
            bulk_write(conn, m, _MEMBER, ((config, gid, mid) for gid, mid in unique(added)),
                       key=_MEMBER)
