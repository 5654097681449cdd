"""Driving a Cycle through the stage tasks, with a progress artifact, and turning its report into
the flow's result and artifacts. Shared by the sync, on-demand and repair flows."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any
from uuid import UUID

from prefect import get_run_logger
from prefect.artifacts import (
    create_link_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.utilities.annotations import quote

from tasks.stages import apply_batch, approve_staged, begin_cycle, decide, finish_cycle, plan_page
from tenantsync.cycle import Cycle, CycleReport
from tenantsync.model import Action

from ._common import artifact_key, file_uri

ACTIONS = ("create", "update", "delete", "disable", "stagedDelete", "other")
STATUSES = ("success", "failure", "skipped", "warning")


class Progress:
    """A progress artifact: planning moves it towards 50 % (the number of pages is not known in
    advance), applying batches fills the rest."""

    def __init__(self, label: str, key: str | None = None):
        self.label = label
        self.id: UUID | None = None
        self.users = 0
        try:
            self.id = create_progress_artifact(progress=0.0, key=key,
                                               description=f"{label}: starting")
        except Exception as exc:
            get_run_logger().debug("no progress artifact: %s", exc)

    def _set(self, value: float, text: str) -> None:
        if self.id is not None:
            try:
                update_progress_artifact(self.id, progress=round(min(100.0, value), 1),
                                         description=f"{self.label}: {text}")
            except Exception as exc:
                get_run_logger().debug("progress update failed: %s", exc)

    def planned(self, pages: int, users: int) -> None:
        self.users += users
        self._set(50.0 * (1 - 0.85 ** pages), f"planned {pages} page(s), {self.users} source user(s)")

    def decided(self, writes: int, staged: int) -> None:
        self._set(50.0, f"planned {self.users} user(s): {writes} write(s)"
                        + (f", {staged} deletion(s) staged" if staged else ""))

    def applied(self, batch: int, batches: int) -> None:
        self._set(50.0 + 50.0 * batch / max(batches, 1), f"applied batch {batch} of {batches}")

    def done(self, text: str) -> None:
        self._set(100.0, text)


def run_stages(cycle: Cycle, *, progress: Progress | None = None,
               on_staged: Callable[[Cycle], bool] | None = None,
               on_begun: Callable[[str], None] | None = None) -> CycleReport:
    """begin -> plan each page -> decide -> (approval) -> apply each batch -> finish, as tasks."""
    kind = begin_cycle(cycle)
    if on_begun:
        on_begun(kind)
    n = applied = 0
    for n, page in enumerate(cycle.pages(), start=1):
        plan_page(cycle, quote(page), n)
        for batch in cycle.ready_batches():     # creates and updates need no guard: apply as we go
            applied += 1
            apply_batch(cycle, quote(batch), applied)
        if progress:
            progress.planned(n, len(page))
    decided = decide(cycle)
    if progress:
        progress.decided(decided["writes"], decided["staged"])
    if cycle.staged and on_staged is not None and on_staged(cycle):
        approve_staged(cycle)
    batches = cycle.batches()
    for i, batch in enumerate(batches, start=1):
        apply_batch(cycle, quote(batch), applied + i)
        if progress:
            progress.applied(i, len(batches))
    report = finish_cycle(cycle)
    if progress:
        progress.done(f"{len(report.actions)} user(s), {len(batches)} batch(es)")
    return report


# -- results ---------------------------------------------------------------------------------------

def counts_table(actions: list[Action]) -> list[dict[str, Any]]:
    """One row per action kind, one column per status, and totals."""
    c = Counter((a.kind, a.status) for a in actions)
    rows = []
    for kind in ACTIONS:
        row: dict[str, Any] = {"action": kind, **{s: c.get((kind, s), 0) for s in STATUSES}}
        row["total"] = sum(row[s] for s in STATUSES)
        rows.append(row)
    rows.append({"action": "total", **{s: sum(r[s] for r in rows) for s in STATUSES},
                 "total": sum(r["total"] for r in rows)})
    return rows


def report_result(report: CycleReport) -> dict[str, Any]:
    result = {"config": report.config, "cycle_id": report.cycle_id, "kind": report.kind,
              "dry_run": report.dry_run, "counts": dict(report.counts), "job": report.job,
              "staged": report.staged, "message": report.message}
    failures = failure_breakdown(report.actions)
    if failures:
        result["failures"] = failures
    return result


def failure_breakdown(actions: list[Action]) -> dict[str, dict[str, int]]:
    """What failed: failed provisioning events by action and by error code, most frequent first."""
    failed = [a for a in actions if a.status == "failure"]
    if not failed:
        return {}
    return {"by_action": dict(Counter(a.kind for a in failed).most_common()),
            "by_error": dict(Counter(a.error_code or "unknown" for a in failed).most_common())}


def quarantine_text(job: dict[str, Any]) -> str:
    q = job.get("quarantine") or {}
    if not q:
        return f"Job status: **{job.get('code', '?')}** (not quarantined)."
    err = (q.get("error") or {}).get("message", "")
    return (f"Job status: **{job.get('code')}**: reason `{q.get('reason')}`, next attempt "
            f"{q.get('nextAttempt')}, series began {q.get('seriesBegan')} ({q.get('seriesCount')} "
            f"time(s))" + (f". Error: {err}" if err else "."))


def failures_md(actions: list[Action], limit: int = 20) -> list[str]:
    failed = [a for a in actions if a.status == "failure"]
    if not failed:
        return []
    out = ["", f"### Failures ({len(failed)})", "", "| Source id | Display name | Action | Error code | Reason |",
           "|---|---|---|---|---|"]
    for a in failed[:limit]:
        out.append(f"| {a.source_id} | {_md(a.display_name)} | {a.kind} | {a.error_code} | {_md(a.reason)} |")
    if len(failed) > limit:
        out.append(f"| ... | {len(failed) - limit} more in provisioning-log.csv | | | |")
    return out


def _md(text: Any) -> str:
    return str(text or "").replace("|", "\\|").replace("\n", " ")


def publish_reports(config_name: str, paths: dict[str, str]) -> None:
    """One link artifact per report file (file:// links: the files are on the worker's disk)."""
    for name, path in paths.items():
        create_link_artifact(key=artifact_key(config_name, "report", name.replace("/", "-")),
                             link=file_uri(path), link_text=f"{name}: {path}",
                             description=f"{config_name}: {name}")


def publish_counts(config_name: str, actions: list[Action], description: str) -> None:
    create_table_artifact(key=artifact_key(config_name, "counts"), table=counts_table(actions),
                          description=description)
