"""Running a pipeline.Stages (a Cycle, the user source) through the stage tasks with a progress
artifact, and turning a cycle's report into the flow's result and artifacts. Shared by the sync,
on-demand, repair and user-source flows.

The stage order is ``pipeline.drive``'s: ``prefect_steps`` gives it the tasks of tasks/stages.py
and ``FlowObserver`` the progress artifact, the run's name and the approval pause."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, TypeVar, cast
from uuid import UUID

from prefect import get_run_logger
from prefect.artifacts import (
    create_link_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.utilities.annotations import quote

from tasks import stages as stage_tasks
from tenantsync.cycle import CycleReport
from tenantsync.model import Action
from tenantsync.pipeline import Batch, Observer, Page, Stages, Steps, drive
from tenantsync.results import ProcedureResult, from_cycle_report

from ._common import artifact_key, file_uri

R = TypeVar("R")
T = TypeVar("T")
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
            made = create_progress_artifact(progress=0.0, key=key, description=f"{label}: starting")
            self.id = made if isinstance(made, UUID) else None
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


def prefect_steps() -> Steps[Any]:
    """pipeline.Steps whose members are the stage tasks (tasks/stages.py), looked up at each call
    so that a test may replace one; pages and batches are quoted (not walked for futures)."""

    def plan(stages: Stages[Any], page: Page, n: int) -> Any:
        return stage_tasks.plan_page(stages, _quoted(page), n)

    def apply(stages: Stages[Any], batch: Batch, n: int) -> Any:
        return stage_tasks.apply_batch(stages, _quoted(batch), n)

    return Steps(begin=stage_tasks.begin_cycle, plan_page=plan, decide=stage_tasks.decide,
                 approve=stage_tasks.approve_staged, apply=apply, finish=stage_tasks.finish_cycle)


def _quoted(value: T) -> T:
    """Prefect unwraps a quote() before the task runs: to the task, and the type checker, it is the value."""
    return cast(T, quote(value))


class FlowObserver(Observer):
    """A run as the Prefect UI shows it: the progress artifact, the run renamed after its kind,
    the approval pause of staged deletions."""

    def __init__(self, progress: Progress | None = None, *, on_staged: Callable[[Any], bool] | None = None,
                 on_begun: Callable[[str], None] | None = None) -> None:
        self.progress, self.on_staged, self.on_begun = progress, on_staged, on_begun
        self.batches = 0

    def begun(self, kind: str) -> None:
        if self.on_begun:
            self.on_begun(kind)

    def planned(self, page: int, users: int) -> None:
        if self.progress:
            self.progress.planned(page, users)

    def decided(self, writes: int, staged: int) -> None:
        if self.progress:
            self.progress.decided(writes, staged)

    def approve(self, stages: Stages[Any]) -> bool:
        return self.on_staged is not None and self.on_staged(stages)

    def applied(self, batch: int, batches: int, actions: Sequence[Action]) -> None:
        self.batches = batches
        if self.progress:
            self.progress.applied(batch, batches)

    def done(self, result: Any) -> None:
        if self.progress:
            self.progress.done(f"{self.progress.users} user(s), {self.batches} batch(es)")


def run_stages(stages: Stages[R], *, progress: Progress | None = None,
               on_staged: Callable[[Any], bool] | None = None,
               on_begun: Callable[[str], None] | None = None) -> R:
    """Drive ``stages`` to the end, each stage a task (pipeline.drive)."""
    return drive(stages, prefect_steps(), FlowObserver(progress, on_staged=on_staged, on_begun=on_begun))


# -- results ---------------------------------------------------------------------------------------

def counts_table(actions: list[Action]) -> list[dict[str, Any]]:
    """One row per action kind, one column per status, and totals."""
    c: Counter[tuple[str, str]] = Counter((a.kind, a.status) for a in actions)
    rows = []
    for kind in ACTIONS:
        row: dict[str, Any] = {"action": kind, **{s: c.get((kind, s), 0) for s in STATUSES}}
        row["total"] = sum(row[s] for s in STATUSES)
        rows.append(row)
    rows.append({"action": "total", **{s: sum(r[s] for r in rows) for s in STATUSES},
                 "total": sum(r["total"] for r in rows)})
    return rows


def report_result(report: CycleReport, procedure: str = "sync") -> ProcedureResult:
    """The cycle's ProcedureResult, with what failed (by action and by error code) when anything did."""
    failures = failure_breakdown(report.actions)
    return from_cycle_report(report, procedure=procedure, details={"failures": failures} if failures else None)


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
