"""Delete a configuration: its deployments paused, its state archived, its synced users untouched.

The engine's part (archive, mark, refusal of later cycles) is tenantsync/ops/delete_config.py; this
module adds the Prefect part: pausing the configuration's deployments on the server when one is
configured and answers (Prefect's pause: no scheduled run, the scheduled ones deleted), and saying
so when none is. ``tenantsync delete-config`` calls ``plan``/``execute`` directly (no flow run, no
temporary server); the flow is the same steps for the Prefect UI (a manual deployment per
configuration), with the configuration's name typed in ``confirm`` instead of ``--yes``.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

from tenantsync.config import SyncConfig
from tenantsync.errors import ConfigError
from tenantsync.ops.delete_config import (
    DEFAULT_REPORTS_DIR,
    DeletionPlan,
    delete_configuration,
    plan_deletion,
    restore_configuration,
)
from tenantsync.results import ProcedureResult

from ._common import artifact_key, final_state, resolve_config, run_name
from .deploy import ServerUnreachable, api_url, deployments_of, require_server


def load(config: str) -> SyncConfig:
    from .reports import is_user_source

    if is_user_source(config):
        raise ConfigError("delete-config deletes cross-tenant sync configurations; a user-source configuration "
                          "is stopped with settings.enabled: false (its directory is the application's own)",
                          file=config)
    return resolve_config(config, credentials=False)


# -- deployments -----------------------------------------------------------------------------------

def _server() -> tuple[str | None, str]:
    """(API URL of a server that answers, or None; why not)."""
    if not api_url():
        return None, "no Prefect server (PREFECT_API_URL is not set)"
    try:
        return require_server(), ""
    except ServerUnreachable as exc:
        return None, str(exc)


def deployments(name: str) -> tuple[list[str], str]:
    """(deployments of the configuration on the server, note when there is no server)."""
    url, why = _server()
    if url is None:
        return [], why
    from prefect import get_client

    with get_client(sync_client=True) as client:
        return [full for full, _ in deployments_of(client, name)], ""


def set_paused(name: str, paused: bool) -> tuple[list[str], str]:
    """Pause (or resume) every deployment of the configuration; (their names, what happened)."""
    verb = "paused" if paused else "resumed"
    url, why = _server()
    if url is None:
        return [], (f"{why}: no deployment {verb}; " + (
            "if the configuration has deployments, run delete-config again with PREFECT_API_URL set (meanwhile "
            "their runs are refused)" if paused else "run `tenantsync deploy CONFIG` against a server"))
    from prefect import get_client

    names = []
    with get_client(sync_client=True) as client:
        for full, d in deployments_of(client, name):
            if paused and not d.paused:
                client.pause_deployment(d.id)
            elif not paused and d.paused:
                client.resume_deployment(d.id)
            names.append(full)
    if not names:
        return [], f"no deployment of {name} on {url}"
    return names, f"{len(names)} deployment(s) {verb} on {url}"


# -- the procedure ---------------------------------------------------------------------------------

def plan(config: str, *, archive_dir: str | None = None,
         reports_dir: str = DEFAULT_REPORTS_DIR) -> tuple[SyncConfig, DeletionPlan, list[str], str]:
    """What delete-config would do: (configuration, plan, its deployments, note when no server)."""
    cfg = load(config)
    p = plan_deletion(cfg, archive_dir=archive_dir, reports_dir=reports_dir)
    names, note = deployments(cfg.name)
    return cfg, p, names, note


def execute(cfg: SyncConfig, p: DeletionPlan) -> dict[str, Any]:
    """Archive and mark (engine), then pause the deployments. JSON-able result with a message."""
    result = delete_configuration(cfg, p)
    result.deployments, result.deployments_note = set_paused(cfg.name, True)
    out = result.as_dict()
    head = (f"{cfg.name} was already deleted ({result.deleted})" if result.already else
            f"{cfg.name} deleted: {sum(result.rows.values())} rows of state archived in {result.archive}")
    out["message"] = (f"{head}; {result.deployments_note}; reports kept in {result.reports}; the {result.links} "
                      "synced users are left as they are in the target.")
    return out


def restore(config: str) -> dict[str, Any]:
    cfg = load(config)
    result = restore_configuration(cfg)
    if result["restored"]:
        result["deployments"], note = set_paused(cfg.name, False)
        result["message"] += f" {note}."
    return result


@flow(name="delete-config", flow_run_name=run_name("delete-config"),
      description="Deletes a configuration as Entra does: pauses its deployments, archives its state (never "
                  "dropped), keeps its reports and leaves every synced user as it is in the target. Type the "
                  "configuration's name in confirm.")
def delete_config_flow(config: str, confirm: str, archive_dir: str | None = None,
                       reports_dir: str = DEFAULT_REPORTS_DIR) -> Any:
    """Delete a configuration: its deployments paused, its state archived, its users left as they are.

    Args:
        config: The configuration: a YAML file path (relative to the worker's directory) or the name
            of a SyncConfigBlock.
        confirm: Type the configuration's name to confirm; with any other text nothing happens.
        archive_dir: The folder of the archive store (default: beside a SQLite state store).
        reports_dir: The reports root; the configuration's reports under it are kept.
    """
    cfg, p, names, note = plan(config, archive_dir=archive_dir, reports_dir=reports_dir)
    log = get_run_logger()
    if confirm.strip() != cfg.name:
        message = f"nothing done: type the configuration's name ({cfg.name}) in confirm to delete it"
        log.warning("%s", message)
        return final_state(ProcedureResult(procedure="delete-config", config=cfg.name, status="failure",
                                           reason="not-confirmed", message=message,
                                           details={"plan": p.lines(names, note)}))
    lines = p.lines(names, note)
    for line in lines:
        log.info("%s", line)
    result = execute(cfg, p)
    create_markdown_artifact(key=artifact_key(cfg.name, "deleted"), description=f"{cfg.name}: deleted",
                             markdown="\n".join([f"# Configuration `{cfg.name}` deleted", "", *lines, "",
                                                 f"**Done**: {result['message']}", ""]))
    log.info("%s", result["message"])
    return final_state(ProcedureResult.from_dict({**result, "status": "success"}, procedure="delete-config"))
