"""Escrows: per-object failures retried in later cycles with gradually lower frequency
("Incremental cycles", how-provisioning-works). The store keeps the count and computes the next retry time.

The escrows held are also the job's escrow counter for quarantine: they accrue over the job's
cycles until they succeed or a restart clears them ("clear escrows (to restart the escrow counter
that accrues toward quarantine status)", application-provisioning-quarantine-status). Failures of
reference attributes (manager) are kept apart (ts_reference_escrows): they count toward the
absolute 60,000 limit only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, exists, func, select, update

from .sql import Repository, bulk_write, id_in, unique
from .tables import escrows as t
from .tables import links as links_t
from .tables import reference_escrows as rt

FIRST_RETRY = timedelta(minutes=40)  # one incremental interval
MAX_RETRY = timedelta(hours=24)


def retry_delay(failures: int) -> timedelta:
    """40 min * 2**(failures-1), capped at 24 h (the cap is reached at the 7th failure; capping the
    exponent first keeps a long-failing object from building a huge number)."""
    return min(FIRST_RETRY * int(2 ** min(max(failures, 1) - 1, 16)), MAX_RETRY)


def delete_all(conn: Connection, config: str) -> None:
    """A restart's "Escrows": object and reference escrows alike."""
    conn.execute(delete(t).where(t.c.config == config))
    conn.execute(delete(rt).where(rt.c.config == config))


class EscrowsRepository(Repository):
    def escrows_due(self, config: str, now: datetime) -> dict[str, dict[str, Any]]:
        """Escrowed objects whose retry time has come: source_id -> {failures, next_retry, last_error}."""
        query = (select(t.c.source_id, t.c.failures, t.c.next_retry, t.c.last_error)
                 .where(t.c.config == config, t.c.next_retry <= now))
        with self._read() as conn:
            return {row.source_id: {"failures": row.failures, "next_retry": row.next_retry,
                                    "last_error": row.last_error}
                    for row in conn.execute(query)}

    def record_failures(self, config: str, failures: Mapping[str, str], now: datetime) -> None:
        """Count one more failure per source id (error text kept) and push its retry time back."""
        if not failures:
            return
        with self._write() as conn:
            query = select(t.c.source_id, t.c.failures).where(
                t.c.config == config, id_in(conn, t.c.source_id, list(failures)))
            before = {row.source_id: row.failures for row in conn.execute(query)}
            rows = []
            for source_id, error in failures.items():
                count = before.get(source_id, 0) + 1
                rows.append((config, source_id, count, now + retry_delay(count), error, now))
            bulk_write(conn, t, ("config", "source_id", "failures", "next_retry", "last_error", "updated"),
                       rows, key=("config", "source_id"))

    def clear_escrows(self, config: str, source_ids: Iterable[str]) -> None:
        """Clear the escrows of these source ids. A cycle names every user it did not fail (100,000
        in a restart) where few, if any, are escrowed: those are read first, and only they are
        looked for among the ids."""
        with self._read() as conn:
            held = set(conn.execute(select(t.c.source_id).where(t.c.config == config)).scalars())
        ids = unique(i for i in source_ids if i in held) if held else []
        if ids:
            with self._write() as conn:
                conn.execute(delete(t).where(t.c.config == config, id_in(conn, t.c.source_id, ids)))

    def retry_escrows_at(self, config: str, when: datetime) -> int:
        """Bring every escrow's next retry to ``when`` (no later than it): what the retry delay would
        have let happen by then. Returns how many were due later."""
        with self._write() as conn:
            done = conn.execute(update(t).where(t.c.config == config, t.c.next_retry > when)
                                .values(next_retry=when))
            return int(done.rowcount or 0)

    def count_escrows(self, config: str) -> int:
        with self._read() as conn:
            query = select(func.count()).select_from(t).where(t.c.config == config)
            return int(conn.execute(query).scalar_one())

    def clear_all_escrows(self, config: str) -> None:
        with self._write() as conn:
            delete_all(conn, config)

    def count_job_objects(self, config: str) -> int:
        """Objects the job has provisioned or tried to: linked source users plus escrowed ones
        without a link. The denominator of the 40 % rule, counted over the job like the escrows."""
        escrowed_only = (select(func.count()).select_from(t).where(
            t.c.config == config,
            ~exists().where(links_t.c.config == t.c.config, links_t.c.source_id == t.c.source_id)))
        linked = select(func.count()).select_from(links_t).where(links_t.c.config == config)
        with self._read() as conn:
            return int(conn.execute(linked).scalar_one()) + int(conn.execute(escrowed_only).scalar_one())

    # -- reference attributes (manager) ----------------------------------------------------------
    def record_reference_failures(self, config: str, attribute: str, failures: Mapping[str, str],
                                  now: datetime) -> None:
        """One more failure of ``attribute`` per source id (e.g. a PUT manager/$ref refused)."""
        if not failures:
            return
        with self._write() as conn:
            query = select(rt.c.source_id, rt.c.failures).where(
                rt.c.config == config, rt.c.attribute == attribute, id_in(conn, rt.c.source_id, list(failures)))
            before = {row.source_id: row.failures for row in conn.execute(query)}
            rows = []
            for source_id, error in failures.items():
                count = before.get(source_id, 0) + 1
                rows.append((config, source_id, attribute, count, now + retry_delay(count), error, now))
            bulk_write(conn, rt, ("config", "source_id", "attribute", "failures", "next_retry", "last_error",
                                  "updated"), rows, key=("config", "source_id", "attribute"))

    def clear_reference_escrows(self, config: str, attribute: str, source_ids: Iterable[str]) -> None:
        ids = unique(source_ids)
        if ids:
            with self._write() as conn:
                conn.execute(delete(rt).where(rt.c.config == config, rt.c.attribute == attribute,
                                              id_in(conn, rt.c.source_id, ids)))

    def reference_escrows_due(self, config: str, attribute: str, now: datetime) -> dict[str, dict[str, Any]]:
        query = (select(rt.c.source_id, rt.c.failures, rt.c.next_retry, rt.c.last_error)
                 .where(rt.c.config == config, rt.c.attribute == attribute, rt.c.next_retry <= now))
        with self._read() as conn:
            return {row.source_id: {"failures": row.failures, "next_retry": row.next_retry,
                                    "last_error": row.last_error}
                    for row in conn.execute(query)}

    def count_reference_escrows(self, config: str) -> int:
        with self._read() as conn:
            query = select(func.count()).select_from(rt).where(rt.c.config == config)
            return int(conn.execute(query).scalar_one())
