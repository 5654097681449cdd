"""Escrows: per-object failures retried in later cycles with gradually lower frequency
(reference §4.2). The store keeps the count and computes the next retry time."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, func, select

from .sql import Repository, bulk_write, id_in, unique
from .tables import escrows as t

FIRST_RETRY = timedelta(minutes=40)  # one incremental interval
MAX_RETRY = timedelta(hours=24)


def retry_delay(failures: int) -> timedelta:
    """40 min * 2**(failures-1), capped at 24 h (the cap is reached at the 7th failure; capping the
    exponent first keeps a long-failing object from building a huge number)."""
    return min(FIRST_RETRY * int(2 ** min(max(failures, 1) - 1, 16)), MAX_RETRY)


def delete_all(conn: Connection, config: str) -> None:
    conn.execute(delete(t).where(t.c.config == config))


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
        ids = unique(source_ids)
        if ids:
            with self._write() as conn:
                conn.execute(delete(t).where(t.c.config == config, id_in(conn, t.c.source_id, ids)))

    def count_escrows(self, config: str) -> int:
        with self._read() as conn:
            query = select(func.count()).select_from(t).where(t.c.config == config)
            return int(conn.execute(query).scalar_one())

    def clear_all_escrows(self, config: str) -> None:
        with self._write() as conn:
            delete_all(conn, config)
