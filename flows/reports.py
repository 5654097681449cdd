"""Report export: every cycle's CSV files and the configuration's HTML summary.

Each file gets a link artifact (flows._common.link_artifact: the store's object, the folder `make ui`
serves, or a file:// link whose description says how to open it); the small reports (failures,
pending deletions, notifications; a user source's directory reports) are also table artifacts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from prefect import flow

from tasks.reports import export_all_reports, preview_table, publish, table_key
from tenantsync.results import ProcedureResult

from ._common import DEFAULT_REPORTS_DIR, artifact_key, final_state, link_artifact, resolve_config, run_name

LINKED = ("summary", "cycles", "pending-deletions", "notifications")
# The columns of a user source's directory reports shown as tables (the first ones, when not named).
DIRECTORY_COLUMNS = {"directory-notifications": ("created", "kind", "recipient", "subject", "emailed")}


def is_user_source(config: str) -> bool:
    """A user-source configuration targets an application directory (target: {directory: URL})."""
    try:
        data = yaml.safe_load(Path(config).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return False
    return isinstance(data, dict) and isinstance(data.get("target"), dict) and "directory" in data["target"]


def _export_user_source(config: str, out_dir: str) -> Any:
    from tenantsync.usersource import load_user_source_config
    from tenantsync.usersource.report import export_report

    cfg = resolve_config(config, loader=load_user_source_config, credentials=False)
    paths = {k: str(Path(v).resolve()) for k, v in export_report(cfg, Path(out_dir) / cfg.name).items()}
    links = publish(paths, out_dir)
    for name, path in paths.items():
        link_artifact(artifact_key(cfg.name, "report", name), path, name, f"{cfg.name}: {name}", out_dir)
        preview_table(table_key(cfg.name, name, "table"), path, links[name], f"{cfg.name}: {name}",
                      DIRECTORY_COLUMNS.get(name))
    return final_state(ProcedureResult(
        procedure="report", config=cfg.name, status="success",
        message=f"{cfg.name}: {len(paths)} directory report files in {out_dir}",
        details={"out_dir": out_dir, "files": paths, "links": links}))


@flow(name="export-reports", flow_run_name=run_name("reports"),
      description="Writes the CSV reports (provisioning-log.csv per cycle, cycles.csv, pending deletions, "
                  "notifications) and summary.html of a configuration under out_dir/<configuration>/.")
def export_reports(config: str, out_dir: str = DEFAULT_REPORTS_DIR) -> Any:
    """Write a configuration's reports, link them and show the small ones as tables.

    Args:
        config: A configuration file path or a SyncConfigBlock name.
        out_dir: The reports root; files go under out_dir/<configuration>/. Links open over HTTP
            when this is the folder `make ui` serves (data/reports), or from the store of
            TENANTSYNC_REPORTS_STORE when one is set.
    """
    if is_user_source(config):
        return _export_user_source(config, out_dir)
    cfg = resolve_config(config, credentials=False)
    paths = export_all_reports(cfg.state_url, cfg.name, out_dir)
    links = {}
    for name in LINKED:
        if name in paths:
            links[name] = link_artifact(artifact_key(cfg.name, "report", name), paths[name], name,
                                        f"{cfg.name}: {name}", out_dir).url
    cycles = sum(1 for k in paths if k.endswith("/provisioning-log"))
    return final_state(ProcedureResult(
        procedure="report", config=cfg.name, status="success",
        message=f"{cfg.name}: {len(paths)} files for {cycles} cycle(s) in {out_dir}",
        details={"out_dir": out_dir, "cycle_count": cycles, "files": paths, "links": links}))
