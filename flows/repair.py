"""Pending-acceptance UPN repair: list the target's PendingAcceptance B2B users, provision the
corresponding source users on demand (same rate limit), report each user before and after."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from tenantsync import reports
from tenantsync.config import SyncConfig
from tenantsync.errors import SetupRequired
from tenantsync.ops.repair import RepairResult, run_repair
from tenantsync.results import ProcedureResult
from tenantsync.store import Store

from ._common import DEFAULT_REPORTS_DIR, artifact_key, final_state, resolve_config, run_name
from ._cycle import publish_reports
from .ondemand import provision_users


@task(name="write-repair-reports", cache_policy=NO_CACHE)
def write_repair_reports(result: RepairResult, pending_csv: str, repair_csv: str) -> dict[str, str]:
    return {"pending-acceptance": str(reports.write_pending_acceptance(result.pending, pending_csv).resolve()),
            "upn-repair": str(reports.write_repair_report(result.rows, repair_csv).resolve())}


@flow(name="repair-upn", flow_run_name=run_name("repair-upn"),
      description="Pending-acceptance UPN repair: lists the target's B2B users with externalUserState "
                  "PendingAcceptance to pending-acceptance.csv, provisions the matching source users on "
                  "demand (5 per 10 s) so their UPN follows the source, and reports before/after.")
def repair_upn(config: str, csv_path: str | None = None, reports_dir: str = DEFAULT_REPORTS_DIR) -> Any:
    """Repair the UPNs of the target's B2B users pending acceptance.

    Args:
        config: The configuration: a YAML file path (relative to the worker's directory) or the name
            of a SyncConfigBlock.
        csv_path: Where to write pending-acceptance.csv (default:
            <reports_dir>/<configuration>/pending-acceptance.csv); the before/after report
            upn-repair.csv goes beside it.
        reports_dir: The reports root used when csv_path is not given.
    """
    cfg = resolve_config(config)
    store = Store.for_url(cfg.state_url)
    if cfg.provisioner == "entra":      # each user through the service's provisionOnDemand
        from .service_cycle import repair_by_service
        try:
            result = repair_by_service(cfg, store=store)
        except SetupRequired as exc:    # no job or no permission: nothing ran
            return final_state(ProcedureResult(procedure="repair-upn", config=cfg.name, status="failure",
                                               reason="setup-required", message=str(exc)))
    else:
        result = run_repair(cfg, provision=lambda ids: provision_users(cfg, ids, store=store), store=store)
    pending_csv = Path(csv_path) if csv_path else reports.config_dir(cfg.name, reports_dir) / "pending-acceptance.csv"
    paths = write_repair_reports(result, str(pending_csv), str(pending_csv.with_name("upn-repair.csv")))
    return _finished(cfg, result, paths)


def _finished(cfg: SyncConfig, result: RepairResult, paths: dict[str, str]) -> Any:
    create_markdown_artifact(key=artifact_key(cfg.name, "upn-repair"), markdown=result.render_markdown(),
                             description=f"{cfg.name}: pending-acceptance UPN repair")
    if result.rows:
        create_table_artifact(key=artifact_key(cfg.name, "upn-repair-table"),
                              table=[{k: r.get(k, "") for k in ("DisplayName", "id", "oldUpn", "newUpn", "outcome", "why")}
                                     for r in result.rows], description=f"{cfg.name}: before/after")
    publish_reports(cfg.name, paths)
    return final_state(ProcedureResult(
        procedure="repair-upn", config=cfg.name, status="failure" if result.failed else "success",
        message=result.summary(), details={
            "pending": len(result.pending), "repaired": result.repaired,
            "already_correct": result.count("already correct"), "not_repaired": result.count("not repaired"),
            "summary": result.summary(), "rows": result.rows, "cycles": [r.cycle_id for r in result.reports],
            "reports": paths}))
