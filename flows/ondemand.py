"""Provision on demand: up to five source users now, through the same stages as a cycle, at most
5 requests per 10 seconds across all runs (tasks.ratelimit)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.states import State

from tasks.limits import on_demand_window
from tenantsync.config import SyncConfig
from tenantsync.cycle import CycleOptions, CycleReport
from tenantsync.errors import GraphError, SetupRequired
from tenantsync.ops import ondemand
from tenantsync.results import ProcedureResult
from tenantsync.service import open_cycle
from tenantsync.store import Store

from ._common import artifact_key, final_state, notifier, resolve_config, run_name
from ._cycle import publish_counts, report_result, run_stages


def provision_users(cfg: SyncConfig, user_ids: Sequence[str], *, store: Store | None = None) -> CycleReport:
    """One on-demand cycle for up to five users, inside the rate limit's window (as tasks).
    Also the ``provision`` callable of the UPN repair."""
    if cfg.provisioner == "entra":      # the service's provisionOnDemand (flows/service_cycle.py)
        from .service_cycle import provision_by_service
        return provision_by_service(cfg, user_ids, store=store)
    ids = ondemand.check_user_ids(list(user_ids))
    with on_demand_window(len(ids)):
        with open_cycle(cfg, CycleOptions(user_ids=ids), notify=notifier(cfg),
                        store=store or Store.for_url(cfg.state_url)) as cycle:
            return run_stages(cycle)


@flow(name="provision-on-demand", flow_run_name=run_name("on-demand"),
      description="Provision up to 5 source users now (import, scoping, matching, action), rate-limited "
                  "to 5 requests per 10 seconds across all runs; the step-by-step result is a markdown "
                  "artifact.")
def provision_on_demand(config: str, user_ids: list[str]) -> Any:
    """Provision a few source users now, step by step, as the portal's "Provision on demand".

    Args:
        config: The configuration: a YAML file path (relative to the worker's directory) or the name
            of a SyncConfigBlock.
        user_ids: 1 to 5 source user object ids (GUIDs), as the portal takes them; each is imported,
            scoped, matched and provisioned, and the artifact shows every step.
    """
    ids = ondemand.check_user_ids(list(user_ids or []))
    cfg = resolve_config(config)
    try:
        report = provision_users(cfg, ids)
    except GraphError as exc:       # the portal's "Test connection" step failed
        users = ondemand.error_result(ids, exc)
        create_markdown_artifact(key=artifact_key(cfg.name, "on-demand"), description=f"{cfg.name}: on demand",
                                 markdown=f"# Provision on demand: `{cfg.name}`\n\n**Test connection failed**: "
                                          f"{exc}\n")
        return final_state(ProcedureResult(
            procedure="on-demand", config=cfg.name, status="failure", reason=exc.kind.value, kind="on-demand",
            message=f"{cfg.name}: {exc}", details={"user_ids": list(ids), "users": users,
                                                   "error": {"code": exc.code, "message": exc.message}}))
    except SetupRequired as exc:    # a permission is missing or the anchor is not set up: nothing ran
        return final_state(ProcedureResult(
            procedure="on-demand", config=cfg.name, status="failure", reason="setup-required", kind="on-demand",
            message=str(exc), details={"user_ids": list(ids), "users": [], "missing": exc.missing}))
    return _finished(cfg, ids, report)


def _finished(cfg: SyncConfig, ids: Sequence[str], report: CycleReport) -> State:
    markdown = ondemand.render_markdown(report)
    create_markdown_artifact(key=artifact_key(cfg.name, "on-demand"), markdown=markdown,
                             description=f"{cfg.name}: provision on demand, {len(ids)} user(s)")
    publish_counts(cfg.name, report.actions, f"{cfg.name} on-demand cycle {report.cycle_id}")
    result = report_result(report, procedure="on-demand")
    users = ondemand.result_per_user(report)
    result.details.update(user_ids=list(ids), users=users)
    replies = ", ".join(f"{u['sourceId']}: {u['reply']['result']}" for u in users)
    get_run_logger().info("on demand %s: %s", cfg.name, replies)
    return final_state(result, message=f"{cfg.name} on demand: {replies}")
