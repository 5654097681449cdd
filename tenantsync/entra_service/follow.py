"""Cycles run by Microsoft's provisioning service, started and followed through the job API
(synchronization-synchronizationjob-start, -restart, -get; synchronization-synchronizationstatus).

- Initial cycle: ``start`` (or ``restart`` with a resetScope such as ``Full`` or ``Watermark`` when
  the run asks for a restart), then the job is read again, with a growing pause, until the cycle
  it started has ended: ``status.lastExecution`` is a new execution that began after the start and
  has ended, or the job went into quarantine after the start.
- Incremental cycles are the service's own schedule: ``ensure_schedule`` makes it ``Active`` at
  ``settings.interval_minutes`` (``PT{n}M``), and ``new_cycles`` finds every cycle the service ran
  since the last one the store holds (the provisioning log's cycleIds, and the last execution).
- The service has no dry run: ``plan`` says what a run would do without starting anything.

A cycle is identified by the ``activityIdentifier`` of its task execution when the provisioning log
knows it as a cycleId; else by the cycleId of the log rows written while it ran.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ..config import SyncConfig
from ..cycle import CycleReport
from ..errors import TenantSyncError
from ..store import Store
from .logs import cycle_report, execution_counts, keep_log, log_row, read_log, record_cycle, recorded, when
from .quarantine import TOO_MANY_DELETES, describe, keep_staged, observe

WATERMARK = "Watermark"
FULL = "Full"
RESTART = "Watermark, Escrows, QuarantineState"     # the portal's "Restart provisioning" (restart's doc example)
SKEW = timedelta(seconds=2)          # the service's clock against ours
NO_DRY_RUN = ("Microsoft's provisioning service has no dry run: nothing was started and nothing "
              "was written.")


class FollowTimeout(TenantSyncError):
    """The cycle did not end within the time the run was given to follow it."""


@dataclass(frozen=True)
class JobRef:
    """One synchronization job: the connector (tenantsync/connectors/sync_jobs.py) and its ids."""

    jobs: Any
    sp_id: str
    job_id: str

    def read(self) -> dict[str, Any]:
        return dict(self.jobs.job(self.sp_id, self.job_id))


@dataclass
class Polling:
    """How the job is read while a cycle runs: every ``first_s``, growing by ``factor`` to ``max_s``."""

    first_s: float = 1.0
    max_s: float = 30.0
    factor: float = 1.5
    timeout_s: float = 3600.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    on_poll: Callable[[dict[str, Any]], None] | None = field(default=None)


def interval(minutes: int) -> str:
    """settings.interval_minutes as the schedule's ISO 8601 duration."""
    return f"PT{int(minutes)}M"


def reset_scope(restart: bool | str | None) -> str | None:
    """The resetScope of a restart: True is the portal's restart (every object evaluated again,
    escrows cleared, quarantine lifted, links kept); a string is sent as given (``Full``,
    ``Watermark``, ...)."""
    if not restart:
        return None
    return RESTART if restart is True else str(restart)


def last_execution(job: Mapping[str, Any]) -> dict[str, Any]:
    return dict((job.get("status") or {}).get("lastExecution") or {})


def execution_key(job: Mapping[str, Any]) -> str:
    last = last_execution(job)
    return str(last.get("activityIdentifier") or last.get("timeBegan") or "")


def schedule_state(job: Mapping[str, Any]) -> str:
    return str((job.get("schedule") or {}).get("state") or "Disabled")


def has_run(job: Mapping[str, Any]) -> bool:
    """The service ran a cycle of this job before (or runs them on its schedule)."""
    return when(last_execution(job).get("timeEnded")) is not None


# -- starting and following ---------------------------------------------------------------------

@dataclass(frozen=True)
class Started:
    before: str                 # execution_key before the start
    at: datetime                # when we asked
    verb: str                   # start | restart (resetScope ...)
    quarantined: str = ""       # the quarantine's currentBegan before the start ("" none)


def _quarantine_began(job: Mapping[str, Any]) -> str:
    return str(((job.get("status") or {}).get("quarantine") or {}).get("currentBegan") or "")


def begin(ref: JobRef, *, scope: str | None = None, job: Mapping[str, Any] | None = None) -> Started:
    """``start``, or ``restart`` with ``scope``; remembers the execution seen before."""
    job = job if job is not None else ref.read()
    before, quarantined = execution_key(job), _quarantine_began(job)
    at = datetime.now(UTC)
    if scope:
        ref.jobs.restart(ref.sp_id, ref.job_id, scope)
        return Started(before, at, f"restart (resetScope {scope})", quarantined)
    ref.jobs.start(ref.sp_id, ref.job_id)
    return Started(before, at, "start", quarantined)


