"""User-source sync: an Entra tenant -> an application's own user directory (SQL).

The run's stages (``tenantsync.usersource.cycle.UserSourceCycle``) go through the stage tasks of
the cross-tenant sync (``run_stages``: begin-cycle, plan-page-N, apply-batch-N, decide,
finish-cycle), driven by ``pipeline.drive``. No task retries fire for it: its stages read the
directory database, and Graph is read between them; a run stopped half-way reads the same changes
again next time (tenantsync/usersource/run.py).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from tasks.limits import CycleBusy, cycle_lock
from tenantsync.results import ProcedureResult
from tenantsync.usersource import UserSourceConfig, load_user_source_config, open_user_source
from tenantsync.usersource.result import skipped
from tenantsync.usersource.upn_suffix import readiness_artifact, readiness_for_config, write_readiness_report

from ._common import DEFAULT_REPORTS_DIR, artifact_key, final_state, resolve_config, smtp_block
from ._cycle import run_stages
from .run_names import user_source_run_name


def summary_markdown(result: ProcedureResult) -> str:
    d = result.details
    lines = [f"# User-source sync `{result.config}` ({d.get('instance', '')})", "",
             f"**{result.status}**: {result.message}", "",
             f"Directory: `{d.get('directory', '')}`; cycle `{result.cycle_id}` ({result.kind}).", ""]
    notes = d.get("notifications") or []
    if notes:
        lines += ["## Notifications", ""] + [f"- {n.get('subject', n) if isinstance(n, dict) else n}" for n in notes]
    return "\n".join(lines) + "\n"


@task(name="upn-suffix-readiness", task_run_name="upn-suffix-readiness", cache_policy=NO_CACHE)
def readiness_report(cfg: UserSourceConfig, out_dir: str = DEFAULT_REPORTS_DIR) -> dict[str, Any]:
    """The UPN suffixes of the tenant's users against its verified domains: a CSV and an artifact."""
    rows = readiness_for_config(cfg)
    paths = write_readiness_report(rows, Path(out_dir) / cfg.name)
    art = readiness_artifact(rows)
    create_markdown_artifact(key=artifact_key(cfg.name, art["key"]), markdown=art["markdown"],
                             description=f"{cfg.name}: UPN suffix readiness")
    return {"rows": art["table"], "warnings": art["warnings"], "files": {k: str(v) for k, v in paths.items()}}


@flow(name="user-source-sync", flow_run_name=user_source_run_name,
      description="Keeps an application's own user directory in step with an Entra ID tenant: users, "
                  "groups and memberships from the delta, invitation e-mails to new users (SMTP block "
                  "'tenantsync-smtp'), notifications to settings.notification_email.")
def user_source_sync(config: str, reports_dir: str = DEFAULT_REPORTS_DIR) -> Any:
    """One user-source cycle: the application's user directory brought in step with the tenant.

    Args:
        config: The user-source configuration: a YAML file path (relative to the worker's directory)
            or the name of a SyncConfigBlock (its target is a directory URL).
        reports_dir: Where the UPN-suffix readiness CSVs go (<reports_dir>/<configuration>/).
    """
    started = datetime.now(UTC)
    cfg = resolve_config(config, loader=load_user_source_config)
    block = smtp_block(cfg)
    if block is None:
        get_run_logger().info("no SMTP block (tenantsync-smtp): invitations stay queued, notifications stored")
    try:
        with cycle_lock(cfg.name, cfg.directory_url, what="user-source cycle", state_store=False), \
                open_user_source(cfg, notify=block.send if block is not None else None) as run:
            result = run if isinstance(run, ProcedureResult) else run_stages(run)
    except CycleBusy as exc:
        return final_state(skipped(cfg, started, "busy", str(exc)))
    create_table_artifact(key=artifact_key(cfg.name, "counts"),
                          table=[{"count": k, "value": v} for k, v in result.counts.items()],
                          description=f"{cfg.name}: user-source cycle counts")
    create_markdown_artifact(key=artifact_key(cfg.name, "summary"), markdown=summary_markdown(result),
                             description=f"{cfg.name}: user-source cycle")
    if result.status == "success":
        result.details["upn_suffixes"] = readiness_report(cfg, reports_dir)
    return final_state(result, message=f"{cfg.name}: {result.message}")
