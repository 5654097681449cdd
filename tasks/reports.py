"""Report exports as tasks (pandas CSV + HTML, tenantsync.reports): each written file uploaded to the
configured store (tenantsync.report_links), and the small reports also shown as table artifacts.

The tables (first PREVIEW_ROWS rows of the file, a few columns, long cells shortened; the
description says how many more rows the file holds and links to it): the cycle's failures (from
provisioning-log.csv), pending-deletions.csv and notifications.csv; the user source's directory
reports through ``preview_table`` (flows/reports.py)."""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from prefect import get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

from tenantsync import report_links, reports
from tenantsync.store import Store

PREVIEW_ROWS = 50
MAX_CELL = 160              # characters of a cell in a table artifact (the file has them whole)
MAX_COLUMNS = 6             # a wider table is cut off in the UI

FAILURE_COLUMNS = ("sourceIdentity.displayName", "sourceIdentity.id", "provisioningAction", "errorCode", "reason")
PENDING_COLUMNS = ("displayName", "action", "sourceIdentity.id", "targetIdentity.id", "reason")
NOTE_COLUMNS = ("sent", "kind", "recipient", "subject")


@task(name="export-cycle-reports", task_run_name="export-reports-{cycle_id}", cache_policy=NO_CACHE)
def export_cycle_reports(state_url: str, config_name: str, cycle_id: str, out_dir: str) -> dict[str, str]:
    """provisioning-log.csv and cycles.csv of one cycle, plus the configuration's summary files;
    uploaded to the store when one is configured; the cycle's failures, pending deletions and
    notifications as tables."""
    paths = reports.export_cycle(Store.for_url(state_url), config_name, cycle_id, out_dir)
    out = {name: str(Path(p).resolve()) for name, p in paths.items()}
    links = publish(out, out_dir)
    report_tables(config_name, out, links, failures_of=("provisioning-log", f"cycle {cycle_id}"))
    return out


@task(name="export-all-reports", task_run_name="export-all-reports-{config_name}", cache_policy=NO_CACHE)
def export_all_reports(state_url: str, config_name: str, out_dir: str) -> dict[str, str]:
    """Every cycle's reports and the configuration-level files; uploaded to the store when one is
    configured; the latest cycle's failures, pending deletions and notifications as tables."""
    paths = reports.export_all(Store.for_url(state_url), config_name, out_dir)
    out = {name: str(Path(p).resolve()) for name, p in paths.items()}
    links = publish(out, out_dir)
    logs = [k for k in out if k.endswith("/provisioning-log")]
    latest = _latest_cycle(out.get("cycles"), logs)
    report_tables(config_name, out, links,
                  failures_of=(f"{latest}/provisioning-log", f"latest cycle {latest}") if latest else None)
    return out


def publish(paths: dict[str, str], out_dir: str | Path) -> dict[str, str]:
    """Upload the files to TENANTSYNC_REPORTS_STORE (when set); name -> the link of each file."""
    links = report_links.publish(paths, out_dir)
    errors = {link.error for link in links.values() if link.error}
    for error in sorted(errors):
        get_run_logger().warning("reports stay on the worker's disk: %s", error)
    stored = sum(1 for link in links.values() if link.where == "store")
    if stored:
        store = report_links.configured_store()
        get_run_logger().info("%d report file(s) uploaded to %s", stored, store.shown if store else "the store")
    return {name: link.url for name, link in links.items()}


def _latest_cycle(cycles_csv: str | None, logs: list[str]) -> str | None:
    """The last cycle of cycles.csv (start order) that has a provisioning log."""
    ids = [k.split("/", 1)[0] for k in logs]
    if cycles_csv and Path(cycles_csv).exists():
        rows = read_rows(Path(cycles_csv))[0]
        known = [r.get("cycleId", "") for r in rows if r.get("cycleId") in ids]
        if known:
            return known[-1]
    return ids[-1] if ids else None


def report_tables(config_name: str, paths: dict[str, str], links: dict[str, str],
                  failures_of: tuple[str, str] | None) -> None:
    """The table artifacts of a sync configuration's export (only for files with rows)."""
    if failures_of and failures_of[0] in paths:
        name, label = failures_of
        preview_table(table_key(config_name, "failures-table"), paths[name], links.get(name),
                      f"{config_name}: failed provisioning events, {label}", FAILURE_COLUMNS,
                      keep=lambda r: r.get("status") == "failure")
    for name, columns, title in (("pending-deletions", PENDING_COLUMNS, "staged deletions (not applied)"),
                                 ("notifications", NOTE_COLUMNS, "notifications")):
        if name in paths:
            preview_table(table_key(config_name, f"{name}-table"), paths[name], links.get(name),
                          f"{config_name}: {title}", columns)


def read_rows(path: Path, keep: Callable[[dict[str, str]], bool] | None = None,
              limit: int | None = None) -> tuple[list[dict[str, str]], int, list[str]]:
    """(the first ``limit`` rows kept, how many rows are kept in all, the header) of a CSV file."""
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        header = list(reader.fieldnames or [])
        rows: list[dict[str, str]] = []
        total = 0
        for row in reader:
            if keep is None or keep(row):
                total += 1
                if limit is None or len(rows) < limit:
                    rows.append(row)
    return rows, total, header


def preview_table(key: str, path: str | Path, link: str | None, title: str,
                  columns: Sequence[str] | None = None, *, keep: Callable[[dict[str, str]], bool] | None = None,
                  limit: int | None = None) -> int:
    """A table artifact of the first ``limit`` (PREVIEW_ROWS) rows of a CSV report (``columns``, default its first
    MAX_COLUMNS); the description says how many more the file holds. Returns the number of rows
    kept; nothing is made when there is none."""
    file = Path(path)
    rows, total, header = read_rows(file, keep, limit or PREVIEW_ROWS)
    if not total:
        return 0
    shown_columns = [c for c in (columns or header[:MAX_COLUMNS]) if c in header]
    table = [{c: _short(r.get(c)) for c in shown_columns} for r in rows]
    where = f"[{file.name}]({link})" if link else f"`{file.name}`"
    if total > len(rows):
        count = f"first {len(rows)} of {total} rows; **{total - len(rows)} more in {where}**"
    else:
        count = f"all {total} row(s); the file: {where}"
    hidden = len(header) - len(shown_columns) if columns is None else 0
    extra = f" ({hidden} more column(s) in the file)" if hidden > 0 else ""
    create_table_artifact(key=key, table=table, description=f"**{title}**: {count}{extra}.")
    return total


def table_key(*parts: str) -> str:
    """Artifact keys: lowercase letters, digits and dashes (as flows._common.artifact_key)."""
    text = "-".join(parts).lower()
    return "".join(c if c.isalnum() and c.isascii() else "-" for c in text).strip("-")[:120] or "tenantsync"


def _short(value: Any) -> str:
    text = "" if value is None else str(value).replace("\n", " ")
    return text if len(text) <= MAX_CELL else text[:MAX_CELL - 1] + "…"
