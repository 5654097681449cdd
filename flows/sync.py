"""The sync cycle flow: initial or incremental (restart, dry run, deletion approval).

Above the deletion threshold a deployment's run ends its cycle and is suspended until an
administrator decides, then starts over and applies the list approved; a run without a deployment
pauses in its process (flows/_approval.py says why and how)."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.states import State

from flows import _approval as approval
from tasks.limits import CycleBusy, cycle_lock
from tasks.reports import export_cycle_reports
from tenantsync import remedies, reports
from tenantsync.config import SyncConfig
from tenantsync.cycle import Cycle, CycleOptions, CycleReport
from tenantsync.errors import GraphError, QuarantinedError, SetupRequired
from tenantsync.quarantine import JobKeeper
from tenantsync.quarantine import what_to_do as quarantine_advice
from tenantsync.results import ProcedureResult
from tenantsync.service import open_cycle
from tenantsync.store import Store
from tenantsync.store.locks import Lease

from ._approval import DeletionApproval, ask_approval, staged_rows  # noqa: F401  (their former home)
from ._common import (
    DEFAULT_REPORTS_DIR,
    artifact_key,
    final_state,
    notifier,
    resolve_config,
)
from ._cycle import (
    Progress,
    _md,
    failures_md,
    publish_counts,
    publish_reports,
    quarantine_text,
    report_result,
    run_stages,
)
from .run_names import said_kind, sync_run_name


@flow(name="sync-cycle", flow_run_name=sync_run_name, log_prints=False,
      description="One synchronization cycle: initial when the configuration has no state yet (or "
                  "restart=True), else incremental. Above the deletion threshold the run pauses for "
                  "approval of the staged deletions.")
def sync_cycle(config: str, restart: bool = False, dry_run: bool = False, allow_deletes: bool = False,
               approval_timeout_s: int = 3600, ignore_quarantine: bool = False,
               reports_dir: str = DEFAULT_REPORTS_DIR) -> Any:
    """One synchronization cycle of a configuration.

    Args:
        config: The configuration: a YAML file path (relative to the worker's directory) or the name
            of a SyncConfigBlock.
        restart: Start over with an initial cycle, as the portal's "Restart provisioning": watermarks,
            escrows and the quarantine are cleared; links to target users are kept.
        dry_run: Plan and report only: nothing is written to the target tenant or the state, and the
            reports describe a plan.
        allow_deletes: Apply deletions and disables above the accidental-deletion threshold now (the
            portal's "Allow deletes", ForceDeletes): lifts a TooManyDeletes quarantine.
        approval_timeout_s: When deletions are staged above the threshold, how many seconds the run
            waits, paused, for an administrator to approve them (Resume, approve ticked); 0 does not
            wait and keeps them staged. A deployment's run waits suspended, off its worker: the
            cycle ends first and the state store keeps the staged list.
        ignore_quarantine: Run now even if the job is quarantined and its next attempt is later.
        reports_dir: The reports root; a cycle's reports go under reports_dir/<configuration>/.
    """
    cfg = resolve_config(config)
    if cfg.provisioner == "entra":      # Microsoft's provisioning service runs the cycle (flows/service_cycle.py)
        from .service_cycle import service_sync
        return service_sync(cfg, restart=restart, dry_run=dry_run, allow_deletes=allow_deletes,
                            approval_timeout_s=approval_timeout_s, reports_dir=reports_dir)
    store = Store.for_url(cfg.state_url)
    decided = approval.resumed()        # a run suspended for approval starts over once resumed (_approval.py)
    if decided is not None and not decided.approve:
        return _rejected(cfg, store, decided)
    # allow_deletes is the documented ForceDeletes: it is how a TooManyDeletes quarantine is
    # lifted, so it must not wait for the quarantine's next attempt (+6 h) first; nor does an approval.
    options = CycleOptions(restart=restart and decided is None, dry_run=dry_run, allow_deletes=allow_deletes,
                           ignore_quarantine=ignore_quarantine or allow_deletes or decided is not None)
    waiting: list[approval.Listed] = []     # staged deletions to suspend the run for, once the cycle is over
    # the list approved: what the state store kept staged for the suspended cycle
    approved = approval.approved_list(store, cfg.name, decided.cycle_id) if decided else set()
    progress = Progress(f"{cfg.name} {'dry run' if dry_run else 'cycle'}", key=artifact_key(cfg.name, "progress"))
    cycle: Cycle | None = None
    setup_notes: list[str] = []        # the first cycle of a configuration runs the setup itself
    try:
        with (nullcontext() if dry_run else cycle_lock(cfg.name, cfg.state_url)) as lease, \
                open_cycle(cfg, options, notify=notifier(cfg), store=store, on_setup=setup_notes.append) as cycle:
            for note in setup_notes:
                get_run_logger().info("%s", note)
            report = _run(cycle, progress, approval_timeout_s, reports_dir, lease, decided, approved, waiting)
    except SetupRequired as exc:
        return _refused(cfg, dry_run, exc)
    except (QuarantinedError, CycleBusy) as exc:
        return _skipped(cfg, store, exc)
    except GraphError as exc:
        return _failed(cfg, store, cycle, exc, reports_dir)
    if setup_notes:
        report.message = " ".join([*setup_notes, report.message]).strip()
    state = _finished(cfg, report, reports_dir)
    if waiting and report.staged:      # the lock is released: the run leaves its worker (raises Pause)
        approval.suspend(waiting[0], cfg.name, cfg.settings.deletion_threshold, approval_timeout_s)
    return state


def _run(cycle: Cycle, progress: Progress, timeout_s: int, reports_dir: str, lease: Lease | None,
         decided: approval.Resumed | None, approved: set[tuple[str, str]],
         waiting: list[approval.Listed]) -> CycleReport:
    def staged(c: Cycle) -> bool:
        if decided is not None and approval.covered(c.staged, approved):
            get_run_logger().info("%d staged deletions approved in the Resume form (cycle %s's list): applying them",
                                  len(c.staged), decided.cycle_id)
            return True
        if decided is not None:
            get_run_logger().warning("the deletions planned now are not the list approved (cycle %s's): they are "
                                     "staged again and wait for their own approval", decided.cycle_id)
        if approval.can_suspend(c, timeout_s):     # a deployment's run: suspended once the cycle is over
            waiting.append(approval.list_staged(c, reports_dir))
            return False
        # The lease stays held (renewed) while the run waits; a refused run says why it waits.
        if lease is not None and timeout_s > 0:
            lease.note("paused for deletion approval")
        try:
            return ask_approval(c, timeout_s, reports_dir)
        finally:
            if lease is not None and timeout_s > 0:
                lease.note("sync cycle")

    # The run keeps the name it started with (flows/run_names.py); the log says when the kind differs.
    return run_stages(cycle, progress=progress, on_begun=lambda kind: said_kind(kind, cycle.notes),
                      on_staged=staged)


# -- outcomes --------------------------------------------------------------------------------------

def what_to_do(result: ProcedureResult) -> str:
    job = result.job or {}
    q = job.get("quarantine") or {}
    if result.reason == "busy":
        return ("Wait for the other cycle to end; if it is paused for approval, approve or reject its "
                "staged deletions in the Prefect UI (or cancel it).")
    if q:
        return quarantine_advice(q.get("reason", ""), result.config)
    if result.dry_run:
        return "Nothing was written (dry run). Run again without dry_run to apply these actions."
    if result.counts.get("failure"):
        return ("Some users failed: read provisioning-log.csv (errorCode, reason). They are retried in "
                "later cycles at growing intervals; fix the cause to stop the failures.")
    return "Nothing to do."


def summary_markdown(result: ProcedureResult, paths: dict[str, str], failures: list[str] | None = None) -> str:
    c = result.counts
    title = f"# Sync cycle `{result.config}`: {result.kind or ''}" + (" (dry run)" if result.dry_run else "")
    lines = [title, "", f"**{'OK' if result.ok else 'Needs attention'}**: {result.message}", ""]
    if c and result.dry_run:
        lines += ["Planned actions (none applied):", ""]
    if c:
        lines += ["| " + " | ".join(c) + " |", "|" + "---|" * len(c), "| " + " | ".join(str(v) for v in c.values()) + " |", ""]
    staged = result.details.get("staged")
    if staged:
        lines += [f"**{staged} deletions are staged** (not applied); see pending-deletions.csv.", ""]
    unchanged = " A dry run leaves it as it was." if result.dry_run else ""
    lines += ["## Job status", "", quarantine_text(result.job or {}) + unchanged, ""]
    lines += failures or []
    lines += ["", "## What to do", "", what_to_do(result), ""]
    if paths:
        lines += ["## Reports", ""] + [f"- {name}: `{p}`" for name, p in paths.items()]
    return "\n".join(lines) + "\n"


def _export(cfg: SyncConfig, cycle_id: str, reports_dir: str) -> dict[str, str]:
    if not cycle_id:
        return {}
    try:
        return export_cycle_reports(cfg.state_url, cfg.name, cycle_id, reports_dir)
    except Exception as exc:
        get_run_logger().warning("reports were not exported: %s", exc)
        return {}


def _publish(cfg: SyncConfig, result: ProcedureResult, actions: list, paths: dict[str, str]) -> None:
    dry = f" ({reports.DRY_RUN_NOTE})" if result.dry_run else ""
    publish_counts(cfg.name, actions, f"{cfg.name} cycle {result.cycle_id or ''}: actions by status{dry}")
    create_markdown_artifact(key=artifact_key(cfg.name, "summary"),
                             markdown=summary_markdown(result, paths, failures_md(actions)),
                             description=f"{cfg.name}: {'dry run' if result.dry_run else 'cycle'} summary")
    publish_reports(cfg.name, paths, note=reports.DRY_RUN_NOTE if result.dry_run else "")
    result.details["reports"] = paths


def _finished(cfg: SyncConfig, report: CycleReport, reports_dir: str) -> State:
    result = report_result(report)
    if report.dry_run:      # not "Job status: NotRun." alone: say first that this is a plan
        said = [p for p in report.message.split("; ") if p and not p.startswith("Job status:")]
        result.message = report.message = " ".join([reports.DRY_RUN_NOTE, *said])
    paths = _export(cfg, report.cycle_id, reports_dir)
    _publish(cfg, result, report.actions, paths)
    message = report.message or ("done" if result.ok else "failures: see provisioning-log.csv")
    counts = ", ".join(f"{k} {v}" for k, v in report.counts.items() if v)
    kind = f"{report.kind} cycle" + (" (dry run)" if report.dry_run else "")
    text = f"{cfg.name} {kind}: {counts or 'nothing to do'}. {message}".strip()
    if result.reason in ("quarantined", "staged-deletions"):     # the job ended quarantined (or disabled)
        return final_state(result, message=text, name="Quarantined")
    if result.failed:       # per-object failures: escrowed and retried later; the job itself is fine
        return final_state(result, message=text, name="CompletedWithFailures", completed=True)
    return final_state(result, message=text)


def _skipped(cfg: SyncConfig, store: Store, exc: QuarantinedError | CycleBusy) -> State:
    """Nothing ran: the job is quarantined and not yet due, or another cycle of the configuration
    holds the lock. Completed ('Skipped') so that every scheduled run of a quarantined job is not
    one more failure; the result says skipped (busy or quarantined), so the command line exits 1."""
    reason = "busy" if isinstance(exc, CycleBusy) else "quarantined"
    result = ProcedureResult(procedure="sync", config=cfg.name, status="skipped", reason=reason, kind="skipped",
                             cycle_id="", message=str(exc), job=JobKeeper.describe(store.job(cfg.name)),
                             details={"staged": len(store.staged(cfg.name))})
    create_markdown_artifact(key=artifact_key(cfg.name, "summary"), markdown=summary_markdown(result, {}),
                             description=f"{cfg.name}: skipped ({reason})")
    get_run_logger().warning("%s", exc)
    return final_state(result, name="Skipped", completed=True)


def _rejected(cfg: SyncConfig, store: Store, decided: approval.Resumed) -> State:
    """A run suspended for approval, resumed with approve unticked: no cycle runs; the deletions
    stay staged and the job quarantined, as the suspended cycle left them."""
    staged = len(store.staged(cfg.name))
    result = ProcedureResult(procedure="sync", config=cfg.name, status="failure", reason="staged-deletions",
                             kind="approval", cycle_id=decided.cycle_id, job=JobKeeper.describe(store.job(cfg.name)),
                             message=f"{cfg.name}: the staged deletions of cycle {decided.cycle_id} were rejected: "
                                     f"{staged} stay staged (pending-deletions.csv) and the job stays quarantined "
                                     "(TooManyDeletes).", details={"staged": staged})
    create_markdown_artifact(key=artifact_key(cfg.name, "summary"), markdown=summary_markdown(result, {}),
                             description=f"{cfg.name}: staged deletions rejected")
    get_run_logger().info("staged deletions rejected: they stay staged")
    return final_state(result, name="Quarantined")


def _refused(cfg: SyncConfig, dry_run: bool, exc: SetupRequired) -> State:
    """The preflight refused: a permission is missing or the anchor extension cannot be set up.
    Nothing was written, not even a cycle record."""
    result = ProcedureResult(procedure="sync", config=cfg.name, status="failure", reason="setup-required",
                             kind="refused", cycle_id="", dry_run=dry_run, job={}, message=str(exc),
                             details={"staged": 0, "missing": exc.missing})
    create_markdown_artifact(key=artifact_key(cfg.name, "summary"), markdown=(
        f"# Sync cycle `{cfg.name}`: not started\n\n{_md(str(exc))}\n\nRun {remedies.setup(cfg.name)} once "
        "the credentials allow it.\n"), description=f"{cfg.name}: refused")
    get_run_logger().error("%s", exc)
    return final_state(result)


def _failed(cfg: SyncConfig, store: Store, cycle: Cycle | None, exc: GraphError, reports_dir: str) -> State:
    """A failure on a tenant itself (credentials, permissions, connection): no cycle could run."""
    cycle_id = cycle.cycle_id if cycle else ""
    job = JobKeeper.describe(store.job(cfg.name))
    quarantined = job.get("code") == "Quarantine"
    result = ProcedureResult(
        procedure="sync", config=cfg.name, status="failure", reason="quarantined" if quarantined else exc.kind.value,
        kind=cycle.kind if cycle else "", cycle_id=cycle_id, dry_run=cycle.opt.dry_run if cycle else False,
        job=job, message=str(exc), details={"staged": 0, "error": {"status": exc.status, "code": exc.code,
                                                                   "message": exc.message, "kind": exc.kind.value}})
    paths = _export(cfg, cycle_id, reports_dir)
    _publish(cfg, result, cycle.actions if cycle else [], paths)
    return final_state(result, message=f"{cfg.name}: {exc}", name="Quarantined" if quarantined else None)
