"""What keeps a cycle's writes and its audit trail whole when requests fail or the process dies.

Writes (the cycle's apply step; a write refused for a passing reason is tried again by the
target itself, connectors/entra_target.py):
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
- ``close_failed``: a cycle whose stage raised is closed as ``failure`` with the reason (type and
  message) and the counts of the rows it had logged (the stage loop calls ``Cycle.fail``,
  pipeline.py); a cycle whose process was killed is closed as ``crashed`` by the next cycle's
  begin (store/cycles.py, ``close_abandoned``).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .errors import GraphError
from .graph.errors import redact
from .model import Action
from .records import log_rows

if TYPE_CHECKING:
    from .ports import RunRecords
    from .store import Link

log = logging.getLogger("tenantsync.cycle")

INVITING = "invitation sent; evaluated again if the cycle ended before its link was recorded"
LINKING = "matched by mail or anchor and written; evaluated again if the cycle ended before its link was recorded"
COMPLETES = ("Completes its creation (invited by an earlier cycle that ended before its "
             "attributes and anchor were written).")


class CreateRows:
    """Early create rows (module doc): written at invitation, replaced by the final row."""

    def __init__(self, store: RunRecords, config: str, *, cycle_id: Callable[[], str],
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


# -- a stage that raised closes its cycle -------------------------------------------------------------

def close_failed(store: RunRecords, config: str, cycle_id: str, exc: BaseException, notes: Sequence[str],
                 job: Any) -> None:
    """Close a running cycle as ``failure``: why, and the counts of the rows it logged."""
    if isinstance(exc, GraphError):
        why = str(exc)
    elif not isinstance(exc, Exception):   # Ctrl-C, exit, a worker's termination signal
        why = f"cycle failed: interrupted ({type(exc).__name__})"
    else:
        why = f"cycle failed: {type(exc).__name__}: {redact(str(exc))[:300]}"
    try:
        store.finish_cycle(config, cycle_id, counts=store.logged_counts(config, cycle_id),
                           status="failure", job=job, error="; ".join([*notes, why]))
    except Exception:            # the store itself failing: the next cycle closes it as crashed
        log.exception("%s: could not close cycle %s as failed", config, cycle_id)
