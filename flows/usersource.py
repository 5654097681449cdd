"""User-source sync: an Entra tenant -> an application's own user directory (SQL)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from tasks.limits import CycleBusy, cycle_lock
from tenantsync.usersource import UserSourceConfig, load_user_source_config, run_user_source
from tenantsync.usersource.upn_suffix import readiness_artifact, readiness_for_config, write_readiness_report

from ._common import DEFAULT_REPORTS_DIR, artifact_key, outcome, resolve_config, run_name, smtp_block


@task(name="user-source-cycle", task_run_name="user-source-cycle", cache_policy=NO_CACHE)
def user_source_cycle(cfg: UserSourceConfig) -> dict[str, Any]:
    """Users round, groups round, invitation outbox, notifications (one transaction per page).
    No Prefect retries: a run stopped half-way reads the same changes again next time."""
    block = smtp_block(cfg)
    if block is None:
        get_run_logger().info("no SMTP block (tenantsync-smtp): invitations stay queued, notifications stored")
    return run_user_source(cfg, notify=block.send if block is not None else None)


def summary_markdown(result: dict[str, Any]) -> str:
    lines = [f"# User-source sync `{result.get('config')}` ({result.get('instance', '')})", "",
             f"**{result.get('status')}**: {result.get('message', '')}", "",
             f"Directory: `{result.get('directory', '')}`; cycle `{result.get('cycle_id')}` ({result.get('kind')}).", ""]
    notes = result.get("notifications") or []
    if notes:
        lines += ["## Notifications", ""] + [f"- {n.get('subject', n) if isinstance(n, dict) else n}" for n in notes]
    return "\n".join(lines) + "\n"


@task(name="upn-suffix-readiness", task_run_name="upn-suffix-readiness", cache_policy=NO_CACHE)
def readiness_report(cfg: UserSourceConfig, result: dict[str, Any], out_dir: str = DEFAULT_REPORTS_DIR) -> None:
    """The UPN suffixes of the tenant's users against its verified domains: a CSV and an artifact."""
    rows = readiness_for_config(cfg)
    paths = write_readiness_report(rows, Path(out_dir) / cfg.name)
    art = readiness_artifact(rows)
    create_markdown_artifact(key=artifact_key(cfg.name, art["key"]), markdown=art["markdown"],
                             description=f"{cfg.name}: UPN suffix readiness")
    result["upn_suffixes"] = {"rows": art["table"], "warnings": art["warnings"],
                              "files": {k: str(v) for k, v in paths.items()}}


@flow(name="user-source-sync", flow_run_name=run_name("user-source"),
      description="Keeps an application's own user directory in step with an Entra ID tenant: users, "
                  "groups and memberships from the delta, invitation e-mails to new users (SMTP block "
                  "'tenantsync-smtp'), notifications to settings.notification_email.")
def user_source_sync(config: str, reports_dir: str = DEFAULT_REPORTS_DIR) -> Any:
    """config: a user-source YAML file path or a SyncConfigBlock name (target: a directory URL).
    reports_dir: where the UPN-suffix readiness CSVs go (<reports_dir>/<configuration>/)."""
    cfg = resolve_config(config, loader=load_user_source_config)
    try:
        with cycle_lock(cfg.name, cfg.directory_url, what="user-source cycle", state_store=False):
            result = user_source_cycle(cfg)
    except CycleBusy as exc:
        return outcome({"config": cfg.name, "status": "busy"}, ok=False, message=str(exc))
    counts = result.get("counts") or {}
    create_table_artifact(key=artifact_key(cfg.name, "counts"), table=[{"count": k, "value": v} for k, v in counts.items()],
                          description=f"{cfg.name}: user-source cycle counts")
    create_markdown_artifact(key=artifact_key(cfg.name, "summary"), markdown=summary_markdown(result),
                             description=f"{cfg.name}: user-source cycle")
    if result.get("status") == "success":
        readiness_report(cfg, result, reports_dir)
    ok = result.get("status") in ("success", "disabled")
    return outcome(result, ok=ok, message=f"{cfg.name}: {result.get('message', '')}")
