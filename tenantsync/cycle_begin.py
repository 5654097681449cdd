"""A cycle's begin stage: its kind, its record, the group memberships, the target index.

Order. Everything that may refuse the run or change its kind comes before the cycle record: the
deleted-configuration check, a restart, the configuration fingerprint, the quarantine backoff and
the users delta round (an expired link makes an initial cycle, and cycles.csv says so). The
record is opened once: a begin run again after a transient Graph failure (a Prefect task retry)
keeps its record and only reads again what failed (memberships, target index, initial domain).

Expired delta links. Graph answers a delta link it no longer honours with 410 Gone (code
resyncRequired) or a 40X syncStateNotFound: directory tokens last seven days, and a tenant
migration resets them (delta-query-overview, "Synchronization reset" and "Token duration"). Then:
- users link: the cycle becomes an initial cycle before it starts -- every link loaded, the whole
  target indexed, every source user read. A user missing from that read is deprovisioned only once
  the whole read has completed, and only under the initial cycle's guards (the empty-source abort
  and the deletion threshold): the same guarantees as any first cycle, because a complete fresh
  read is the same view a first cycle has. Nothing is ever removed for being missing from a partial
  read: a read that fails half-way fails the cycle before ``decide``.
  Why not simply delete no one? The users deleted in the source while the link was expired never
  come back in a later delta round, so their target users would stay forever.
- groups link (users link still valid): the assigned groups are read again in full; users whose
  membership differs from the stored one are evaluated again (a scope change, as any membership
  change, under the same threshold).
The cycle's message (cycles.csv error column, the report's summary) and the log say
"... delta link expired (410 resyncRequired): full read ...".
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from .errors import GraphError
from .fingerprint import ConfigWatch
from .ports import MembershipRead
from .records import log_rows
from .recovery import INVITING
from .stages.scope import ScopeContext
from .stages.writable import notice

if TYPE_CHECKING:
    from .cycle import Cycle

log = logging.getLogger("tenantsync.cycle")
# The groups delta link is kept under this name since memberships are read with $select=members.
# A link saved under the old name "groups" was asked with $expand=members, which delta does not
# support (delta-query-overview): it may track no members at all, so it is never used again and
# the first cycle after the change reads the assigned groups in full.
GROUPS_MARK = "groups.members"


def begin(cycle: Cycle) -> str:
    """Open the cycle (once) and read what every page needs; returns the cycle's kind."""
    if not cycle.cycle_id:
        _prepare(cycle)
        _open_record(cycle)
    read_memberships(cycle)
    if cycle.kind == "initial":
        cycle.index = cycle.target.index_all()
        share_target_ids(cycle)
    cycle.target.initial_domain()
    return cycle.kind


def share_target_ids(cycle: Cycle) -> None:
    """One string per target id: a link's (read from the store) becomes the index's, an equal
    string. An initial cycle holds both for every linked user (8 MB at 100,000 users)."""
    stored_id = cycle.index.stored_id
    for link in cycle.links.values():
        if (tid := stored_id(link.target_id)) is not None:
            link.target_id = tid


def _prepare(cycle: Cycle) -> None:
    """Checks and reads before the record: they may refuse the run or make it an initial cycle."""
    cfg, store, opt = cycle.cfg, cycle.store, cycle.opt
    store.refuse_if_deleted(cfg.name)      # a deleted configuration (tenantsync delete-config)
    if opt.restart:
        store.reset(cfg.name, watermarks=True, escrows=True, quarantine=True)
    # A changed scope or mapping: a full cycle, as a restart would be (tenantsync/fingerprint.py).
    cycle.config = ConfigWatch(cfg, None if opt.user_ids else store.config_fingerprint(cfg.name))
    # ForceDeletes is an administrator's approval: like a restart it does not wait for the backoff.
    cycle.jobs.check_due(ignore=opt.ignore_quarantine or opt.restart or opt.allow_deletes
                         or bool(opt.user_ids) or bool(cycle.config.changed))
    marks = {} if cycle.config.changed else store.watermarks(cfg.name)
    if not opt.user_ids:
        cycle.kind = "incremental" if marks.get("users") else "initial"
    cycle.marks_in = marks
    cycle.inviting = {sid for sid, why in store.reevaluations(cfg.name).items() if why == INVITING}
    cycle.notes, cycle.user_round = [cycle.config.note] if cycle.config.changed else [], None
    if cycle.config.changed:
        log.warning("%s: %s", cfg.name, cycle.config.note)
    if cycle.kind == "incremental":
        try:
            cycle.user_round = cycle.source.user_pages(marks["users"])
        except GraphError as exc:
            if not exc.needs_resync:
                raise                    # no record yet: Cycle.fail records the failed cycle
            expired(cycle, "users", exc)
            cycle.kind = "initial"


