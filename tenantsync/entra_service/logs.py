"""A cycle of Microsoft's provisioning service read back into the state store, so that the same
reports (provisioning-log.csv, cycles.csv, summary.html) and artifacts serve both provisioners.

The job's ``status.lastExecution`` (synchronization-synchronizationtaskexecution) tells when the
cycle ran and its counts; the cycle's objects come from ``GET /auditLogs/provisioning``
(provisioningobjectsummary-list) filtered by job and cycle, paged. The reports API allows 5
requests per 10 seconds per application and tenant (Microsoft Graph throttling limits, "Identity
and access reports"): ``REPORTS_WINDOW`` keeps this process under it.

Each provisioningObjectSummary becomes one provisioning-log row (tenantsync/store/log.py COLUMNS)
and one ``Action`` (tenantsync/model.py), so a service cycle is a ``CycleReport`` like the
engine's: the flows publish it, and export it, with the engine's own code. The cycle is recorded
under the service's cycleId, so the CSV's ids are the ones the portal shows. Recording is
idempotent: a cycle reported twice keeps one row, and a log row already kept is not written again.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from ..cycle import CycleReport
from ..model import Action, Change, Step
from ..records import counts
from ..sql import parse_iso
from ..store import JobStatus, Store
from ..store import jobs as job_rows
from ..store.sql import utcnow
from ..store.tables import cycles as cycles_table

REPORTS_REQUESTS = 5          # per window, per application and tenant
REPORTS_WINDOW_S = 10.0
_ACTIONS = {"create": "create", "update": "update", "delete": "delete", "disable": "disable",
            "stageddelete": "stagedDelete", "other": "other"}
_STATUSES = ("success", "failure", "skipped", "warning")


class Window:
    """At most ``requests`` calls in any ``window_s`` seconds, across the threads of a process:
    ``wait()`` before each call sleeps until the oldest of the last ``requests`` calls is a window old."""

    def __init__(self, requests: int = REPORTS_REQUESTS, window_s: float = REPORTS_WINDOW_S, *,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        self.requests, self.window_s, self.clock, self.sleep = requests, window_s, clock, sleep
        self.sent: list[float] = []
        self.lock = threading.Lock()

    def wait(self) -> float:
        """Take a place in the window; returns the seconds waited."""
        waited = 0.0
        with self.lock:
            while True:
                now = self.clock()
                self.sent = [t for t in self.sent if now - t < self.window_s]
                if len(self.sent) < self.requests:
                    self.sent.append(now)
                    return waited
                pause = self.window_s - (now - self.sent[0])
                self.sleep(pause)
                waited += pause


REPORTS_WINDOW = Window()


def read_log(jobs: Any, job_id: str, *, cycle_id: str | None = None, since: datetime | None = None,
             window: Window | None = None) -> list[dict[str, Any]]:
    """Every provisioningObjectSummary of the job (one cycle's, or those since ``since``), each page
    asked for inside the reports window."""
    window = window or REPORTS_WINDOW
    pages: Iterator[list[dict[str, Any]]] = iter(jobs.provisioning_logs(job_id=job_id, cycle_id=cycle_id,
                                                                        since=since))
    out: list[dict[str, Any]] = []
    while True:
        window.wait()
        page = next(pages, None)
        if page is None:
            return out
        out.extend(page)


# -- one provisioningObjectSummary ----------------------------------------------------------------

def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _details(value: Any) -> dict[str, Any]:
    """A step's details (a dict, or a list of key/value pairs); a JSON object held as text (the
    scoping step's ScopeEvaluationResult) is read as the object."""
    if isinstance(value, list):
        value = {str(p.get("key")): p.get("value") for p in value if isinstance(p, Mapping)}
    out: dict[str, Any] = {}
    for k, v in dict(value or {}).items():
        if isinstance(v, str) and v.startswith("{"):
            try:
                v = json.loads(v)
            except ValueError:
                pass
        out[str(k)] = v
    return out


def step_of(s: Mapping[str, Any]) -> Step:
    """provisioningStep (logs: provisioningStepType, lower case) or the on-demand step (type, Capitalised)."""
    status = _text(s.get("status")).lower()
    return Step(name=_text(s.get("name")), type=_text(s.get("provisioningStepType") or s.get("type")).lower(),
                status=status if status in _STATUSES else "warning",  # type: ignore[arg-type]
                description=_text(s.get("description")), details=_details(s.get("details")))


def action_name(value: Any) -> str:
    return _ACTIONS.get(_text(value).lower(), "other")


def status_of(info: Mapping[str, Any] | None) -> tuple[str, str, str]:
    """(status, errorCode, reason) of a provisioningStatusInfo (``errorInformation``; older: ``errorInfo``)."""
    info = info or {}
    err = info.get("errorInformation") or info.get("errorInfo") or {}
    status = _text(info.get("status")).lower()
    return (status if status in _STATUSES else "warning", _text(err.get("errorCode")), _text(err.get("reason")))


def log_row(s: Mapping[str, Any]) -> dict[str, Any]:
    """A provisioningObjectSummary flattened as a provisioning-log.csv row (docs/contracts.md)."""
    status, code, reason = status_of(s.get("provisioningStatusInfo"))
    src, tgt = s.get("sourceIdentity") or {}, s.get("targetIdentity") or {}
    steps = [step_of(x).as_dict() for x in s.get("provisioningSteps") or []]
    if not reason and steps:            # a success says what it did in its last step
        reason = steps[-1]["description"]
    return {"activityDateTime": s.get("activityDateTime"), "id": _text(s.get("id")) or None,
            "jobId": _text(s.get("jobId")), "cycleId": _text(s.get("cycleId")), "changeId": _text(s.get("changeId")),
            "provisioningAction": action_name(s.get("provisioningAction")), "status": status,
            "errorCode": code, "reason": reason,
            "sourceIdentity.id": _text(src.get("id")), "sourceIdentity.displayName": _text(src.get("displayName")),
            "targetIdentity.id": _text(tgt.get("id")), "targetIdentity.displayName": _text(tgt.get("displayName")),
            "modifiedProperties": [{"displayName": _text(p.get("displayName")), "oldValue": p.get("oldValue"),
                                    "newValue": p.get("newValue")} for p in s.get("modifiedProperties") or []],
            "provisioningSteps": steps, "durationInMilliseconds": s.get("durationInMilliseconds")}


def action_of(row: Mapping[str, Any]) -> Action:
    """The Action a provisioning-log row stands for (what the flows' artifacts read)."""
    steps = [step_of(s) for s in row.get("provisioningSteps") or []]
    changes = {p["displayName"]: Change(p.get("oldValue"), p.get("newValue"))
               for p in row.get("modifiedProperties") or [] if p.get("displayName")}
    return Action(kind=row["provisioningAction"], source_id=row["sourceIdentity.id"],
                  target_id=row["targetIdentity.id"] or None, display_name=row["sourceIdentity.displayName"],
                  changes=changes, reason=row["reason"], status=row["status"], error_code=row["errorCode"],
                  steps=steps, target_display_name=row["targetIdentity.displayName"], logged=True)


# -- the store ------------------------------------------------------------------------------------

def when(value: Any) -> datetime | None:
    """A Graph timestamp; Graph's "never" (0001-01-01) is None."""
    if not value:
        return None
    moment = value if isinstance(value, datetime) else parse_iso(str(value))
    return None if moment.year < 2 else moment


def keep_log(store: Store, config: str, rows: Iterable[dict[str, Any]]) -> int:
    """Append the rows not kept yet (by id, per cycle); returns how many were written."""
    fresh: list[dict[str, Any]] = []
    known: dict[str, set[str]] = {}
    for row in rows:
        cid = row["cycleId"]
        if cid not in known:
            known[cid] = {r["id"] for r in store.log(config, cid)}
        if row["id"] and row["id"] in known[cid]:
            continue
        known[cid].add(row["id"])
        fresh.append(row)
    store.append_log(config, fresh)
    return len(fresh)


def record_cycle(store: Store, config: str, *, cycle_id: str, kind: str, started: datetime | None,
                 ended: datetime | None, counts: Mapping[str, int], job: JobStatus, error: str | None = None) -> None:
    """The cycle's row in ts_cycles under the service's cycleId, and the job's status in ts_jobs,
    in one transaction (the store's CyclesRepository makes its own ids, hence the table here)."""
    t = cycles_table
    q = job.quarantine
    values = {"kind": kind, "dry_run": False, "started": started or utcnow(), "ended": ended,
              "status": "failure" if counts.get("failure") or error else "success", "counts": dict(counts),
              "job_status": job.code, "quarantine_reason": q.reason if q else None,
              "quarantine_next_attempt": q.next_attempt if q else None,
              "quarantine_series_count": q.series_count if q else None, "error": error}
    with store._write() as conn:
        found = conn.execute(select(t.c.cycle_id).where(t.c.config == config, t.c.cycle_id == cycle_id)).first()
        if found is None:
            conn.execute(t.insert().values(config=config, cycle_id=cycle_id, **values))
        else:
            conn.execute(update(t).where(t.c.config == config, t.c.cycle_id == cycle_id).values(**values))
        job_rows.save(conn, config, job)


def recorded(store: Store, config: str) -> set[str]:
    """The cycle ids the store holds for the configuration."""
    return {c["cycleId"] for c in store.cycles(config)}


def cycle_report(config: str, cycle_id: str, kind: str, rows: list[dict[str, Any]], job: dict[str, Any], *,
                 message: str = "") -> CycleReport:
    """The CycleReport of a service cycle: counts per action and status of its log rows (as the
    engine counts), the job's status, the staged deletions it logged."""
    actions = [action_of(r) for r in rows]
    staged = sum(1 for a in actions if a.kind == "stagedDelete")
    return CycleReport(config=config, cycle_id=cycle_id, kind=kind, dry_run=False, counts=counts(actions),
                       job=job, message=message, staged=staged, actions=actions)


def execution_counts(execution: Mapping[str, Any] | None) -> dict[str, int]:
    """The synchronizationTaskExecution's count* fields, as the service reported them."""
    return {k: int(v) for k, v in (execution or {}).items() if k.startswith("count") and isinstance(v, int)}


__all__ = ["REPORTS_WINDOW", "Window", "action_of", "cycle_report", "execution_counts", "keep_log", "log_row",
           "read_log", "record_cycle", "recorded", "step_of", "when"]
