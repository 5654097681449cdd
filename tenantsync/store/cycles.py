"""Cycle records: one row per cycle, the source of cycles.csv."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Row, select, update

from . import jobs
from .sql import Repository, utcnow
from .tables import cycles as t
from .types import CYCLE_KINDS, JobStatus, check_choice


def _as_dict(row: Row[Any]) -> dict[str, Any]:
    return {"cycleId": row.cycle_id, "kind": row.kind, "dryRun": row.dry_run,
            "started": row.started, "ended": row.ended, "status": row.status,
            "counts": row.counts or {}, "jobStatus": row.job_status,
            "quarantineReason": row.quarantine_reason,
            "quarantineNextAttempt": row.quarantine_next_attempt,
            "quarantineSeriesCount": row.quarantine_series_count, "error": row.error}


class CyclesRepository(Repository):
    def start_cycle(self, config: str, kind: str, *, dry_run: bool = False) -> str:
        """Record a cycle as 'running' and return its new cycleId (a uuid4 string)."""
        check_choice("cycle kind", kind, CYCLE_KINDS)
        cycle_id = str(uuid.uuid4())
        with self._write() as conn:
            conn.execute(t.insert().values(config=config, cycle_id=cycle_id, kind=kind,
                                           dry_run=dry_run, started=utcnow(), status="running"))
        return cycle_id

    def finish_cycle(self, config: str, cycle_id: str, *, counts: Mapping[str, int], status: str,
                     job: JobStatus, error: str | None = None) -> None:
        """Close the cycle record and save ``job`` as the configuration's status, in one
        transaction, so the cycle row and the job row never disagree."""
        q = job.quarantine
        with self._write() as conn:
            done = conn.execute(
                update(t).where(t.c.config == config, t.c.cycle_id == cycle_id)
                .values(ended=utcnow(), status=status, counts=dict(counts), job_status=job.code,
                        quarantine_reason=q.reason if q else None,
                        quarantine_next_attempt=q.next_attempt if q else None,
                        quarantine_series_count=q.series_count if q else None, error=error))
            if done.rowcount != 1:
                raise ValueError(f"no cycle {cycle_id!r} in configuration {config!r}: "
                                 "start it with start_cycle() first")
            jobs.save(conn, config, job)

    def cycles(self, config: str) -> list[dict[str, Any]]:
        """All cycles of the configuration, in start order."""
        with self._read() as conn:
            rows = conn.execute(select(t).where(t.c.config == config).order_by(t.c.seq))
            return [_as_dict(row) for row in rows]