def _open_record(cycle: Cycle) -> None:
    cfg, store, opt = cycle.cfg, cycle.store, cycle.opt
    # An initial cycle needs every link; others load the links of each page (cost grows with changes).
    cycle.links = store.links(cfg.name) if cycle.kind == "initial" else store.links_for(cfg.name, opt.user_ids)
    cycle.cycle_id = store.start_cycle(cfg.name, cycle.kind, dry_run=opt.dry_run)
    # Cycles left running by a process that died: closed as crashed (store/cycles.py).
    for c in store.close_abandoned(cfg.name, found_by=cycle.cycle_id):
        note = f"cycle {c['cycleId']} was left running by a process that ended: closed as crashed"
        cycle.notes.append(note)
        log.warning("%s: %s", cfg.name, note)
    if cycle.not_writable and cycle.kind != "on-demand":
        # One warning row per cycle: the mapped attributes Graph documents as not writable.
        cycle.notices = [notice(cfg.name, cycle.not_writable)]
        store.append_log(cfg.name, log_rows(cycle.notices, job_id=cfg.name, cycle_id=cycle.cycle_id,
                                            dry_run=opt.dry_run))
    # An initial cycle's full read writes the snapshots again page by page, only those that changed
    # (store/snapshots.py); finish removes those of users the read did not return.


def read_memberships(cycle: Cycle) -> None:
    """The assigned groups' direct members, and the users whose membership changed."""
    cfg, source = cycle.cfg, cycle.source
    groups = cfg.scope.assignments.groups if cfg.scope.mode == "assigned" else []
    read: MembershipRead | None = None
    if cycle.kind == "on-demand":
        # Only the chosen users are evaluated: ask Graph which groups each one is in now, so a
        # user assigned a minute ago is in scope without waiting for the next cycle.
        wanted = set(groups)
        memberships: dict[str, set[str]] = {g: set() for g in groups}
        for uid, gids in source.member_of(cycle.opt.user_ids).items():
            for g in gids & wanted:
                memberships[g].add(uid)
    elif cycle.kind == "initial":
        read = source.memberships(groups, None)
        memberships = read.full or {}
    else:
        memberships = {g: set(m) for g, m in cycle.store.memberships(cfg.name).items()}
        link = cycle.marks_in.get(GROUPS_MARK)
        try:
            read = source.memberships(groups, link)
        except GraphError as exc:
            if not (link and exc.needs_resync):
                raise
            expired(cycle, "groups", exc)
            read = source.memberships(groups, None)
        if read.full is not None:
            # A full read (no link, or an expired one): it replaces what was stored, and the
            # users whose membership differs are evaluated again.
            full = read.full
            cycle.membership_touched = {u for g in set(full) | set(memberships)
                                        for u in full.get(g, set()) ^ memberships.get(g, set())}
            memberships = {g: set(m) for g, m in full.items()}
        else:
            for g, u in read.added:
                memberships.setdefault(g, set()).add(u)
            for g, u in read.removed:
                memberships.get(g, set()).discard(u)
            cycle.membership_touched = {u for _, u in read.added + read.removed}
    if read is not None and read.delta_link:
        cycle.marks[GROUPS_MARK] = read.delta_link
    cycle.memberships = memberships
    cycle.scope_ctx = ScopeContext.build(cfg.scope, memberships)


def expired(cycle: Cycle, what: str, exc: GraphError) -> None:
    """An expired delta link: say so (message, log), the caller reads in full."""
    note = f"{what} delta link expired ({exc.status} {exc.code}): full read"
    if what == "users":
        note += (" as an initial cycle (a user missing from it is deprovisioned only after the "
                 "whole read, under the empty-source abort and the deletion threshold)")
    else:
        note += " of the assigned groups' members"
    if note not in cycle.notes:            # said once, even when a retried begin meets it again
        cycle.notes.append(note)
        log.warning("%s: %s", cycle.cfg.name, note)


__all__ = ["GROUPS_MARK", "begin", "expired", "read_memberships"]
