"""Report exports as tasks (pandas CSV + HTML, tenantsync.reports)."""

from __future__ import annotations

from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from tenantsync import reports
from tenantsync.store import Store


@task(name="export-cycle-reports", task_run_name="export-reports-{cycle_id}", cache_policy=NO_CACHE)
def export_cycle_reports(state_url: str, config_name: str, cycle_id: str, out_dir: str) -> dict[str, str]:
    """provisioning-log.csv and cycles.csv of one cycle, plus the configuration's summary files."""
    paths = reports.export_cycle(Store.for_url(state_url), config_name, cycle_id, out_dir)
    return {name: str(Path(p).resolve()) for name, p in paths.items()}


@task(name="export-all-reports", task_run_name="export-all-reports-{config_name}", cache_policy=NO_CACHE)
def export_all_reports(state_url: str, config_name: str, out_dir: str) -> dict[str, str]:
    """Every cycle's reports and the configuration-level files."""
    paths = reports.export_all(Store.for_url(state_url), config_name, out_dir)
    return {name: str(Path(p).resolve()) for name, p in paths.items()}
