"""What keeps a cycle's writes and its audit trail whole when requests fail or the process dies.

Writes (the cycle's apply step):
- ``retry_transient``: a write refused for a passing reason (429, 5xx, no answer) after the Graph
  connector's own per-item retries is tried again within the same cycle, after its Retry-After
  (else a short backoff), a bounded number of rounds, before it waits for the next cycle as an
  escrow. Microsoft's throttling page ("Best practices to handle throttling"): wait the number of
  seconds in Retry-After, then retry.
- ``INVITING``: before its invitation is sent, a user is marked for evaluation again
  (store/reevaluations.py) and the mark is cleared once its link is recorded. A process killed
  in between leaves the mark, so the next incremental cycle evaluates the user although
  users/delta will not return it: the invited account is found by mail, anchored and linked.
  ``LINKING`` does the same for a write to a user matched by mail or anchor, not yet linked.

Audit trail:
- ``CreateRows``: a create's provisioning-log row is written as soon as its invitation succeeded
  (the user exists from then on) and replaced, under the same id, by the row with the outcome of
  its PATCH (store/log.py). A cycle killed in between keeps the create row; the cycle that
  completes the user logs an ``update`` whose reason says so (``complete_pending``). So the log
  tells "created by cycle X, completed by cycle Y" as one create row in X and one update row in Y.
- ``closes_on_error``: a cycle step that raises closes the cycle as ``failure`` with the reason
  (type and message) and the counts of the rows it had logged; a cycle whose process was killed
  is closed as ``crashed`` by the next cycle's begin (store/cycles.py, ``close_abandoned``).
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .errors import GraphError
from .graph.errors import redact
from .model import Action
from .records import log_rows

if TYPE_CHECKING:
    from .connectors.entra_target import EntraTarget
    from .store import Link

log = logging.getLogger("tenantsync.cycle")

ROUNDS = 2                 # extra rounds within the cycle for writes refused for a passing reason
FIRST_WAIT_S = 0.5         # without Retry-After: 0.5 s, then 1 s
MAX_WAIT_S = 30.0          # a longer Retry-After: the write waits for the next cycle instead
INVITING = "invitation sent; evaluated again if the cycle ended before its link was recorded"
LINKING = "matched by mail or anchor and written; evaluated again if the cycle ended before its link was recorded"
COMPLETES = ("Completes its creation (invited by an earlier cycle that ended before its "
             "attributes and anchor were written).")


def retry_transient(target: EntraTarget, *, anchors: Mapping[str, str],
                    on_invited: Callable[[list[Action]], None] | None,
                    rounds: int = ROUNDS, sleep: Callable[[float], None] = time.sleep) -> int:
    """Apply again the writes ``target`` listed as refused for a passing reason; returns how many
    were retried. Each goes back to its planned state (status, reason) before it is sent again."""
    retried = 0
    for n in range(rounds):
        todo, target.transient = list(target.transient), []
        if not todo or target.stopped is not None:
            return retried
        waits = [ra for _, _, ra in todo if ra is not None]
        wait = max(waits) if waits else FIRST_WAIT_S * 2 ** n
        if wait > MAX_WAIT_S:
            return retried
        sleep(wait)
        for a, before, _ in todo:
            a.status, a.error_code, a.reason = "success", "", before
        retried += len(todo)
        target.apply([a for a, _, _ in todo], anchors=anchors, on_invited=on_invited)
    return retried


class CreateRows:
    """Early create rows (module doc): written at invitation, replaced by the final row."""

    def __init__(self, store: Any, config: str, *, cycle_id: Callable[[], str],
                 redacted: frozenset[str]) -> None:
        self.store, self.config, self.cycle_id, self.redacted = store, config, cycle_id, redacted
        self.early: dict[str, tuple[str, int]] = {}        # source id -> (row id, log position before it)

    def invited(self, created: Sequence[Action]) -> None:
        new = [a for a in created if a.target_id and a.source_id not in self.early]
        if not new:
            return
        mark = self.store.log_mark()
        shown = [dataclasses.replace(
            a, changes={}, steps=list(a.steps), status="success", error_code="",
            target_display_name=a.changes["displayName"].new if "displayName" in a.changes else a.display_name,
            reason=f"Invited into the target tenant: the user exists (id {a.target_id}) and is linked; its "
                   "attributes and anchor are written next, by this cycle or, if it ends first, the next one.")
            for a in new]
        rows = log_rows(shown, job_id=self.config, cycle_id=self.cycle_id(), redacted=self.redacted)
        for a, row in zip(new, rows):
            self.early[a.source_id] = (row["id"], mark)
        self.store.append_log(self.config, rows)

    def take(self, actions: Sequence[Action], rows: Sequence[dict[str, Any]]) -> tuple[list[str], int]:
        """Give the final rows of early-logged creates their early row's id: (ids to replace, since)."""
        ids, since = [], None
        for a, row in zip(actions, rows):
            found = self.early.pop(a.source_id, None) if a.kind == "create" else None
            if found is None:
                continue
            row["id"] = found[0]
            ids.append(found[0])
            since = found[1] if since is None else min(since, found[1])
            if a.status == "failure":
                row["reason"] = (f"Invited into the target tenant: the user exists (id {a.target_id}) and is "
                                 "linked, but its attributes could not all be written; the next cycle completes "
                                 f"them. {row['reason']}")
        return ids, since or 0


