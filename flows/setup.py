"""Setup: register (or find) the anchor extension in the target tenant and list the permissions."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from tenantsync.config import SyncConfig
from tenantsync.entra_service.setup import ServiceSetupReport
from tenantsync.ops import setup
from tenantsync.results import ProcedureResult

from ._common import artifact_key, final_state, resolve_config, run_name


@task(name="setup-tenants", task_run_name="setup-tenants", cache_policy=NO_CACHE)
def setup_tenants(cfg: SyncConfig, dry_run: bool) -> setup.SetupReport | ServiceSetupReport:
    """Idempotent; no retries: a refused registration is the answer, not a hiccup. With
    ``provisioner: entra`` the configuration is created in Microsoft's provisioning service."""
    return setup.run_setup(cfg, dry_run=dry_run)


@flow(name="setup", flow_run_name=run_name("setup"),
      description="Prepares a configuration's tenants once: registers the anchor directory extension on "
                  "the target's application (or finds it: idempotent), records its name in the state "
                  "store and lists the application permissions each side needs, with those missing.")
def setup_config(config: str, dry_run: bool = False) -> Any:
    """Prepare a configuration's tenants once (anchor extension, permissions).

    Args:
        config: The configuration: a YAML file path (relative to the worker's directory) or the name
            of a SyncConfigBlock.
        dry_run: List the Graph calls setup would make and the permissions missing; register and
            record nothing.
    """
    cfg = resolve_config(config)
    report: Any = setup_tenants(cfg, dry_run)
    result: dict[str, Any] = report.as_dict()
    if result.get("provisioner") == "entra":
        create_table_artifact(key=artifact_key(cfg.name, "setup-permissions"), table=result["steps"],
                              description=f"{cfg.name}: the provisioning service's configuration, step by step")
        create_markdown_artifact(key=artifact_key(cfg.name, "setup"), markdown=render_service_markdown(result),
                                 description=f"{cfg.name}: setup{' (dry run)' if dry_run else ''}")
        get_run_logger().info("%s", report.message)
        return final_state(ProcedureResult.from_dict(result, procedure="setup"))
    create_table_artifact(key=artifact_key(cfg.name, "setup-permissions"), table=[
        {"side": r["side"], "permission": r["permission"], "status": r["status"],
         "needed by": ", ".join(r["neededBy"]), "for": "; ".join(r["for"])} for r in report.rows],
        description=f"{cfg.name}: application permissions per side")
    create_markdown_artifact(key=artifact_key(cfg.name, "setup"), markdown=render_markdown(result),
                             description=f"{cfg.name}: setup{' (dry run)' if dry_run else ''}")
    get_run_logger().info("%s", report.message)
    return final_state(ProcedureResult.from_dict(result, procedure="setup"))


def render_markdown(result: dict[str, Any]) -> str:
    a = result["anchor"]
    lines = [f"# Setup `{result['config']}`" + (" (dry run)" if result["dry_run"] else ""), "",
             f"**{'OK' if result['ok'] else 'Needs attention'}**: {result['message']}", "",
             f"Anchor extension: `{a.get('attribute') or '-'}` ({a['action']})", ""]
    if result["calls"]:
        lines += ["Graph calls:", ""] + [f"- `{c}`" for c in result["calls"]] + [""]
    lines += ["| Side | Permission | Status | Needed by |", "|---|---|---|---|"]
    lines += [f"| {r['side']} | {r['permission']} | {r['status']} | {', '.join(r['neededBy'])} |"
              for r in result["permissions"]]
    if result["fixes"]:
        lines += ["", "## What to do", ""] + [f"- {f}" for f in result["fixes"]]
    return "\n".join(lines) + "\n"


def render_service_markdown(result: dict[str, Any]) -> str:
    """Setup with provisioner entra: the steps of Microsoft's sequence and the Graph calls."""
    lines = [f"# Setup `{result['config']}` (Microsoft's provisioning service)"
             + (" (dry run)" if result["dry_run"] else ""), "",
             f"**{'OK' if result['ok'] else 'Needs attention'}**: {result['message']}", "",
             f"Application `{result.get('servicePrincipalId') or '-'}`, job `{result.get('jobId') or '-'}`", "",
             "| Step | Action | Detail |", "|---|---|---|"]
    lines += [f"| {s['step']} | {s['action']} | {s['detail']} |" for s in result["steps"]]
    if result["calls"]:
        lines += ["", "Graph calls:", ""] + [f"- `{c}`" for c in result["calls"]]
    return "\n".join(lines) + "\n"
