"""The stages of a run as Prefect tasks: begin, one task per source page, decide, one task per
batch, finish. They take any ``pipeline.Stages`` (the cross-tenant Cycle, the user source), and
``flows/_cycle.prefect_steps`` hands them to ``pipeline.drive``, which alone knows their order.

What each stage did is logged by the flow's observer (flows/_cycle.FlowObserver: a page read, the
plan, a batch written, the end), from the dicts these tasks return.

The stages object travels between tasks in-process (tasks run in the flow's process); pages and
batches are wrapped in ``quote`` by the caller so Prefect does not walk them looking for futures.

Retries (tasks/retry.py): begin, plan-page and apply-batch are run again after a transient Graph
failure; the stages leave a run as it was before such a failure (pipeline.py). apply-batch tells
the stage whether this attempt is its last: before it, writes still refused for a passing reason
come back as a retryable error (the task's retry runs the batch again); on it, they are recorded
as failures and the run goes on.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.context import TaskRunContext

from tenantsync.model import Action
from tenantsync.pipeline import Batch, Page, Stages

from .retry import GRAPH_RETRIES


def _kinds(actions: list[Action]) -> dict[str, int]:
    return dict(Counter(f"{a.kind}:{a.status}" for a in actions))


def last_attempt() -> bool:
    """True on a task run's last attempt (no retry left), and outside a task run."""
    ctx = TaskRunContext.get()
    if ctx is None:
        return True
    return ctx.task_run.run_count > (ctx.task.retries or 0)


@task(name="begin-cycle", task_run_name="begin-cycle", cache_policy=NO_CACHE, **GRAPH_RETRIES)
def begin_cycle(stages: Stages[Any]) -> str:
    """Quarantine check, cycle record, group memberships, target index (initial): the run's kind."""
    return stages.begin()


@task(name="plan-page", task_run_name="plan-page-{n}", cache_policy=NO_CACHE, **GRAPH_RETRIES)
def plan_page(stages: Stages[Any], page: Page, n: int) -> dict[str, Any]:
    """Scope, map, match and plan one page of source users."""
    planned = stages.plan_page(page)
    return {"page": n, "users": len(page), "actions": _kinds(planned)}


@task(name="decide", task_run_name="decide", cache_policy=NO_CACHE)
def decide(stages: Stages[Any]) -> dict[str, Any]:
    """Vanished links, the empty-source abort and the accidental-deletion threshold."""
    message = stages.decide()
    out = {"message": message, "staged": len(stages.staged), "writes": sum(len(b) for b in stages.batches())}
    actions = getattr(stages, "actions", None)          # a Cycle keeps every planned action
    if isinstance(actions, list):
        out["plan"] = _kinds(actions)                   # the plan totals the run's log gives (flows/_cycle.py)
    return out


@task(name="approve-staged-deletions", task_run_name="approve-staged-deletions", cache_policy=NO_CACHE)
def approve_staged(stages: Stages[Any]) -> int:
    """An administrator approved the staged deletions: they join the writes of this run."""
    return stages.approve_staged()


@task(name="apply-batch", task_run_name="apply-batch-{n}", cache_policy=NO_CACHE, **GRAPH_RETRIES)
def apply_batch(stages: Stages[Any], batch: Batch, n: int) -> dict[str, Any]:
    """Write one batch of planned actions to the target ($batch requests of 20 inside)."""
    done = stages.apply(batch, final=last_attempt())
    return {"batch": n, "actions": _kinds(done)}


@task(name="finish-cycle", task_run_name="finish-cycle", cache_policy=NO_CACHE)
def finish_cycle(stages: Stages[Any]) -> Any:
    """Snapshots, escrows, staged deletions, watermarks, provisioning log, job status."""
    return stages.finish()
