"""The documented SMS sign-in repair: list the in-scope users a cycle skips because SMS sign-in is
enabled on them (sms-sign-in.csv) and turn it off in the source tenant (tenantsync.ops.disable_sms)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from tenantsync import reports
from tenantsync.config import SyncConfig
from tenantsync.ops.disable_sms import COLUMNS, SmsRepairResult, run_disable_sms, write_report
from tenantsync.results import ProcedureResult

from ._common import DEFAULT_REPORTS_DIR, artifact_key, final_state, resolve_config, run_name
from ._cycle import publish_reports

CSV_NAME = "sms-sign-in.csv"


@task(name="disable-sms-sign-in", task_run_name="disable-sms-sign-in", cache_policy=NO_CACHE)
def disable_sms_sign_in(cfg: SyncConfig, user_ids: list[str], dry_run: bool) -> SmsRepairResult:
    """No retries: the Graph client retries each call; a second pass would find nothing to do."""
    return run_disable_sms(cfg, user_ids=user_ids, dry_run=dry_run)


@task(name="write-sms-report", cache_policy=NO_CACHE)
def write_sms_report(result: SmsRepairResult, csv_path: str) -> dict[str, str]:
    return {"sms-sign-in": str(write_report(result, csv_path).resolve())}


@flow(name="disable-sms", flow_run_name=run_name("disable-sms"),
      description="SMS sign-in repair (cross-tenant synchronization troubleshooting): lists the in-scope "
                  "users skipped because SMS sign-in is enabled (smsSignInState ready) to sms-sign-in.csv "
                  "and turns it off with disableSmsSignIn in the source tenant. dry_run writes nothing "
                  "to Graph. Needs UserAuthenticationMethod.ReadWrite.All on the source connection.")
def disable_sms_flow(config: str, user_ids: list[str] | None = None, dry_run: bool = False,
                     csv_path: str | None = None, reports_dir: str = DEFAULT_REPORTS_DIR) -> Any:
    """Turn off SMS sign-in for the in-scope source users a cycle skips because of it.

    Args:
        config: The configuration: a YAML file path (relative to the worker's directory) or the name
            of a SyncConfigBlock.
        user_ids: Only these source user object ids (default: every user in scope).
        dry_run: List the users and write sms-sign-in.csv only; nothing is written to Graph.
        csv_path: Where to write sms-sign-in.csv (default:
            <reports_dir>/<configuration>/sms-sign-in.csv).
        reports_dir: The reports root used when csv_path is not given.
    """
    cfg = resolve_config(config)
    result = disable_sms_sign_in(cfg, list(user_ids or []), dry_run)
    path = Path(csv_path) if csv_path else reports.config_dir(cfg.name, reports_dir) / CSV_NAME
    paths = write_sms_report(result, str(path))
    create_markdown_artifact(key=artifact_key(cfg.name, "sms-sign-in"), markdown=result.render_markdown(),
                             description=f"{cfg.name}: SMS sign-in repair{' (dry run)' if dry_run else ''}")
    if result.rows:
        create_table_artifact(key=artifact_key(cfg.name, "sms-sign-in-table"),
                              table=[{c: r[c] for c in COLUMNS} for r in result.rows],
                              description=f"{cfg.name}: users skipped for SMS sign-in")
    publish_reports(cfg.name, paths)
    get_run_logger().info("%s", result.summary())
    return final_state(ProcedureResult.from_dict({**result.as_dict(), "reports": paths, "message": result.summary()},
                                                 procedure="disable-sms"))
