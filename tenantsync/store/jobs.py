"""Job status and quarantine, one row per configuration (Graph's synchronizationJob.status)."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import Connection, select

from .sql import Repository, bulk_write, utcnow
from .tables import jobs as t
from .types import JOB_CODES, JobStatus, Quarantine, check_choice


def load(conn: Connection, config: str) -> JobStatus:
    row = conn.execute(select(t).where(t.c.config == config)).first()
    if row is None:
        return JobStatus()
    quarantine = None
    if row.quarantine_reason is not None:
        quarantine = Quarantine(current_began=row.quarantine_current_began,
                                next_attempt=row.quarantine_next_attempt,
                                reason=row.quarantine_reason,
                                series_began=row.quarantine_series_began,
                                series_count=row.quarantine_series_count,
                                error=row.quarantine_error)
    return JobStatus(code=row.code, quarantine=quarantine, last_execution=row.last_execution,
                     last_successful_execution=row.last_successful_execution,
                     count_successive_complete_failures=row.count_successive_complete_failures,
                     notified_reason=row.notified_reason)


def save(conn: Connection, config: str, job: JobStatus) -> None:
    check_choice("job status code", job.code, JOB_CODES)
    q = job.quarantine
    row = {
        "config": config, "code": job.code,
        "quarantine_current_began": q.current_began if q else None,
        "quarantine_next_attempt": q.next_attempt if q else None,
        "quarantine_reason": q.reason if q else None,
        "quarantine_series_began": q.series_began if q else None,
        "quarantine_series_count": q.series_count if q else None,
        "quarantine_error": q.error if q else None,
        "last_execution": job.last_execution,
        "last_successful_execution": job.last_successful_execution,
        "count_successive_complete_failures": job.count_successive_complete_failures,
        "notified_reason": job.notified_reason,
        "updated": utcnow(),
    }
    bulk_write(conn, t, list(row), [list(row.values())], key=("config",))


def lift_quarantine(conn: Connection, config: str) -> None:
    """Restart lifts quarantine (how-provisioning-works, "Restart"; Graph's
    synchronizationJob: restart, resetScope): a job quarantined, or disabled after four
    weeks of quarantine, becomes Active again; Paused and NotRun are the admin's and stay."""
    job = load(conn, config)
    code = "Active" if job.code in ("Quarantine", "Disabled") else job.code
    save(conn, config, replace(job, code=code, quarantine=None, count_successive_complete_failures=0,
                               notified_reason=None))


class JobsRepository(Repository):
    def job(self, config: str) -> JobStatus:
        """The saved status, or a fresh ``JobStatus()`` (code NotRun) for a new configuration."""
        with self._read() as conn:
            return load(conn, config)

    def save_job(self, config: str, job: JobStatus) -> None:
        with self._write() as conn:
            save(conn, config, job)