def cycle_over(job: Mapping[str, Any], started: Started) -> bool:
    """The cycle begun at ``started`` has ended, or the job went into a quarantine since (not the
    one it was in before)."""
    last = last_execution(job)
    began, ended = when(last.get("timeBegan")), when(last.get("timeEnded"))
    if ended is not None and execution_key(job) != started.before and (began or ended) >= started.at - SKEW:
        return True
    status = job.get("status") or {}
    q = status.get("quarantine") or {}
    since = when(q.get("currentBegan"))
    return (status.get("code") == "Quarantine" and since is not None and since >= started.at - SKEW
            and _quarantine_began(job) != started.quarantined)


def follow(ref: JobRef, started: Started, polling: Polling | None = None) -> dict[str, Any]:
    """Read the job, pausing longer each time, until ``cycle_over``; FollowTimeout after ``timeout_s``."""
    p = polling or Polling()
    deadline = p.clock() + p.timeout_s
    pause = p.first_s
    while True:
        job = ref.read()
        if p.on_poll is not None:
            p.on_poll(job)
        if cycle_over(job, started):
            return job
        if p.clock() >= deadline:
            code = (job.get("status") or {}).get("code")
            raise FollowTimeout(f"the service's cycle ({started.verb} at {started.at:%H:%M:%S} UTC) had not "
                                f"ended after {p.timeout_s:.0f} s (job status {code}); it goes on in the "
                                "service: the next incremental run reports it")
        p.sleep(min(pause, max(0.0, deadline - p.clock())))
        pause = min(p.max_s, pause * p.factor)


def wait_for_next(ref: JobRef, job: Mapping[str, Any], polling: Polling | None = None) -> dict[str, Any]:
    """Follow until the service's next scheduled cycle ends (incremental with nothing new yet)."""
    started = Started(execution_key(job), datetime.now(UTC) - timedelta(days=1), "the schedule",
                      _quarantine_began(job))
    return follow(ref, started, polling)


def ensure_schedule(ref: JobRef, job: Mapping[str, Any], minutes: int) -> list[str]:
    """The schedule at ``PT{minutes}M`` and Active: returns what was changed, in words. A job
    paused by an administrator (tenantsync pause) is left paused: the caller says so."""
    notes: list[str] = []
    schedule = dict(job.get("schedule") or {})
    wanted = interval(minutes)
    if schedule.get("interval") != wanted:
        ref.jobs.schedule(ref.sp_id, ref.job_id, {**schedule, "interval": wanted})
        notes.append(f"schedule interval set to {wanted} (was {schedule.get('interval') or 'unset'})")
    if schedule_state(job) == "Disabled":
        ref.jobs.start(ref.sp_id, ref.job_id)
        notes.append("job started: its schedule was Disabled")
    return notes


# -- which cycles are new -----------------------------------------------------------------------

def cycle_id_of(execution: Mapping[str, Any], rows: list[dict[str, Any]]) -> str:
    """The cycleId of an execution: its activityIdentifier when log rows carry it (or none are
    known), else the cycleId of the rows logged while it ran."""
    ident = str(execution.get("activityIdentifier") or "")
    ids = {r["cycleId"] for r in rows}
    if ident and (ident in ids or not rows):
        return ident
    began, ended = when(execution.get("timeBegan")), when(execution.get("timeEnded"))
    inside = [r["cycleId"] for r in rows if began and ended and r["cycleId"]
              and began - SKEW <= (when(r["activityDateTime"]) or began) <= ended + SKEW]
    return inside[-1] if inside else ident or f"execution-{execution.get('timeBegan') or 'unknown'}"


def _on_demand_changes(store: Store, config: str) -> set[str]:
    """The changeIds of the on-demand runs the store recorded (the service logs them too)."""
    return {r["changeId"] for c in store.cycles(config) if c["kind"] == "on-demand"
            for r in store.log(config, c["cycleId"]) if r["changeId"]}


