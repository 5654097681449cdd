"""Microsoft's provisioning service as the emulator runs it: each synchronization job's cycles are
tenantsync's own engine cycles (sync_engine.py), on the job's schedule.

synchronization.py's routes call one SyncRunner per Emulator (``runner_for``):
- validate_credentials (synchronization-synchronizationjob-validatecredentials): the target's
  cross-tenant access policy must allow inbound user sync from the source, else 400;
- start (synchronization-synchronizationjob-start): a cycle now (initial), then one every
  schedule.interval (incremental), the interval divided by the emulator's time_scale, in a daemon
  thread per job that calls the emulator over HTTP like any client (so it is throttled and counted);
- pause: no more cycles (the one running ends first); delete: the same, and the job's state goes;
- restart (synchronization-synchronizationjob-restart, synchronizationJobRestartCriteria):
  resetScope Watermark (re-read everything), Escrows (forget recorded failures), QuarantineState
  (lift quarantine), ConnectorDataStore (forget what the job knows of the target: links), Full
  (all of them), ForceDeletes (apply the deletions staged over the threshold); no resetScope is
  the portal's "Restart provisioning" (QuarantineState, Watermark, Escrows); then a cycle now;
- provision_on_demand (synchronization-synchronizationjob-provisionondemand): sync_ondemand.py.
Each cycle sets job.status (synchronization-synchronizationstatus: code, lastExecution and
lastSuccessfulExecution as synchronizationTaskExecution, quarantine) and appends its provisioning
log (provisioning_logs.py) to the source tenant. A target that refuses synchronization quarantines
the job with EncounteredQuarantineException (application-provisioning-quarantine-status); deletions
over the threshold quarantine it with TooManyDeletes, staged until a ForceDeletes restart.
Quarantine (application-provisioning-quarantine-status) runs on the emulator's clock: the retries
at +6 h, +12 h, +24 h after the series began, then every 24 h, and the 4 weeks after which the job
is disabled, are divided by the time scale like the schedule (at 1200, the first retry comes after
18 s). While quarantined the job runs at those retries only, not on its interval; a retry that
succeeds lifts the quarantine. status.quarantine.nextAttempt says when the next retry runs.
The threads stop with the server (server.py calls stop_runner) and when the control API replaces the
directory (control.py's reset calls drop_directory): the jobs of the old tenants are gone.
"""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tenantsync.cycle import CycleOptions, CycleReport
from tenantsync.emulator import provisioning_logs, sync_engine
from tenantsync.emulator.directory import Tenant
from tenantsync.emulator.server import SELF_BASE
from tenantsync.quarantine import JobKeeper
from tenantsync.stages.guard import QUARANTINE_BACKOFF, QUARANTINE_MAX_AGE
from tenantsync.store import Store

log = logging.getLogger("tenantsync.emulator.sync")

RESET_SCOPES = frozenset({"None", "ConnectorDataStore", "Escrows", "Watermark", "QuarantineState", "Full",
                          "ForceDeletes"})
PORTAL_RESTART = frozenset({"QuarantineState", "Watermark", "Escrows"})
DEFAULT_INTERVAL_S = 40 * 60.0
STOP_WAIT_S = 30.0
_DURATION = re.compile(r"P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?")
_runners_lock = threading.Lock()


def interval_seconds(interval: str | None) -> float:
    """An ISO 8601 duration (synchronizationSchedule.interval, e.g. PT40M) in seconds."""
    found = _DURATION.fullmatch(interval or "")
    if not found or not any(found.groups()):
        return DEFAULT_INTERVAL_S
    d, h, m, s = found.groups()
    return int(d or 0) * 86400 + int(h or 0) * 3600 + int(m or 0) * 60 + float(s or 0)


def scaled_next_attempt(series_began: datetime, series_count: int, now: datetime, scale: float) -> datetime:
    """The quarantine's next retry: +6 h, +12 h, +24 h after the series began, then every 24 h
    (application-provisioning-quarantine-status), divided by the time scale; never in the past."""
    total = sum((QUARANTINE_BACKOFF[min(i, len(QUARANTINE_BACKOFF) - 1)] for i in range(series_count)),
                timedelta(0))
    due = series_began + total / scale
    return due if due > now else now + QUARANTINE_BACKOFF[0] / scale


