"""The stage loop: the one place that knows the order of the stages, for every target.

    begin -> for each source page: plan it, then apply the batches already safe to write
          -> decide (the guards: empty-source abort, deletion threshold)
          -> [an administrator approves staged deletions]
          -> apply the remaining batches -> finish (record, report)

The cross-tenant cycle (``tenantsync.cycle.Cycle``) and the user source
(``tenantsync.usersource``) both implement ``Stages`` and are both driven by ``drive``. Without
Prefect each stage is a plain method call (``DIRECT``); the Prefect layer (``flows/_cycle.py``)
passes ``Steps`` whose members are Prefect tasks, so a page or a batch is one task run with its
own retries, and an ``Observer`` that feeds the progress artifact and the approval pause.

Failures and retries. A stage that raises leaves the run as it was before the call whenever the
error is transient (a retryable GraphError): ``begin``, ``plan_page`` and ``apply`` may be called
again with the same argument, which is what a Prefect task retry does. ``apply(batch,
final=False)`` hands a batch back that way when some of its writes are still refused for a
passing reason (after the Graph connector's and the target's own retries); with ``final=True``
(the default, and a task's last attempt) it records them as failures and returns. When a stage
raises out of its step (no retry left, or no retry at all), ``drive`` calls ``fail`` -- the run
is recorded as failed -- and re-raises.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from .model import Action

R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)
Page = Sequence[dict[str, Any]]
Batch = list[Action]


class Stages(Protocol[R_co]):
    """A run in progress, called in the order ``drive`` gives."""

    staged: list[Action]        # removals held back by decide (deletion threshold)

    def begin(self) -> str: ...                        # returns the run's kind (initial, incremental, ...)
    def pages(self) -> Iterator[Page]: ...             # source pages, read lazily
    def plan_page(self, page: Page) -> list[Action]: ...
    def ready_batches(self) -> list[Batch]: ...        # writes no guard can hold back, full batches only
    def decide(self) -> str: ...                       # guards; returns the message ("" when none)
    def approve_staged(self) -> int: ...               # an administrator approved the staged deletions
    def batches(self) -> list[Batch]: ...              # every write not applied yet
    def apply(self, batch: Batch, *, final: bool = True) -> list[Action]: ...   # module docstring
    def finish(self) -> R_co: ...
    def fail(self, error: BaseException) -> None: ...  # a stage raised: record the run as failed


@dataclass(frozen=True)
class Steps(Generic[R]):
    """How each stage is called. ``DIRECT`` calls the methods; the Prefect layer wraps them in tasks."""

    begin: Callable[[Stages[R]], str] = lambda s: s.begin()
    plan_page: Callable[[Stages[R], Page, int], Any] = lambda s, page, n: s.plan_page(page)
    decide: Callable[[Stages[R]], Any] = lambda s: s.decide()
    approve: Callable[[Stages[R]], Any] = lambda s: s.approve_staged()
    apply: Callable[[Stages[R], Batch, int], Any] = lambda s, batch, n: s.apply(batch)
    finish: Callable[[Stages[R]], R] = lambda s: s.finish()


DIRECT: Steps[Any] = Steps()


class Observer:
    """What a caller sees of a run as it goes (progress, logs, the approval pause). Every hook is optional."""

    def begun(self, kind: str) -> None: ...
    def planned(self, page: int, users: int) -> None: ...
    def decided(self, writes: int, staged: int) -> None: ...
    def applied(self, batch: int, batches: int, actions: Sequence[Action]) -> None: ...
    def approve(self, stages: Stages[Any]) -> bool:
        """Staged deletions wait for an administrator: True applies them (the portal's "Allow deletes")."""
        return False
    def done(self, result: Any) -> None: ...


def drive(stages: Stages[R], steps: Steps[R] | None = None, observer: Observer | None = None) -> R:
    """Run ``stages`` from begin to finish; the only copy of the stage order."""
    steps = steps or DIRECT
    seen = observer or Observer()
    try:
        seen.begun(steps.begin(stages))
        applied = 0
        for n, page in enumerate(stages.pages(), start=1):
            steps.plan_page(stages, page, n)
            for batch in stages.ready_batches():     # creates and updates need no guard: applied as we go
                applied += 1
                steps.apply(stages, batch, applied)
            seen.planned(n, len(page))
        steps.decide(stages)
        batches = stages.batches()
        seen.decided(sum(len(b) for b in batches), len(stages.staged))
        if stages.staged and seen.approve(stages):
            steps.approve(stages)
            batches = stages.batches()
        for i, batch in enumerate(batches, start=1):
            steps.apply(stages, batch, applied + i)
            seen.applied(i, len(batches), batch)
        result = steps.finish(stages)
    except BaseException as exc:
        stages.fail(exc)
        raise
    seen.done(result)
    return result


__all__ = ["DIRECT", "Batch", "Observer", "Page", "Stages", "Steps", "drive"]
