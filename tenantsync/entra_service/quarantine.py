"""The service's quarantine as tenantsync keeps and shows it (application-provisioning-quarantine-status;
synchronization-synchronizationstatus, synchronization-synchronizationquarantine).

The job's ``status`` (code, quarantine {reason, currentBegan, nextAttempt, seriesBegan, seriesCount,
error}) is read into the state store's job row (ts_jobs), so the reports, the summary and the
command line say what they say for the engine's own quarantine; entering quarantine, or a new
reason, sends the same notification (tenantsync/quarantine.py, tenantsync/ops/notify.py) once.

Getting out is the service's verb: ``restart`` with resetScope ``QuarantineState, Escrows,
Watermark`` after a fix (synchronization-synchronizationjob-restart), or ``ForceDeletes`` when an
administrator allows the deletions staged over the accidental-deletion threshold (accidental-deletions;
quarantine reason ``TooManyDeletes``, the log's ``StagedDelete`` rows).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from ..config import SyncConfig
from ..quarantine import JobKeeper
from ..store import JobStatus, Quarantine, Store
from .logs import when

LIFT_SCOPE = "QuarantineState, Escrows, Watermark"      # the doc example of restart after a fix
FORCE_DELETES = "ForceDeletes"
TOO_MANY_DELETES = "TooManyDeletes"
_CODES = {"Active": "Active", "Paused": "Paused", "Quarantine": "Quarantine", "NotRun": "NotRun",
          "NotConfigured": "NotRun", "Disabled": "Disabled"}

Notify = Callable[[str, str], None]


def job_status(job: Mapping[str, Any], previous: JobStatus | None = None) -> JobStatus:
    """The synchronizationJob's status as the store's JobStatus (kept: the reason last notified)."""
    status = job.get("status") or {}
    code = _CODES.get(str(status.get("code") or ""), "NotRun")
    q = status.get("quarantine") or None
    quarantine = None
    if code == "Quarantine" or q:
        q = q or {}
        now = datetime.now(UTC)
        began = when(q.get("currentBegan")) or now
        quarantine = Quarantine(current_began=began, next_attempt=when(q.get("nextAttempt")) or began,
                                reason=str(q.get("reason") or "Unknown"),
                                series_began=when(q.get("seriesBegan")) or began,
                                series_count=int(q.get("seriesCount") or 1), error=q.get("error") or None)
        code = "Quarantine" if code in ("Active", "NotRun") else code
    last = status.get("lastExecution") or {}
    good = status.get("lastSuccessfulExecution") or {}
    prev = previous or JobStatus()
    return JobStatus(code=code, quarantine=quarantine,
                     last_execution=when(last.get("timeEnded")) or prev.last_execution,
                     last_successful_execution=when(good.get("timeEnded")) or prev.last_successful_execution,
                     count_successive_complete_failures=int(status.get("countSuccessiveCompleteFailures") or 0),
                     notified_reason=prev.notified_reason if quarantine else None)


def observe(store: Store, cfg: SyncConfig, job: Mapping[str, Any], *, notify: Notify | None = None,
            save: bool = True) -> JobStatus:
    """Read the job's status into ts_jobs; notify once when it enters quarantine or its reason changes."""
    seen = job_status(job, store.job(cfg.name))
    q = seen.quarantine
    if q is not None and seen.notified_reason != q.reason:
        JobKeeper(store, cfg, notify=notify)._notify(q.reason, q)   # the engine's e-mail and notifications.csv row
        seen.notified_reason = q.reason
    if save:
        store.save_job(cfg.name, seen)
    return seen


def describe(status: JobStatus) -> dict[str, Any]:
    """The job in a ProcedureResult (the engine's shape: code, quarantine {reason, currentBegan, ...})."""
    return JobKeeper.describe(status)


def quarantine_reason(job: Mapping[str, Any]) -> str | None:
    status = job.get("status") or {}
    q = status.get("quarantine") or {}
    return str(q.get("reason") or "Unknown") if status.get("code") == "Quarantine" or q else None


def staged_rows(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The StagedDelete rows of a cycle as the store's staged deletions (pending-deletions.csv)."""
    return [{"source_id": r["sourceIdentity.id"], "target_id": r["targetIdentity.id"] or None,
             "action": "disable" if any(p.get("displayName") == "accountEnabled"
                                        for p in r.get("modifiedProperties") or []) else "delete",
             "reason": r["reason"] or "Staged: the cycle crossed the accidental-deletion threshold",
             "displayName": r["sourceIdentity.displayName"] or r["targetIdentity.displayName"]}
            for r in rows if r["provisioningAction"] == "stagedDelete" and r["sourceIdentity.id"]]


def keep_staged(store: Store, config: str, cycle_id: str, rows: Sequence[Mapping[str, Any]]) -> int:
    staged = staged_rows(rows)
    if staged:
        store.stage_deletions(config, cycle_id, staged)
    return len(staged)


def lift(jobs: Any, sp_id: str, job_id: str, *, scope: str = LIFT_SCOPE) -> None:
    """Restart after a fix (lifts the quarantine) or with ForceDeletes (applies the staged deletions)."""
    jobs.restart(sp_id, job_id, scope)


__all__ = ["FORCE_DELETES", "LIFT_SCOPE", "TOO_MANY_DELETES", "describe", "job_status", "keep_staged", "lift",
           "observe", "quarantine_reason", "staged_rows"]
