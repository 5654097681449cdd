"""Report export: every cycle's CSV files and the configuration's HTML summary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from prefect import flow

from tasks.reports import export_all_reports
from tenantsync.results import ProcedureResult

from ._common import DEFAULT_REPORTS_DIR, artifact_key, file_uri, final_state, resolve_config, run_name


def is_user_source(config: str) -> bool:
    """A user-source configuration targets an application directory (target: {directory: URL})."""
    try:
        data = yaml.safe_load(Path(config).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return False
    return isinstance(data, dict) and isinstance(data.get("target"), dict) and "directory" in data["target"]


def _export_user_source(config: str, out_dir: str) -> Any:
    from prefect.artifacts import create_link_artifact

    from tenantsync.usersource import load_user_source_config
    from tenantsync.usersource.report import export_report

    cfg = resolve_config(config, loader=load_user_source_config, credentials=False)
    paths = {k: str(v) for k, v in export_report(cfg, Path(out_dir) / cfg.name).items()}
    for name, path in paths.items():
        create_link_artifact(key=artifact_key(cfg.name, "report", name), link=file_uri(path),
                             link_text=f"{name}: {path}", description=f"{cfg.name}: {name}")
    return final_state(ProcedureResult(
        procedure="report", config=cfg.name, status="success",
        message=f"{cfg.name}: {len(paths)} directory report files in {out_dir}",
        details={"out_dir": out_dir, "files": paths}))


@flow(name="export-reports", flow_run_name=run_name("reports"),
      description="Writes the CSV reports (provisioning-log.csv per cycle, cycles.csv, pending deletions, "
                  "notifications) and summary.html of a configuration under out_dir/<configuration>/.")
def export_reports(config: str, out_dir: str = DEFAULT_REPORTS_DIR) -> Any:
    """config: a YAML file path or a SyncConfigBlock name. out_dir: the reports root."""
    from prefect.artifacts import create_link_artifact

    if is_user_source(config):
        return _export_user_source(config, out_dir)
    cfg = resolve_config(config, credentials=False)
    paths = export_all_reports(cfg.state_url, cfg.name, out_dir)
    for name in ("summary", "cycles", "pending-deletions", "notifications"):
        if name in paths:
            create_link_artifact(key=artifact_key(cfg.name, "report", name), link=file_uri(paths[name]),
                                 link_text=f"{name}: {paths[name]}", description=f"{cfg.name}: {name}")
    cycles = sum(1 for k in paths if k.endswith("/provisioning-log"))
    return final_state(ProcedureResult(
        procedure="report", config=cfg.name, status="success",
        message=f"{cfg.name}: {len(paths)} files for {cycles} cycle(s) in {out_dir}",
        details={"out_dir": out_dir, "cycle_count": cycles, "files": paths}))