def _iso(when: datetime | None) -> str | None:
    return None if when is None else when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class JobRun:
    """One job's runner state: its store, its thread and what the next cycle must do first."""

    tenant: Tenant
    job: Any
    base: str
    store: Store
    tokens: dict[tuple[str, str], str] = field(default_factory=dict)
    thread: threading.Thread | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    wake: threading.Event = field(default_factory=threading.Event)
    reset: set[str] = field(default_factory=set)
    cycle_lock: threading.Lock = field(default_factory=threading.Lock)
    retry_at: datetime | None = None     # quarantined: the next retry instead of the interval
    gone: bool = False                   # the directory was replaced: nothing more is recorded


class SyncRunner:
    def __init__(self, emulator: Any) -> None:
        self.emulator = emulator
        self.root = tempfile.mkdtemp(prefix="tenantsync-sync-runner-")
        self.runs: dict[str, JobRun] = {}
        self.lock = threading.Lock()
        self.closed = False

    # -- the interface the routes call ----------------------------------------------------------
    def validate_credentials(self, tenant: Tenant, sp_id: str, credentials: dict[str, str], base: str) -> None:
        problem = sync_engine.policy_problem(self.emulator.directory.tenants, tenant, credentials)
        if problem:
            raise sync_engine.refusal(problem)

    def start(self, tenant: Tenant, job: Any, base: str) -> None:
        run = self._run(tenant, job, base)
        with job.lock:
            job.schedule["state"] = "Active"
            if job.status.get("code") in (None, "NotConfigured", "NotRun", "Paused"):
                job.status["code"] = "NotRun" if not job.status.get("lastExecution") else "Active"
        self._ensure_thread(run)

    def pause(self, tenant: Tenant, job: Any) -> None:
        run = self.runs.get(job.id)
        if run is not None:
            run.stop.set()
            run.wake.set()
        with job.lock:
            job.schedule["state"] = "Paused"
            job.status["code"] = "Paused"

    def restart(self, tenant: Tenant, job: Any, reset_scope: set[str], base: str) -> None:
        unknown = set(reset_scope) - RESET_SCOPES
        if unknown:
            raise ValueError(f"resetScope {', '.join(sorted(unknown))} is not one of {', '.join(sorted(RESET_SCOPES))}")
        run = self._run(tenant, job, base)
        scopes = set(reset_scope) - {"None"} or set(PORTAL_RESTART)
        with self.lock:                      # never the cycle's lock: this runs on the server's loop
            run.reset |= scopes
        with job.lock:
            job.schedule["state"] = "Active"
        if not self._ensure_thread(run):
            run.wake.set()                   # the running schedule: its next cycle now

    def delete(self, tenant: Tenant, job: Any) -> None:
        with self.lock:
            run = self.runs.pop(job.id, None)
        if run is not None:
            run.stop.set()
            run.wake.set()
            threading.Thread(target=self._close_run, args=(run,), kwargs={"forget": True}, daemon=True,
                             name=f"tenantsync-sync-close-{job.id[-8:]}").start()

    def provision_on_demand(self, tenant: Tenant, job: Any, rule_id: str, subjects: list[dict[str, Any]],
                            base: str) -> dict[str, Any]:
        from tenantsync.emulator import sync_ondemand

        return sync_ondemand.provision(self, self._run(tenant, job, base), rule_id, subjects)

    def drop_directory(self) -> None:
        """The control API replaced the directory (reset, fixture load): every job of the old
        tenants stops now, without waiting (this runs on the server's event loop), and its store goes."""
        with self.lock:
            runs = [r for r in self.runs.values()
                    if self.emulator.directory.tenant(r.tenant.id) is not r.tenant]
            for run in runs:
                del self.runs[run.job.id]
                run.gone = True
        for run in runs:
            run.stop.set()
            run.wake.set()
            threading.Thread(target=self._close_run, args=(run,), kwargs={"forget": True}, daemon=True,
                             name=f"tenantsync-sync-close-{run.job.id[-8:]}").start()

    def stop(self) -> None:
        """Stop every job's thread (the server is stopping) and remove the stores."""
        with self.lock:
            self.closed = True
            runs = list(self.runs.values())
            self.runs.clear()
        for run in runs:
            run.stop.set()
            run.wake.set()
        for run in runs:
            self._close_run(run)
        shutil.rmtree(self.root, ignore_errors=True)

    # -- jobs and threads -------------------------------------------------------------------------
    def _run(self, tenant: Tenant, job: Any, base: str) -> JobRun:
        with self.lock:
            if self.closed:
                raise RuntimeError("the emulator is stopping")
            run = self.runs.get(job.id)
            if run is None or run.tenant is not tenant:
                url = f"sqlite:///{self.root}/{sync_engine.config_name(job.id)}.db"
                run = self.runs[job.id] = JobRun(tenant, job, base, Store.for_url(url))
            run.base = SELF_BASE.get(self.emulator) or base      # server.own_base
            return run

    def _ensure_thread(self, run: JobRun) -> bool:
        """Start the job's schedule unless it runs; True when started."""
        with self.lock:
            if run.thread is not None and run.thread.is_alive() and not run.stop.is_set():
                return False
            old = run.thread
            run.stop = threading.Event()
            run.thread = threading.Thread(target=self._loop, args=(run, old), daemon=True,
                                          name=f"tenantsync-sync-{run.job.id[-8:]}")
            run.thread.start()
            return True

    def _loop(self, run: JobRun, previous: threading.Thread | None) -> None:
        if previous is not None and previous is not threading.current_thread():
            previous.join()                  # a paused job's last cycle ends before the next one
        stop = run.stop
        while not stop.is_set():
            run.wake.clear()
            if self.emulator.directory.tenant(run.tenant.id) is not run.tenant:
                return                       # the fixture was replaced: the job is gone
            self.cycle(run)
            ended = time.monotonic()
            while not stop.is_set():         # the interval read again each second: a PATCH takes effect
                with run.job.lock:
                    wait = interval_seconds(run.job.schedule.get("interval")) / self.emulator.time_scale
                    if run.job.schedule.get("state") == "Disabled":
                        return               # 4 weeks in quarantine (scaled): only a restart runs it
                if run.retry_at is not None:     # quarantined: the documented retries, not the interval
                    left = (run.retry_at - datetime.now(UTC)).total_seconds()
                else:
                    left = ended + wait - time.monotonic()
                if left <= 0 or run.wake.wait(timeout=min(left, 1.0)):
                    break

    def _close_run(self, run: JobRun, *, forget: bool = False) -> None:
        thread = run.thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=STOP_WAIT_S)
        run.store.close()
        if forget:                           # a deleted job: its state goes with it
            for path in Path(self.root).glob(sync_engine.config_name(run.job.id) + ".db*"):
                path.unlink(missing_ok=True)

    # -- one cycle --------------------------------------------------------------------------------
    def cycle(self, run: JobRun) -> CycleReport | None:
        """One scheduled cycle: the pending restart first, then the engine; job.status and the
        provisioning log follow. None when nothing ran (quarantined and not due yet)."""
        with run.cycle_lock:
            with self.lock:
                scopes, run.reset = set(run.reset), set()
            began = datetime.now(UTC)
            try:
                cfg = sync_engine.job_config(self.emulator.directory, run.tenant, run.job, run.base, run.tokens)
            except ValueError as exc:
                self._failed(run, began, "InvalidConfiguration", str(exc))
                return None
            options = self._apply_reset(cfg.name, run.store, scopes)
            keeper = JobKeeper(run.store, cfg)
            before = run.store.job(cfg.name)
            if not (options.ignore_quarantine or options.allow_deletes):
                waiting = self._not_due(run, cfg.name, began)
                if waiting is not None:
                    self._status(run, began, None, waiting)
                    return None
            # Due (the scaled retry, or a restart): the engine must not wait for its real-time backoff.
            options = replace(options, ignore_quarantine=True)
            secrets = sync_engine.secrets_of(run.tenant, run.job.sp_id)
            problem = sync_engine.policy_problem(self.emulator.directory.tenants, run.tenant, secrets)
            if problem:
                keeper.enter_quarantine("EncounteredQuarantineException", problem)
                job = self._scale_quarantine(run, cfg.name, before)
                self._status(run, began, None, job, error={"code": sync_engine.CHECK_FAILURE, "message": problem})
                return None
            try:
                report = sync_engine.run_engine(cfg, run.store, options)
            except Exception as exc:                     # recorded by the engine; the job says why
                if run.gone or self.emulator.directory.tenant(run.tenant.id) is not run.tenant:
                    return None                          # the directory was replaced under the cycle
                log.warning("synchronization job %s: cycle failed: %s", run.job.id, exc)
                self._status(run, began, None, self._scale_quarantine(run, cfg.name, before),
                             error={"code": type(exc).__name__, "message": str(exc)})
                return None
            if run.gone:
                return None
            self.publish(run, cfg.name, report)
            self._status(run, began, report, self._scale_quarantine(run, cfg.name, before))
            return report

    def _not_due(self, run: JobRun, name: str, now: datetime) -> Any:
        """The stored job when it is quarantined and its scaled retry is not due (None: run now).
        Four weeks in quarantine, scaled, disable it (application-provisioning-quarantine-status)."""
        job = run.store.job(name)
        if job.code == "Disabled":
            return job
        q = job.quarantine
        if job.code != "Quarantine" or q is None:
            return None
        if now - q.series_began > QUARANTINE_MAX_AGE / self.emulator.time_scale:
            job.code = "Disabled"
            run.store.save_job(name, job)
            with run.job.lock:
                run.job.schedule["state"] = "Disabled"
            return job
        return job if now < q.next_attempt else None

    def _scale_quarantine(self, run: JobRun, name: str, before: Any) -> Any:
        """The stored job after a cycle; a quarantine entered or renewed by it gets its next retry on
        the emulator's clock (the engine computed it in real time)."""
        job = run.store.job(name)
        q, prev = job.quarantine, before.quarantine
        if job.code == "Quarantine" and q is not None and (prev is None or q.current_began != prev.current_began):
            q.next_attempt = scaled_next_attempt(q.series_began, q.series_count, datetime.now(UTC),
                                                 self.emulator.time_scale)
            run.store.save_job(name, job)
        return job

    @staticmethod
    def _apply_reset(name: str, store: Store, scopes: set[str]) -> CycleOptions:
        if "Full" in scopes:
            scopes |= {"Watermark", "Escrows", "QuarantineState", "ConnectorDataStore"}
        if scopes & {"Watermark", "Escrows", "QuarantineState", "ConnectorDataStore"}:
            store.reset(name, watermarks="Watermark" in scopes or "ConnectorDataStore" in scopes,
                        escrows="Escrows" in scopes, quarantine="QuarantineState" in scopes,
                        links="ConnectorDataStore" in scopes)
        return CycleOptions(allow_deletes="ForceDeletes" in scopes,
                            ignore_quarantine=bool(scopes & {"QuarantineState", "ForceDeletes"}))

    def publish(self, run: JobRun, name: str, report: CycleReport) -> None:
        """The cycle's provisioning-log rows, as provisioningObjectSummary, into the source tenant."""
        sp = run.tenant.service_principals.get(run.job.sp_id) or {}
        target = sync_engine.secrets_of(run.tenant, run.job.sp_id).get("CompanyId", "")
        rows = [provisioning_logs.summary(row, tenant_id=run.tenant.id, job_id=run.job.id,
                                          sp={"id": run.job.sp_id, "displayName": sp.get("displayName")},
                                          source_tenant=run.tenant.id, target_tenant=target)
                for row in run.store.log(name, report.cycle_id)]
        run.tenant.provisioning_logs.extend(rows)

    def _status(self, run: JobRun, began: datetime, report: CycleReport | None, job: Any,
                error: dict[str, Any] | None = None) -> None:
        ended = datetime.now(UTC)
        c = report.counts if report else {}
        failures = c.get("failure", 0)
        execution = {
            "activityIdentifier": report.cycle_id if report else str(uuid.uuid4()),
            "countEntitled": len(report.actions) if report else 0,
            "countEntitledForProvisioning": len(report.actions) if report else 0,
            "countEscrowed": failures, "countEscrowedRaw": failures,
            "countExported": sum(c.get(k, 0) for k in ("create", "update", "delete", "disable")) - failures
            if report else 0,
            "countExports": sum(c.get(k, 0) for k in ("create", "update", "delete", "disable")) if report else 0,
            "countImported": len(report.actions) if report else 0,
            "countImportedDeltas": len(report.actions) if report and report.kind != "initial" else 0,
            "countImportedReferenceDeltas": 0,
            "state": "Failed" if error or report is None else ("EntryLevelErrors" if failures else "Succeeded"),
            "timeBegan": _iso(began), "timeEnded": _iso(ended),
            "error": None if not error else {**error, "tenantActionable": True}}
        q = job.quarantine
        run.retry_at = q.next_attempt if job.code == "Quarantine" and q is not None else None
        quarantine = None if q is None else {
            "currentBegan": _iso(q.current_began), "nextAttempt": _iso(q.next_attempt), "reason": q.reason,
            "seriesBegan": _iso(q.series_began), "seriesCount": q.series_count, "error": q.error}
        with run.job.lock:
            status = run.job.status
            paused = run.job.schedule.get("state") == "Paused"
            status["code"] = "Paused" if paused else ("Quarantine" if job.code in ("Quarantine", "Disabled") else "Active")
            status["quarantine"] = quarantine
            status["countSuccessiveCompleteFailures"] = job.count_successive_complete_failures
            status["escrowsPruned"] = False   # emulator decision: the engine quarantines, it never prunes escrows
            if report is not None or error is not None:
                status["lastExecution"] = execution
                if execution["state"] == "Succeeded":
                    status["lastSuccessfulExecution"] = execution
                    if execution["countExported"]:
                        status["lastSuccessfulExecutionWithExports"] = execution
                    if not execution["countExports"]:        # steady state: a cycle with nothing to change
                        if status.get("steadyStateFirstAchievedTime") in (None, "0001-01-01T00:00:00Z"):
                            status["steadyStateFirstAchievedTime"] = _iso(ended)
                        status["steadyStateLastAchievedTime"] = _iso(ended)
            if report is not None:
                linked = run.store.count_links(report.config, states=("active", "pending"))
                status["synchronizedEntryCountByType"] = [{"key": "User", "value": linked}]

    def _failed(self, run: JobRun, began: datetime, code: str, message: str) -> None:
        from tenantsync.store.types import JobStatus

        self._status(run, began, None, JobStatus(code="Active"), error={"code": code, "message": message})


def runner_for(emulator: Any) -> SyncRunner:
    """The emulator's one SyncRunner, made on first use."""
    with _runners_lock:
        runner = getattr(emulator, "sync_runner", None)
        if runner is None or runner.closed:
            runner = SyncRunner(emulator)
            emulator.sync_runner = runner
        return runner


def stop_runner(emulator: Any) -> None:
    """Stop the emulator's runner, if it has one (EmulatorServer.stop)."""
    with _runners_lock:
        runner = getattr(emulator, "sync_runner", None)
    if runner is not None:
        runner.stop()


def drop_jobs(emulator: Any) -> None:
    """The directory was replaced (control API reset): stop the jobs of the old tenants now."""
    with _runners_lock:
        runner = getattr(emulator, "sync_runner", None)
    if runner is not None and not runner.closed:
        runner.drop_directory()
