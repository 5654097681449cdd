"""Cycle records: one row per cycle, the source of cycles.csv.

Statuses: ``running``, ``success``, ``failure`` (closed by the cycle itself: users failed, or the
cycle stopped on an error, the reason in ``error``) and ``crashed``: the process running it ended
without closing it (killed, power cut). A running row keeps its holder (host/pid/start time, the
lock's format, store/locks.py) in ``counts`` until it is closed; ``close_abandoned`` -- called by
every cycle as it begins -- closes the running rows whose holder is gone: on this host its process
no longer runs (the same process, by start time), on another host it no longer holds the
configuration's lock. The crashed row gets the time it was found, the reason, and the counts of
the provisioning-log rows it had written: cycles.csv then tells what it did before it died.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Row, func, select, update

from . import jobs
from . import locks as _locks
from .sql import Repository, utcnow
from .tables import cycles as t
from .tables import provisioning_log as plog
from .types import CYCLE_KINDS, JobStatus, check_choice

HOLDER = "holder"      # key of the running cycle's holder in ``counts`` (removed when closed)
_ACTIONS = ("create", "update", "delete", "disable", "stagedDelete", "other")
_STATUSES = ("success", "failure", "skipped", "warning")


def _holder_gone(repo: Any, config: str, holder: str | None) -> bool:
    if not holder:
        return False
    host, _, rest = holder.partition("/")
    pid_text, _, started = rest.partition("/")
    if host == _locks.HOST:
        try:
            pid = int(pid_text)
        except ValueError:
            return False
        if not _locks._pid_alive(pid):
            return True
        now_started = _locks._start_ticks(pid)
        return bool(started and now_started and now_started != started)
    # Another host: a cycle runs under the configuration's lock; gone once it no longer holds it.
    lease = _locks.holder(repo.engine, config)
    return lease is None or lease.holder != holder or not lease.alive()


def _log_counts(conn: Any, config: str, cycle_id: str) -> dict[str, int]:
    """Counts of a cycle's provisioning-log rows (as finish would have counted them)."""
    out = dict.fromkeys((*_ACTIONS, *_STATUSES), 0)
    for column in (plog.c.provisioning_action, plog.c.status):
        query = select(column, func.count()).where(plog.c.config == config,
                                                   plog.c.cycle_id == cycle_id).group_by(column)
        for value, n in conn.execute(query):
            if value in out:
                out[value] += int(n)
    return out


def _as_dict(row: Row[Any]) -> dict[str, Any]:
    return {"cycleId": row.cycle_id, "kind": row.kind, "dryRun": row.dry_run,
            "started": row.started, "ended": row.ended, "status": row.status,
            "counts": {k: v for k, v in (row.counts or {}).items() if k != HOLDER},
            "jobStatus": row.job_status,
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
                                           dry_run=dry_run, started=utcnow(), status="running",
                                           counts={HOLDER: _locks.me()}))
        return cycle_id

    def close_abandoned(self, config: str, *, found_by: str = "") -> list[dict[str, Any]]:
        """Close as ``crashed`` the running cycles whose process is gone (module doc); returns
        them as closed. A cycle whose holder is alive (or unknown: an older store) is left alone."""
        with self._read() as conn:
            rows = conn.execute(select(t.c.cycle_id, t.c.counts, t.c.started)
                                .where(t.c.config == config, t.c.status == "running")).all()
        gone = [r for r in rows if _holder_gone(self, config, (r.counts or {}).get(HOLDER))]
        if not gone:
            return []
        now, closed = utcnow(), []
        with self._write() as conn:
            for r in gone:
                logged = _log_counts(conn, config, r.cycle_id)
                holder = (r.counts or {}).get(HOLDER, "")
                host, _, rest = holder.partition("/")
                reason = (f"crashed: the process running this cycle (host {host}, pid "
                          f"{rest.split('/')[0]}) ended without closing it (killed or stopped); "
                          f"closed {now:%Y-%m-%d %H:%M:%S} UTC"
                          + (f" by cycle {found_by}" if found_by else "")
                          + f"; {sum(logged.get(s, 0) for s in _STATUSES)} provisioning-log rows "
                            "written before it ended are kept")
                conn.execute(update(t).where(t.c.config == config, t.c.cycle_id == r.cycle_id,
                                             t.c.status == "running")
                             .values(ended=now, status="crashed", counts=logged, error=reason))
                closed.append({"cycleId": r.cycle_id, "counts": logged, "error": reason})
        return closed

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

    def logged_counts(self, config: str, cycle_id: str) -> dict[str, int]:
        """Counts of the provisioning-log rows a cycle wrote (a cycle closed before its finish)."""
        with self._read() as conn:
            return _log_counts(conn, config, cycle_id)

    def cycles(self, config: str) -> list[dict[str, Any]]:
        """All cycles of the configuration, in start order."""
        with self._read() as conn:
            rows = conn.execute(select(t).where(t.c.config == config).order_by(t.c.seq))
            return [_as_dict(row) for row in rows]
