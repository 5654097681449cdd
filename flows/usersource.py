"""User-source sync: an Entra tenant -> an application's own user directory (SQL)."""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from tenantsync.config import SyncConfig

from ._common import artifact_key, notifier, outcome, resolve_config, run_name, smtp_block
from ._cycle import publish_counts, quarantine_text, report_result


@task(name="user-source-cycle", task_run_name="user-source-cycle", cache_policy=NO_CACHE)
def user_source_cycle(cfg: SyncConfig) -> Any:
    from tenantsync import usersource

    run = usersource.run_user_source
    kwargs: dict[str, Any] = {"notify": notifier(cfg)}
    block = smtp_block(cfg)
    params = inspect.signature(run).parameters
    if block is not None and "send_email" in params:        # invitation e-mails to users
        kwargs["send_email"] = block.send
    return run(cfg, **{k: v for k, v in kwargs.items() if k in params})


def _as_dict(report: Any) -> dict[str, Any]:
    if hasattr(report, "cycle_id") and hasattr(report, "counts"):
        return report_result(report)
    if hasattr(report, "as_dict"):
        return dict(report.as_dict())
    if dataclasses.is_dataclass(report):
        return dataclasses.asdict(report)
    return dict(report) if isinstance(report, dict) else {"result": report}


@flow(name="user-source-sync", flow_run_name=run_name("user-source"),
      description="Keeps an application's own user directory in step with an Entra ID tenant "
                  "(users, invitations by e-mail).")
def user_source_sync(config: str) -> Any:
    """config: a YAML file path or a SyncConfigBlock name (its target is a directory URL)."""
    cfg = resolve_config(config)
    report = user_source_cycle(cfg)
    result = _as_dict(report)
    result.setdefault("config", cfg.name)
    actions = list(getattr(report, "actions", []) or [])
    if actions:
        publish_counts(cfg.name, actions, f"{cfg.name}: user-source cycle")
    failed = bool(getattr(report, "failed", False)) or bool((result.get("counts") or {}).get("failure"))
    create_markdown_artifact(
        key=artifact_key(cfg.name, "summary"), description=f"{cfg.name}: user-source cycle",
        markdown=f"# User-source sync `{cfg.name}`\n\n{result.get('message', '')}\n\n"
                 f"{quarantine_text(result.get('job') or {})}\n")
    result["status"] = "failure" if failed else "success"
    return outcome(result, ok=not failed, message=f"{cfg.name}: user-source cycle "
                                                  f"{'failed' if failed else 'done'}")
