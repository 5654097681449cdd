"""Report export: every cycle's CSV files and the configuration's HTML summary."""

from __future__ import annotations

from typing import Any

from prefect import flow

from tasks.reports import export_all_reports

from ._common import DEFAULT_REPORTS_DIR, artifact_key, file_uri, outcome, resolve_config, run_name


@flow(name="export-reports", flow_run_name=run_name("reports"),
      description="Writes the CSV reports (provisioning-log.csv per cycle, cycles.csv, pending deletions, "
                  "notifications) and summary.html of a configuration under out_dir/<configuration>/.")
def export_reports(config: str, out_dir: str = DEFAULT_REPORTS_DIR) -> Any:
    """config: a YAML file path or a SyncConfigBlock name. out_dir: the reports root."""
    from prefect.artifacts import create_link_artifact

    cfg = resolve_config(config)
    paths = export_all_reports(cfg.state_url, cfg.name, out_dir)
    for name in ("summary", "cycles", "pending-deletions", "notifications"):
        if name in paths:
            create_link_artifact(key=artifact_key(cfg.name, "report", name), link=file_uri(paths[name]),
                                 link_text=f"{name}: {paths[name]}", description=f"{cfg.name}: {name}")
    cycles = sum(1 for k in paths if k.endswith("/provisioning-log"))
    result: dict[str, Any] = {"config": cfg.name, "out_dir": out_dir, "cycle_count": cycles, "files": paths,
                              "status": "success"}
    return outcome(result, ok=True, message=f"{cfg.name}: {len(paths)} files for {cycles} cycle(s) in {out_dir}")
