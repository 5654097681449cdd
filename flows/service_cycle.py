"""``provisioner: entra``: the sync cycle, provision on demand and the UPN repair done by Microsoft's
provisioning service (tenantsync/entra_service/), with the engine's reports, artifacts and results.

The sync-cycle, provision-on-demand and repair-upn flows call in here when the configuration says
``provisioner: entra``; the deployments, the command line and the UI forms stay theirs. A service
cycle is published by flows/sync.py's own ``_finished`` (summary, counts, reports), on-demand runs by
flows/ondemand.py's, the repair by flows/repair.py's. The approval of staged deletions is
flows/_approval.py's (pause, or suspend for a deployment's run); approved, the job is restarted
with ForceDeletes and the cycle that applies them is followed to its end.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from contextlib import nullcontext
from typing import Any

from prefect import get_run_logger, runtime
from prefect.exceptions import FlowPauseTimeout
from prefect.flow_runs import pause_flow_run
from prefect.states import State

from tasks.limits import CycleBusy, cycle_lock, on_demand_window
from tenantsync.config import SyncConfig
from tenantsync.cycle import CycleReport
from tenantsync.entra_service import ServiceError, explain, resolve_ids, service_jobs
from tenantsync.entra_service import follow as svc
from tenantsync.entra_service import ondemand as svc_ondemand
from tenantsync.entra_service import quarantine as svc_quarantine
from tenantsync.entra_service import repair as svc_repair
from tenantsync.errors import GraphError, SetupRequired, TenantSyncError
from tenantsync.ops.ondemand import check_user_ids
from tenantsync.ops.repair import RepairResult
from tenantsync.results import ProcedureResult
from tenantsync.store import Store

from . import _approval as approval
from ._common import final_state, notifier

# How long a run follows a cycle (s); the service goes on without it. Tests shorten the polling.
FOLLOW_TIMEOUT_S = float(os.environ.get("TENANTSYNC_SERVICE_FOLLOW_S", "3600"))
POLL_FIRST_S = float(os.environ.get("TENANTSYNC_SERVICE_POLL_S", "1"))


def polling(timeout_s: float | None = None) -> svc.Polling:
    log = get_run_logger()
    return svc.Polling(first_s=POLL_FIRST_S, timeout_s=timeout_s or FOLLOW_TIMEOUT_S,
                       on_poll=lambda job: log.debug("job status %s", (job.get("status") or {}).get("code")))


def service_sync(cfg: SyncConfig, *, restart: bool | str = False, dry_run: bool = False,
                 allow_deletes: bool = False, approval_timeout_s: int = 3600, reports_dir: str,
                 follow_s: float | None = None) -> State:
    """The sync-cycle flow's body for ``provisioner: entra``."""
    from .sync import _export, _finished, _rejected, _skipped

    log, store = get_run_logger(), Store.for_url(cfg.state_url)
    decided = approval.resumed()          # a run suspended for approval, resumed (flows/_approval.py)
    if decided is not None and not decided.approve:
        return _rejected(cfg, store, decided)
    try:
        with service_jobs(cfg, dry_run=dry_run) as jobs, \
                (nullcontext() if dry_run else cycle_lock(cfg.name, cfg.state_url)):
            ids = _ids_or_first_setup(cfg, jobs, store, dry_run=dry_run)
            ref = svc.JobRef(jobs, str(ids.sp_id), str(ids.job_id))
            job = ref.read()
            initial = bool(restart) or not svc.has_run(job)
            scope = svc.reset_scope(restart)
            if dry_run:
                return _planned(cfg, store, job, initial=initial, scope=scope)
            if decided is not None or (allow_deletes and svc_quarantine.quarantine_reason(job)
                                       == svc_quarantine.TOO_MANY_DELETES):
                reports = _force_deletes(ref, store, cfg, job, follow_s)
            elif initial:
                started = svc.begin(ref, scope=scope, job=job)
                log.info("%s: %s: following the service's initial cycle", cfg.name, started.verb)
                job = svc.follow(ref, started, polling(follow_s))
                reports = svc.report_cycles(ref, store, cfg, job, kind="initial", notify=notifier(cfg))
            else:
                reports = _incremental(ref, store, cfg, job, follow_s)
            if not reports:
                return _nothing_new(cfg, store, ref.read())
            last = reports[-1]
            if _held(last) and (allow_deletes or _approved(cfg, store, last, approval_timeout_s)):
                reports += _force_deletes(ref, store, cfg, ref.read(), follow_s)
    except CycleBusy as exc:
        return _skipped(cfg, store, exc)
    except GraphError as exc:
        return _failed(cfg, store, explain(exc, "job", cfg))
    except TenantSyncError as exc:           # ServiceError, FollowTimeout
        return _failed(cfg, store, exc)
    for earlier in reports[:-1]:
        _export(cfg, earlier.cycle_id, reports_dir)
    final = reports[-1]
    if len(reports) > 1:
        final.message = " ".join([f"Also reported: {', '.join(r.cycle_id for r in reports[:-1])}.", final.message])
    state = _finished(cfg, final, reports_dir)
    if _held(final) and _can_suspend(approval_timeout_s) and not allow_deletes:
        listed = _listed(cfg, store, final)
        approval.suspend(listed, cfg.name, cfg.settings.deletion_threshold, approval_timeout_s)
    return state


