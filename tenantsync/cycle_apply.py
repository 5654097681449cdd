"""A cycle's apply stage: one batch of planned writes sent to the target, then recorded (links,
provisioning-log rows, re-evaluation marks).

Writes refused for a passing reason (429, 5xx, no answer) are first tried again by the target
itself (connectors/entra_target.py). Those still refused end one of two ways:
- ``final`` (the default: a run without Prefect, or a Prefect task's last attempt): they are
  failures, logged and escrowed, and a later cycle retries them, as any failed user;
- not final (a Prefect task that will run the batch again): the writes that are done are recorded
  (links, rows), the refused ones go back to their planned state and ``BatchRefused``, a retryable
  GraphError, is raised. The retry applies the batch again, skipping what is already recorded, so
  no row is written twice and no invitation is sent twice (an invited user keeps its target id,
  and the target invites only creates without one).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .errors import ErrorKind, GraphError
from .model import Action
from .ports import Refused
from .recovery import INVITING, LINKING
from .store import Link

if TYPE_CHECKING:
    from .cycle import Cycle


class BatchRefused(GraphError):
    """Writes of a batch still refused for a passing reason: the batch is to be applied again."""

    def __init__(self, refused: Sequence[Refused]) -> None:
        first = refused[0]
        waits = [r.retry_after for r in refused if r.retry_after is not None]
        super().__init__(first.status, first.action.error_code or "transient",
                         f"{len(refused)} write(s) of the batch refused for a passing reason, e.g. "
                         f"{first.action.source_id}: {first.action.reason}",
                         kind=ErrorKind.TRANSIENT, retry_after=max(waits) if waits else None)


def apply_batch(cycle: Cycle, batch: list[Action], *, final: bool = True) -> list[Action]:
    """Write ``batch`` (module docstring); what an earlier attempt recorded is not sent again."""
    todo = [a for a in batch if not a.logged]
    if cycle.opt.dry_run:
        cycle.log(todo)
        return batch
    name, store = cycle.cfg.name, cycle.store
    # Writes to users without a link (invitations, users matched by mail or anchor): a kill
    # before their links are recorded leaves a mark, and the next cycle looks at them again.
    inviting = [a.source_id for a in todo if a.kind == "create" and a.status == "success" and not a.target_id]
    matched = [a.source_id for a in todo if a.kind == "update" and a.status == "success"
               and a.source_id not in cycle.links]
    if inviting:
        store.request_reevaluation(name, inviting, INVITING)
    if matched:
        store.request_reevaluation(name, matched, LINKING)
    stopped: GraphError | None = None
    try:
        cycle.target.apply(todo)
        stopped = cycle.target.stopped
    except GraphError as exc:
        if exc.retryable and not final:
            for r in cycle.target.transient:
                r.restore()
            _hand_back(cycle, todo, [a for a in todo if a.status == "success"], inviting + matched)
            raise
        for a in todo:
            if a.status == "success":
                a.status, a.error_code, a.reason = "failure", exc.code, f"{a.reason} Failed: {exc.message}"
        stopped = exc
    if stopped is None and cycle.target.transient and not final:
        error = BatchRefused(cycle.target.transient)
        _hand_back(cycle, todo, [r.restore() for r in cycle.target.transient], inviting + matched)
        raise error
    record(cycle, todo, inviting + matched)
    if stopped is not None and stopped.stops_job:
        raise stopped           # the tenant refused the credential: the cycle stops (Cycle.fail)
    return batch


def _hand_back(cycle: Cycle, todo: Sequence[Action], pending: Sequence[Action], marked: Sequence[str]) -> None:
    """Record what is done; ``pending`` stays unlogged, to be applied again."""
    again = {id(a) for a in pending}
    record(cycle, [a for a in todo if id(a) not in again], marked)


def record(cycle: Cycle, actions: Sequence[Action], marked: Sequence[str]) -> None:
    """Links and provisioning-log rows of applied actions; their re-evaluation marks cleared."""
    record_links(cycle, actions)
    cycle.log(actions)
    done = {a.source_id for a in actions}
    cleared = [s for s in marked if s in done]
    if cleared:
        cycle.store.clear_reevaluations(cycle.cfg.name, cleared)


def record_invited(cycle: Cycle, created: list[Action]) -> None:
    """The target's on_invited: the create row first, then the link. Killed in between, the row
    exists and the next cycle finds the invited user by mail (the INVITING mark) and links it."""
    cycle.creates.invited(created)
    cycle.store.upsert_links(cycle.cfg.name, [Link(a.source_id, a.target_id or "", "pending") for a in created])


def record_links(cycle: Cycle, batch: Sequence[Action]) -> None:
    upserts, drops = [], []
    for a in batch:
        if a.status != "success" or not a.target_id:
            continue
        if a.kind in ("create", "update"):
            upserts.append(Link(a.source_id, a.target_id, "active"))
        elif a.kind == "disable":
            upserts.append(Link(a.source_id, a.target_id, "disabled"))
        elif a.kind == "delete":
            if a.hard_delete:
                drops.append(a.source_id)
            else:
                upserts.append(Link(a.source_id, a.target_id, "deleted"))
    cycle.store.upsert_links(cycle.cfg.name, upserts)
    cycle.store.delete_links(cycle.cfg.name, drops)


__all__ = ["BatchRefused", "apply_batch", "record_invited"]
