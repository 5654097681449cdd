"""The cycle's stages as tasks: begin, one task per source page, decide, one task per batch, finish.

The ``Cycle`` object travels between tasks in-process (tasks run in the flow's process); pages and
batches are wrapped in ``quote`` by the callers so Prefect does not walk them looking for futures.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from tenantsync.cycle import Cycle, CycleReport
from tenantsync.model import Action

from .retry import GRAPH_RETRIES


def _kinds(actions: list[Action]) -> dict[str, int]:
    return dict(Counter(f"{a.kind}:{a.status}" for a in actions))


@task(name="begin-cycle", task_run_name="begin-cycle", cache_policy=NO_CACHE, **GRAPH_RETRIES)
def begin_cycle(cycle: Cycle) -> str:
    """Quarantine check, cycle record, group memberships, target index (initial): the cycle kind."""
    return cycle.begin()


@task(name="plan-page", task_run_name="plan-page-{n}", cache_policy=NO_CACHE, **GRAPH_RETRIES)
def plan_page(cycle: Cycle, page: list[dict[str, Any]], n: int) -> dict[str, Any]:
    """Scope, map, match and plan one page of source users."""
    planned = cycle.plan_page(page)
    return {"page": n, "users": len(page), "actions": _kinds(planned)}


@task(name="decide", task_run_name="decide", cache_policy=NO_CACHE)
def decide(cycle: Cycle) -> dict[str, Any]:
    """Vanished links, the empty-source abort and the accidental-deletion threshold."""
    message = cycle.decide()
    return {"message": message, "staged": len(cycle.staged), "writes": sum(len(b) for b in cycle.batches())}


@task(name="approve-staged-deletions", task_run_name="approve-staged-deletions", cache_policy=NO_CACHE)
def approve_staged(cycle: Cycle) -> int:
    """An administrator approved the staged deletions: they join the writes of this cycle."""
    return cycle.approve_staged()


@task(name="apply-batch", task_run_name="apply-batch-{n}", cache_policy=NO_CACHE, **GRAPH_RETRIES)
def apply_batch(cycle: Cycle, batch: list[Action], n: int) -> dict[str, Any]:
    """Write one batch of planned actions to the target ($batch requests of 20 inside)."""
    done = cycle.apply(batch)
    return {"batch": n, "actions": _kinds(done)}


@task(name="finish-cycle", task_run_name="finish-cycle", cache_policy=NO_CACHE)
def finish_cycle(cycle: Cycle) -> CycleReport:
    """Snapshots, escrows, staged deletions, watermarks, provisioning log, job status."""
    return cycle.finish()