def adopt_invited(planned: Sequence[Action], links: Mapping[str, Link], inviting: set[str],
                  created_for: Callable[[list[str]], set[str]]) -> None:
    """Users whose invitation was sent by a cycle that ended before recording it (INVITING) and
    that are now found by mail or anchor without a link: tenantsync created them. Without a create
    row yet, their write is logged as the create it completes; with one, as an update that says so."""
    found = [a for a in planned if a.source_id in inviting and a.source_id not in links and a.target_id
             and a.kind in ("update", "other") and a.status in ("success", "skipped")]
    if not found:
        return
    logged = created_for([a.source_id for a in found])
    for a in found:
        if a.source_id in logged:
            if a.kind == "update":
                a.reason = f"{COMPLETES} {a.reason}"
            continue
        a.kind, a.status, a.error_code = "create", "success", ""
        a.reason = ("Invited by an earlier cycle that ended before recording the invitation: the user "
                    "was found by mail; its attributes and anchor are written and it is linked.")


def link_matched(planned: Sequence[Action], links: Mapping[str, Link], matched_by: Mapping[str, str]
                 ) -> list[tuple[str, str]]:
    """In-scope users found by anchor or mail, not linked, whose values already match: a write
    to them may have been the last thing a killed cycle did before recording their link. Found
    by anchor: (source id, target id) to link without a write. Found by mail (no anchor yet): the
    anchor is written, which links them."""
    out = []
    for a in planned:
        if a.source_id in links or not a.target_id or a.kind != "other" or a.status != "skipped" \
                or a.error_code != "RedundantExport":
            continue
        by = matched_by.get(a.source_id)
        if by == "anchor":
            out.append((a.source_id, a.target_id))
        elif by == "mail":
            a.kind, a.status, a.error_code = "update", "success", ""
            a.reason = "Matched by mail (a B2B user invited earlier); its attributes already match: the anchor is written."
    return out


def complete_pending(planned: Sequence[Action], links: Mapping[str, Link]) -> None:
    """Users invited by a cycle that ended before their PATCH (link ``pending``): their update says
    so, and one whose values already match still gets a PATCH (its anchor) that completes the link."""
    for a in planned:
        link = links.get(a.source_id)
        if link is None or link.state != "pending" or not a.target_id or a.target_id != link.target_id:
            continue
        if a.kind == "update" and a.status == "success":
            a.reason = f"{COMPLETES} {a.reason}"
        elif a.kind == "other" and a.status == "skipped" and a.error_code == "RedundantExport":
            a.kind, a.status, a.error_code = "update", "success", ""
            a.reason = f"{COMPLETES} Its attributes already match: the anchor is written and the link completed."


# -- a step that raises closes its cycle -------------------------------------------------------------

def closes_on_error(method: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate a Cycle step (function or generator): an exception closes the cycle as failed."""
    if inspect.isgeneratorfunction(method):
        @functools.wraps(method)
        def steps(self: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                yield from method(self, *args, **kwargs)
            except GeneratorExit:
                raise                   # the caller stopped reading: not a failure
            except BaseException as exc:
                close_failed(self, exc)
                raise
        return steps

    @functools.wraps(method)
    def step(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except BaseException as exc:
            close_failed(self, exc)
            raise
    return step


def close_failed(cycle: Any, exc: BaseException) -> None:
    """Close a running cycle as ``failure``: why, and the counts of the rows it logged."""
    if not getattr(cycle, "cycle_id", "") or getattr(cycle, "closed", False):
        return
    cycle.closed = True
    if isinstance(exc, GraphError):
        why = str(exc)
    elif isinstance(exc, (KeyboardInterrupt, SystemExit)):
        why = f"interrupted ({type(exc).__name__})"
    else:
        why = f"{type(exc).__name__}: {redact(str(exc))[:300]}"
    store, name = cycle.store, cycle.cfg.name
    try:
        store.finish_cycle(name, cycle.cycle_id, counts=store.logged_counts(name, cycle.cycle_id),
                           status="failure", job=store.job(name),
                           error="; ".join([*cycle.notes, f"cycle failed: {why}"]))
    except Exception:            # the store itself failing: the next cycle closes it as crashed
        log.exception("%s: could not close cycle %s as failed", name, cycle.cycle_id)