def new_cycles(ref: JobRef, store: Store, config: str, job: Mapping[str, Any], *,
               log_rows: Callable[[list[dict[str, Any]]], list[dict[str, Any]]],
               window: Any = None) -> list[tuple[str, list[dict[str, Any]]]]:
    """(cycleId, log rows) of every cycle the service ran since the last one the store holds,
    oldest first; the last execution is among them (even without rows) unless already recorded.
    ``log_rows`` flattens provisioningObjectSummary items (logs.log_row)."""
    mine = [c for c in store.cycles(config) if c["kind"] in ("initial", "incremental")]
    ends = [c["ended"] or c["started"] for c in mine]
    since = max(ends) - SKEW if ends else None
    last = last_execution(job)
    first = str(last.get("activityIdentifier") or "") if since is None else ""
    # Nothing recorded yet: the cycle just followed only, not the job's whole history.
    rows = log_rows(read_log(ref.jobs, ref.job_id, cycle_id=first or None, since=since, window=window))
    kept = recorded(store, config)
    on_demand = _on_demand_changes(store, config)
    by_cycle: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        if r["cycleId"] and r["cycleId"] not in kept:
            by_cycle.setdefault(r["cycleId"], []).append(r)
    for cid in [c for c, got in by_cycle.items() if all(r["changeId"] and r["changeId"] in on_demand for r in got)]:
        del by_cycle[cid]             # provision on demand's rows, recorded by the on-demand run
    if when(last.get("timeEnded")) is not None:
        cid = cycle_id_of(last, rows)
        if cid not in kept and cid not in by_cycle:
            by_cycle[cid] = []
    order = sorted(by_cycle, key=lambda c: min((str(r["activityDateTime"]) for r in by_cycle[c]), default="~"))
    return [(c, by_cycle[c]) for c in order]


def _said(execution: Mapping[str, Any]) -> str:
    c = execution_counts(execution)
    figures = ", ".join(f"{v:,} {k[5:].lower()}" for k, v in c.items()
                        if k in ("countImported", "countExported", "countEscrowed", "countEntitled"))
    state = execution.get("state")
    return (f"The service's task execution{f' ({state})' if state else ''}: {figures}." if figures or state
            else "")


def report_cycles(ref: JobRef, store: Store, cfg: SyncConfig, job: Mapping[str, Any], *, kind: str,
                  notify: Callable[[str, str], None] | None = None, window: Any = None) -> list[CycleReport]:
    """Record every cycle the service ran since the last one the store holds (its provisioning-log
    rows, its cycles.csv row, the job's status and quarantine, the staged deletions) and return
    their reports, oldest first. The newest is the last execution, of kind ``kind``; the others
    were scheduled, incremental."""
    found = new_cycles(ref, store, cfg.name, job, log_rows=lambda items: [log_row(i) for i in items], window=window)
    status = observe(store, cfg, job, notify=notify, save=False)
    shown = describe(status)
    last = last_execution(job)
    reports: list[CycleReport] = []
    for n, (cid, rows) in enumerate(found):
        newest = n == len(found) - 1
        keep_log(store, cfg.name, rows)
        times = sorted(t for t in (when(r["activityDateTime"]) for r in rows) if t is not None)
        started = when(last.get("timeBegan")) if newest else None
        ended = when(last.get("timeEnded")) if newest else None
        error = (last.get("error") or {}).get("message") if newest else None
        report = cycle_report(cfg.name, cid, kind if newest else "incremental", rows, shown,
                              message=_said(last) if newest else "")
        record_cycle(store, cfg.name, cycle_id=cid, kind=report.kind,
                     started=started or (times[0] if times else None), ended=ended or (times[-1] if times else None),
                     counts=report.counts, job=status, error=error)
        reports.append(report)
    held = status.quarantine is not None and status.quarantine.reason == TOO_MANY_DELETES
    if not held:
        store.clear_staged(cfg.name)           # applied (ForceDeletes) or no longer planned
    elif reports:
        keep_staged(store, cfg.name, reports[-1].cycle_id, found[-1][1])
    store.save_job(cfg.name, status)
    return reports


def plan(job: Mapping[str, Any], *, initial: bool, scope: str | None, minutes: int) -> str:
    """What a run would do, said in a dry run (nothing is started)."""
    state, wanted = schedule_state(job), interval(minutes)
    code = (job.get("status") or {}).get("code") or "NotRun"
    if initial:
        verb = f"restart the job with resetScope {scope}" if scope else "start the job"
        what = f"It would {verb} and follow the initial cycle to its end."
    elif state == "Paused":
        what = "The job is paused: an incremental run would report nothing until it is resumed."
    else:
        what = (f"It would make sure the job's schedule is Active every {wanted} (now {state}, "
                f"{(job.get('schedule') or {}).get('interval') or 'unset'}) and report the cycles the "
                "service ran since the last one recorded.")
    return f"{NO_DRY_RUN} {what} Job status: {code}."


__all__ = ["FULL", "NO_DRY_RUN", "RESTART", "WATERMARK", "FollowTimeout", "JobRef", "Polling", "Started", "begin",
           "cycle_id_of", "cycle_over", "ensure_schedule", "execution_key", "follow", "has_run", "interval",
           "last_execution", "new_cycles", "plan", "report_cycles", "reset_scope", "schedule_state",
           "wait_for_next"]
