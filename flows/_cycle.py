"""Running a pipeline.Stages (a Cycle, the user source) through the stage tasks with a progress
artifact, and turning a cycle's report into the flow's result and artifacts. Shared by the sync,
on-demand, repair and user-source flows.

The stage order is ``pipeline.drive``'s: ``prefect_steps`` gives it the tasks of tasks/stages.py
and ``FlowObserver`` the run's figures (tenantsync/progress.py: the progress artifact and, in the
command line's process, its progress bar), the log lines that tell the cycle's story at INFO (a
page read, the plan after decide, a batch written, the end), the run's name and the approval
pause."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
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
from tenantsync.progress import WRITE_KINDS, Snapshot, Tracker, clock, kind_counts, tracking
from tenantsync.results import ProcedureResult, from_cycle_report

from ._common import artifact_key, file_uri

R = TypeVar("R")
T = TypeVar("T")
ACTIONS = ("create", "update", "delete", "disable", "stagedDelete", "other")
STATUSES = ("success", "failure", "skipped", "warning")


class Progress:
    """The progress artifact. Its description carries the figures of the command line's bar
    (tenantsync/progress.py: pages read, writes applied of planned, rate, ETA). Its value: while
    pages are read it moves towards 50 % (the number of pages is not known in advance); after
    decide it is the share of the planned writes applied."""

    def __init__(self, label: str, key: str | None = None):
        self.label = label
        self.id: UUID | None = None
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

    def show(self, snap: Snapshot) -> None:
        if snap.stage == "done":
            value = 100.0
        elif snap.decided:
            value = max(50.0, 100.0 * snap.fraction)
        else:
            value = 50.0 * (1 - 0.85 ** snap.pages)
        self._set(value, snap.text())


def prefect_steps(observer: FlowObserver | None = None) -> Steps[Any]:
    """pipeline.Steps whose members are the stage tasks (tasks/stages.py), looked up at each call
    so that a test may replace one; pages and batches are quoted (not walked for futures). With an
    ``observer``, each step also tells it what it did (the figures and the log lines)."""
    seen = observer or FlowObserver()

    def plan(stages: Stages[Any], page: Page, n: int) -> Any:
        out = stage_tasks.plan_page(stages, _quoted(page), n)
        seen.page_planned(n, len(page), out)
        return out

    def apply(stages: Stages[Any], batch: Batch, n: int) -> Any:
        started = time.monotonic()
        out = stage_tasks.apply_batch(stages, _quoted(batch), n)
        seen.batch_applied(n, batch, out, time.monotonic() - started)
        return out

    def decide(stages: Stages[Any]) -> Any:
        out = stage_tasks.decide(stages)
        seen.decided_plan(stages, out)
        return out

    def approve(stages: Stages[Any]) -> Any:
        out = stage_tasks.approve_staged(stages)
        seen.approved(stages, out)
        return out

    return Steps(begin=stage_tasks.begin_cycle, plan_page=plan, decide=decide,
                 approve=approve, apply=apply, finish=stage_tasks.finish_cycle)


def _quoted(value: T) -> T:
    """Prefect unwraps a quote() before the task runs: to the task, and the type checker, it is the value."""
    return cast(T, quote(value))


def _logger() -> Any:
    try:
        return get_run_logger()
    except Exception:               # outside a run (a unit test of the observer)
        return logging.getLogger("tenantsync.flows")


def _writes(batches: Sequence[Sequence[Action]]) -> int:
    """The writes among batches' actions (a user source's page also carries its commit)."""
    return sum(1 for batch in batches for a in batch if a.kind in WRITE_KINDS)


def _counts(counts: Mapping[str, int], order: Sequence[str]) -> str:
    keys = [k for k in order if counts.get(k)] + sorted(k for k in counts if k not in order and counts[k])
    return ", ".join(f"{counts[k]:,} {k}" for k in keys) or "none"


class FlowObserver(Observer):
    """A run as the Prefect UI and the command line show it: the figures (tenantsync/progress.py,
    which the command line's bar reads), the progress artifact, the run's log lines (a page read,
    the plan, a batch written, the end), the run renamed after its kind, the approval pause of
    staged deletions."""

    def __init__(self, progress: Progress | None = None, *, on_staged: Callable[[Any], bool] | None = None,
                 on_begun: Callable[[str], None] | None = None, label: str = "") -> None:
        self.progress, self.on_staged, self.on_begun = progress, on_staged, on_begun
        self.tracker = Tracker(label or (progress.label if progress else "run"))
        self.batches = 0

    def _show(self, snap: Snapshot) -> Snapshot:
        if self.progress:
            self.progress.show(snap)
        return snap

    # -- the pipeline.Observer hooks --------------------------------------------------------------
    def begun(self, kind: str) -> None:
        self.tracker.begun(kind)
        _logger().info("%s: %s cycle begun", self.tracker.label, kind)
        if self.on_begun:
            self.on_begun(kind)

    def planned(self, page: int, users: int) -> None:
        self._show(self.tracker.snapshot())

    def decided(self, writes: int, staged: int) -> None:
        self._show(self.tracker.snapshot())

    def approve(self, stages: Stages[Any]) -> bool:
        if self.on_staged is None:
            return False
        self._show(self.tracker.approval(True))
        try:
            return self.on_staged(stages)
        finally:
            self.tracker.approval(False)

    def applied(self, batch: int, batches: int, actions: Sequence[Action]) -> None:
        self.batches = batches

    def done(self, result: Any) -> None:
        snap = self._show(self.tracker.done())
        counts = getattr(result, "counts", None)
        said = f"; counts: {_counts(counts, ACTIONS + STATUSES)}" if isinstance(counts, Mapping) else ""
        _logger().info("%s: %s cycle done in %s: %s, %s write(s) applied in %s batch(es) (%s)%s",
                       snap.label, snap.kind, clock(snap.elapsed_s), snap.read_text(), f"{snap.applied:,}",
                       f"{snap.batches:,}", _counts(snap.statuses, STATUSES), said)

    # -- what the steps did (prefect_steps) -------------------------------------------------------
    def page_planned(self, n: int, users: int, out: Any) -> None:
        kinds = out.get("actions", {}) if isinstance(out, Mapping) else {}
        before = self.tracker.planned
        snap = self.tracker.page(users, kinds)
        _logger().info("page %d read: %s user(s), %s so far; %s write(s) planned, %s so far",
                       n, f"{users:,}", f"{snap.users:,}", f"{snap.planned - before:,}", f"{snap.planned:,}")

    def batch_applied(self, n: int, batch: Sequence[Action], out: Any, elapsed: float) -> None:
        kinds = out.get("actions", {}) if isinstance(out, Mapping) else \
            dict(Counter(f"{a.kind}:{a.status}" for a in batch))
        writes = _writes([batch])
        snap = self._show(self.tracker.batch(writes, kinds, elapsed))
        of = f" of {snap.batches_total:,}" if snap.decided else ""
        _logger().info("batch %d%s written in %.1f s: %s write(s) (%s); %s applied, %s, %s",
                       n, of, elapsed, f"{writes:,}", _counts(kind_counts(kinds)[1], STATUSES),
                       snap.writes_text(), snap.rate_text(), snap.eta_text())

    def decided_plan(self, stages: Stages[Any], out: Any) -> None:
        info = out if isinstance(out, Mapping) else {}
        batches = stages.batches()
        remaining = _writes(batches)
        snap = self.tracker.decide(remaining, len(batches), info.get("plan"))
        staged = int(info.get("staged") or 0)
        message = str(info.get("message") or "")
        _logger().info("plan: %s; %s write(s) in all, %s applied while reading, %s left in %s batch(es)%s%s",
                       _counts(self.tracker.plan, ACTIONS), f"{snap.planned:,}", f"{snap.applied:,}",
                       f"{remaining:,}", f"{len(batches):,}",
                       f"; {staged:,} deletion(s) staged" if staged else "", f": {message}" if message else "")

    def approved(self, stages: Stages[Any], count: Any) -> None:
        batches = stages.batches()
        remaining = _writes(batches)
        self.tracker.decide(remaining, len(batches))
        _logger().info("%s staged deletion(s) approved: %s write(s) left in %s batch(es)",
                       count, f"{remaining:,}", f"{len(batches):,}")


def run_stages(stages: Stages[R], *, progress: Progress | None = None,
               on_staged: Callable[[Any], bool] | None = None,
               on_begun: Callable[[str], None] | None = None) -> R:
    """Drive ``stages`` to the end, each stage a task (pipeline.drive), its figures published
    (tenantsync/progress.py) for the progress artifact and the command line's bar."""
    cfg = getattr(stages, "cfg", None)
    label = str(getattr(cfg, "name", "") or (progress.label if progress else "run"))
    if getattr(getattr(stages, "opt", None), "dry_run", False):
        label += " (dry run: nothing is written)"
    observer = FlowObserver(progress, on_staged=on_staged, on_begun=on_begun, label=label)
    with tracking(observer.tracker):
        try:
            return drive(stages, prefect_steps(observer), observer)
        finally:
            if observer.tracker.stage != "done":          # a stage raised: the bar goes
                observer.tracker.done()


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
    # short cells, the reasons listed under the table (tenantsync/uimarkdown.py)
    from tenantsync.uimarkdown import reasons_table

    shown = failed[:limit]
    out = ["", f"### Failures ({len(failed)})", ""]
    out += reasons_table(("Display name", "Action", "Error code", "Source id"),
                         [(a.display_name, a.kind, a.error_code, a.source_id) for a in shown],
                         [a.reason for a in shown], unit="user")
    if len(failed) > limit:
        out += ["", f"{len(failed) - limit} more in provisioning-log.csv."]
    return out


def _md(text: Any) -> str:
    return str(text or "").replace("|", "\\|").replace("\n", " ")


def publish_reports(config_name: str, paths: dict[str, str], note: str = "") -> None:
    """One link artifact per report file (file:// links: the files are on the worker's disk);
    ``note``: said in each description (a dry run's reports describe a plan)."""
    for name, path in paths.items():
        create_link_artifact(key=artifact_key(config_name, "report", name.replace("/", "-")),
                             link=file_uri(path), link_text=f"{name}: {path}",
                             description=f"{config_name}: {name}" + (f". {note}" if note else ""))


def publish_counts(config_name: str, actions: list[Action], description: str) -> None:
    create_table_artifact(key=artifact_key(config_name, "counts"), table=counts_table(actions),
                          description=description)