def _incremental(ref: svc.JobRef, store: Store, cfg: SyncConfig, job: dict[str, Any],
                 follow_s: float | None) -> list[CycleReport]:
    """The schedule made Active at the configured interval; every cycle since the last one
    recorded reported, or, when none ended yet, the next one followed to its end."""
    log = get_run_logger()
    paused = svc.schedule_state(job) == "Paused"
    if paused:
        log.warning("%s: the job is paused (tenantsync resume starts it again): reporting what it ran", cfg.name)
    else:
        for note in svc.ensure_schedule(ref, job, cfg.settings.interval_minutes):
            log.info("%s: %s", cfg.name, note)
    reports = svc.report_cycles(ref, store, cfg, job, kind="incremental", notify=notifier(cfg))
    if reports or paused:           # a paused job runs no next cycle to wait for
        return reports
    log.info("%s: no cycle since the last one recorded: following the service's next cycle", cfg.name)
    job = svc.wait_for_next(ref, ref.read(), polling(follow_s or cfg.settings.interval_minutes * 60 + 120))
    return svc.report_cycles(ref, store, cfg, job, kind="incremental", notify=notifier(cfg))


def _force_deletes(ref: svc.JobRef, store: Store, cfg: SyncConfig, job: dict[str, Any],
                   follow_s: float | None) -> list[CycleReport]:
    """Allow deletes: restart with ForceDeletes and follow the cycle that applies them."""
    started = svc.begin(ref, scope=svc_quarantine.FORCE_DELETES, job=job)
    get_run_logger().info("%s: staged deletions allowed: %s", cfg.name, started.verb)
    job = svc.follow(ref, started, polling(follow_s))
    return svc.report_cycles(ref, store, cfg, job, kind="incremental", notify=notifier(cfg))


def _held(report: CycleReport) -> bool:
    return ((report.job.get("quarantine") or {}).get("reason") == svc_quarantine.TOO_MANY_DELETES)


def _can_suspend(timeout_s: int) -> bool:
    return bool(runtime.deployment.id) and timeout_s > 0


def _listed(cfg: SyncConfig, store: Store, report: CycleReport) -> approval.Listed:
    staged = store.staged(cfg.name)
    text = (f"**{len(staged)} deletions** were staged by Microsoft's provisioning service in cycle "
            f"`{report.cycle_id}` of `{cfg.name}` (quarantine reason TooManyDeletes, threshold "
            f"{cfg.settings.deletion_threshold}). None has been applied; the list is in pending-deletions.csv. "
            "Approving restarts the job with resetScope ForceDeletes.")
    return approval.Listed(report.cycle_id, len(staged), text)


def _approved(cfg: SyncConfig, store: Store, report: CycleReport, timeout_s: int) -> bool:
    """A run without a deployment pauses here for the decision (a deployment's run is suspended
    once the cycle is published, see service_sync)."""
    if timeout_s <= 0 or _can_suspend(timeout_s):
        return False
    log = get_run_logger()
    listed = _listed(cfg, store, report)
    log.warning("%d deletions staged by the service: waiting up to %d s for approval", listed.count, timeout_s)
    try:
        answer = pause_flow_run(wait_for_input=approval.form(listed), timeout=timeout_s,
                                poll_interval=1 if timeout_s <= 60 else 5, key=approval.KEY)
    except FlowPauseTimeout:
        approval._back_to_running()
        log.warning("no decision within %d s: the deletions stay staged", timeout_s)
        return False
    log.info("staged deletions %s", "approved" if answer.approve else "rejected: they stay staged")
    return bool(answer.approve)


