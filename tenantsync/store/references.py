"""Pending references: a reference attribute (manager) whose referenced user is not provisioned
in the target yet, kept until it is.

"For you to provision the manager attribute, both the user and their manager must be in scope"
(cross-tenant-synchronization-overview, FAQ): a user whose manager is not (yet) linked keeps a row
here, and every later cycle sets the manager of the rows whose referenced user has become linked,
without that user changing in the source. Not a failure: a manager outside the scope is normal
(never counted toward quarantine); a refused write is a reference escrow (ts_reference_escrows),
and a row is not retried before its escrow's next retry time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from sqlalchemy import Column, String, Table, delete, exists, select

from tenantsync.sql import UTCDateTime

from .sql import Repository, bulk_write, id_in, unique, utcnow
from .tables import links, metadata
from .tables import reference_escrows as escrows

pending_references = Table(
    "ts_pending_references", metadata,
    Column("config", String, primary_key=True),
    Column("source_id", String, primary_key=True),      # the user whose attribute waits
    Column("attribute", String, primary_key=True),      # 'manager'
    Column("reference_id", String, nullable=False),     # the source id of the referenced user
    Column("updated", UTCDateTime, nullable=False),
)
t = pending_references
LINKED = ("active", "pending")


class ReferencesRepository(Repository):
    def save_pending_references(self, config: str, attribute: str, refs: Mapping[str, str]) -> None:
        """Keep (or replace) source id -> referenced source id until the reference resolves."""
        if refs:
            now = utcnow()
            with self._write() as conn:
                bulk_write(conn, t, ("config", "source_id", "attribute", "reference_id", "updated"),
                           [(config, s, attribute, r, now) for s, r in refs.items()],
                           key=("config", "source_id", "attribute"))

    def drop_pending_references(self, config: str, attribute: str, source_ids: Iterable[str]) -> None:
        ids = unique(source_ids)
        if ids:
            with self._write() as conn:
                conn.execute(delete(t).where(t.c.config == config, t.c.attribute == attribute,
                                             id_in(conn, t.c.source_id, ids)))

    def pending_references(self, config: str, attribute: str) -> dict[str, str]:
        with self._read() as conn:
            rows = conn.execute(select(t.c.source_id, t.c.reference_id).where(
                t.c.config == config, t.c.attribute == attribute))
            return {row.source_id: row.reference_id for row in rows}

    def resolvable_references(self, config: str, attribute: str, now: datetime) -> dict[str, str]:
        """Pending rows whose referenced user is linked now, except those escrowed for a refused
        write whose retry time has not come."""
        linked = exists().where(links.c.config == t.c.config, links.c.source_id == t.c.reference_id,
                                links.c.state.in_(LINKED))
        waiting = exists().where(escrows.c.config == t.c.config, escrows.c.source_id == t.c.source_id,
                                 escrows.c.attribute == t.c.attribute, escrows.c.next_retry > now)
        query = select(t.c.source_id, t.c.reference_id).where(
            t.c.config == config, t.c.attribute == attribute, linked, ~waiting)
        with self._read() as conn:
            return {row.source_id: row.reference_id for row in conn.execute(query)}