def _planned(cfg: SyncConfig, store: Store, job: dict[str, Any], *, initial: bool, scope: str | None) -> State:
    text = svc.plan(job, initial=initial, scope=scope, minutes=cfg.settings.interval_minutes)
    shown = svc_quarantine.describe(svc_quarantine.job_status(job, store.job(cfg.name)))
    get_run_logger().info("%s: %s", cfg.name, text)
    return final_state(ProcedureResult(procedure="sync", config=cfg.name, status="success", dry_run=True,
                                       kind="initial" if initial else "incremental", cycle_id="", job=shown,
                                       message=text, details={"staged": 0, "provisioner": "entra"}))


def _nothing_new(cfg: SyncConfig, store: Store, job: dict[str, Any]) -> State:
    """The service ran no cycle the store does not hold yet (its next one had not ended)."""
    status = svc_quarantine.observe(store, cfg, job, notify=notifier(cfg))
    code = status.code
    message = (f"{cfg.name}: no new cycle of the service to report (job status {code}, schedule "
               f"{svc.schedule_state(job)} every {(job.get('schedule') or {}).get('interval')}).")
    get_run_logger().info("%s", message)
    held = status.quarantine is not None
    return final_state(ProcedureResult(
        procedure="sync", config=cfg.name, status="failure" if held else "success",
        reason="quarantined" if held else None, kind="incremental", cycle_id="",
        job=svc_quarantine.describe(status), message=message,
        details={"staged": len(store.staged(cfg.name)), "provisioner": "entra"}), name="Quarantined" if held else None)


def _failed(cfg: SyncConfig, store: Store, exc: TenantSyncError) -> State:
    get_run_logger().error("%s", exc)
    result = ProcedureResult(procedure="sync", config=cfg.name, status="failure",
                             reason="not-configured" if isinstance(exc, ServiceError) and exc.status is None
                             else "service", job=svc_quarantine.describe(store.job(cfg.name)), message=str(exc),
                             details={"staged": len(store.staged(cfg.name)), "provisioner": "entra"})
    return final_state(result)


# -- provision on demand and the UPN repair -----------------------------------------------------

def provision_by_service(cfg: SyncConfig, user_ids: Sequence[str], *, store: Store | None = None) -> CycleReport:
    """flows/ondemand.py's provision_users for ``provisioner: entra``: one provisionOnDemand per
    user inside the global window of 5 requests per 10 seconds (tasks/limits.py)."""
    store = store or Store.for_url(cfg.state_url)
    ids = check_user_ids(list(user_ids))
    with service_jobs(cfg) as jobs:
        ref = _job_ref(cfg, jobs, store)
        try:
            rule = svc_ondemand.rule_id(jobs.schema(ref.sp_id, ref.job_id))
        except GraphError as exc:
            raise SetupRequired(explain(exc, "job", cfg).message) from None
        except svc_ondemand.NoOnDemandRule as exc:    # no schema: setup's work
            raise SetupRequired(str(exc)) from None
        with on_demand_window(len(ids)):
            return svc_ondemand.provision(ref, cfg, ids, store=store, rule=rule)


def _ids_or_first_setup(cfg: SyncConfig, jobs: Any, store: Store, *, dry_run: bool) -> Any:
    """The configuration's service principal and job; the first cycle of a configuration runs
    ``tenantsync setup`` itself when they do not exist yet, as the engine's first cycle registers
    its anchor (a dry run does not: it says to run setup)."""
    try:
        return resolve_ids(cfg, jobs, store)
    except ServiceError:
        if dry_run:
            raise
    from tenantsync.entra_service.setup import run_service_setup

    report = run_service_setup(cfg, store=store)
    if not report.ok:
        raise ServiceError(f"{cfg.name}: first cycle: tenantsync setup failed: {report.message}")
    get_run_logger().info("first cycle of %s: tenantsync setup ran: %s", cfg.name, report.message)
    return resolve_ids(cfg, jobs, store)


def _job_ref(cfg: SyncConfig, jobs: Any, store: Store) -> svc.JobRef:
    """The configuration's job; SetupRequired (nothing ran) when it cannot be found or read."""
    try:
        found = resolve_ids(cfg, jobs, store)
    except GraphError as exc:
        raise SetupRequired(explain(exc, "job", cfg).message) from None
    except ServiceError as exc:           # no service principal or job: setup's work
        raise SetupRequired(str(exc)) from None
    return svc.JobRef(jobs, str(found.sp_id), str(found.job_id))


def repair_by_service(cfg: SyncConfig, *, store: Store) -> RepairResult:
    """flows/repair.py's repair for ``provisioner: entra``: each user through provisionOnDemand."""
    with service_jobs(cfg) as jobs:
        return svc_repair.repair(_job_ref(cfg, jobs, store), cfg, store=store, window=on_demand_window)


__all__ = ["provision_by_service", "repair_by_service", "service_sync"]
