"""One synchronization cycle: the only place that knows the order of the stages.

The Prefect layer drives a Cycle step by step (a task per page and per batch); ``run_cycle`` drives
it in one go for the command line without Prefect and for tests.

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

Attributes Graph documents as not written through Graph (stages.writable.NOT_WRITABLE, e.g.
showInAddressList: "Do not use in Microsoft Graph") are dropped from the mappings: never compared,
never sent. The provisioning log says so in one warning row per cycle (provisioningAction other,
status warning, errorCode AttributeNotWritableInGraph), which an auditor finds next to the users'
rows of the same cycle; on-demand runs report per user and do not repeat it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from .anchor import require_anchor
from .config import SyncConfig
from .connectors.entra_source import EntraSource
from .connectors.entra_target import EntraTarget
from .errors import ExpressionError, GraphError, QuarantinedError
from .fingerprint import ConfigWatch
from .model import Action, Step
from .quarantine import JobKeeper
from .records import counts, log_rows
from .recovery import (
    INVITING,
    LINKING,
    CreateRows,
    adopt_invited,
    closes_on_error,
    complete_pending,
    link_matched,
    retry_transient,
)
from .references import ManagerReferences, maps_manager
from .sms import apply_sms_rule
from .stages.guard import apply_deletion_threshold, empty_source_abort
from .stages.mapping import MappingPlan, b2b_upn
from .stages.matching import Match, TargetIndex, anchor_value, match_user
from .stages.plan import Removal, plan_user
from .stages.scope import ScopeContext, evaluate_scope
from .stages.writable import notice, split_writable
from .store import Link, Store

Kind = Literal["initial", "incremental", "on-demand"]
log = logging.getLogger("tenantsync.cycle")
# The groups delta link is kept under this name since memberships are read with $select=members.
# A link saved under the old name "groups" was asked with $expand=members, which delta does not
# support (delta-query-overview): it may track no members at all, so it is never used again and
# the first cycle after the change reads the assigned groups in full.
GROUPS_MARK = "groups.members"


@dataclass
class CycleOptions:
    restart: bool = False          # new initial cycle: watermark, escrows, quarantine cleared; links kept
    dry_run: bool = False          # plan and report, write nothing (the Graph client refuses writes)
    allow_deletes: bool = False    # ForceDeletes: apply deletions above the threshold
    user_ids: tuple[str, ...] = ()  # provision on demand: only these source users
    ignore_quarantine: bool = False  # a manual run retries now instead of waiting for the backoff


@dataclass
class CycleReport:
    config: str
    cycle_id: str
    kind: str
    dry_run: bool
    counts: dict[str, int]
    job: dict[str, Any]
    message: str = ""
    staged: int = 0
    actions: list[Action] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.counts.get("failure", 0) > 0 or self.job.get("code") == "Quarantine"


class Cycle:
    """A cycle in progress. Methods are called in order: begin, pages/plan_page, decide, batches/apply, finish."""

    def __init__(self, cfg: SyncConfig, *, source_api: Any, target_api: Any, store: Store,
                 options: CycleOptions | None = None, notify: Callable[[str, str], None] | None = None,
                 anchor_attribute: str | None = None):
        self.cfg, self.store, self.opt = cfg, store, options or CycleOptions()
        self.source_tenant = cfg.connection(cfg.source.connection).tenant_id
        mappings, self.not_writable = split_writable(cfg.effective_mappings)   # never sent (stages.writable)
        self.mapping = MappingPlan(mappings, upn_transform=lambda upn: b2b_upn(upn, self.target.initial_domain()))
        # The anchor extension's registered name (open_cycle passes what setup resolved; else the store's).
        anchor = anchor_attribute or require_anchor(cfg, store)
        manager = maps_manager(mappings)      # the manager reference (references.py)
        self.target = EntraTarget(target_api, anchor_attribute=anchor, select=self.mapping.targets,
                                  expand_manager=manager)
        self.source = EntraSource(source_api, [*self.mapping.source_attributes, *cfg.scope.filter_attributes],
                                  manager=manager)
        self.references = ManagerReferences(cfg.name, store, self.target, enabled=manager,
                                            dry_run=self.opt.dry_run)
        self.jobs = JobKeeper(store, cfg, notify=notify)
        self.kind: Kind = "on-demand" if self.opt.user_ids else "incremental"
        self.cycle_id = ""
        self.actions: list[Action] = []
        self._notices: list[Action] = []
        self.staged: list[Action] = []
        self.message = ""
        self._marks: dict[str, str] = {}
        self._seen: set[str] = set()
        self._snap_removed: set[str] = set()
        self._ready_mark = 0
        self._in_scope = 0
        self.notes: list[str] = []          # said in the cycle's message and log (expired links)
        self._user_round: Iterator[tuple[list[dict[str, Any]], str | None]] | None = None
        self.closed = False                 # finish_cycle done (success, failure): recovery.py
        self._inviting: set[str] = set()    # invitations sent by a cycle that ended first (recovery.py)
        self.creates = CreateRows(store, cfg.name, cycle_id=lambda: self.cycle_id,
                                  redacted=self.mapping.redacted)

    # -- 1. begin ------------------------------------------------------------------------------
    @closes_on_error
    def begin(self) -> str:
        cfg, store = self.cfg, self.store
        store.refuse_if_deleted(cfg.name)      # a deleted configuration (tenantsync delete-config)
        if self.opt.restart:
            store.reset(cfg.name, watermarks=True, escrows=True, quarantine=True)
        # A changed scope or mapping: a full cycle, as a restart would be (tenantsync/fingerprint.py).
        self.config = ConfigWatch(cfg, None if self.opt.user_ids else store.config_fingerprint(cfg.name))
        # ForceDeletes is an administrator's approval: like a restart it does not wait for the backoff.
        self.jobs.check_due(ignore=self.opt.ignore_quarantine or self.opt.restart or self.opt.allow_deletes
                            or bool(self.opt.user_ids) or bool(self.config.changed))
        marks = {} if self.config.changed else store.watermarks(cfg.name)
        if not self.opt.user_ids:
            self.kind = "incremental" if marks.get("users") else "initial"
        self._marks_in = marks
        self._inviting = {sid for sid, why in store.reevaluations(cfg.name).items() if why == INVITING}
        self.notes, self._user_round = [self.config.note] if self.config.changed else [], None
        if self.config.changed:
            log.warning("%s: %s", cfg.name, self.config.note)
        failed: GraphError | None = None
        if self.kind == "incremental":
            # The users round starts here, before the cycle is recorded: an expired link makes
            # this an initial cycle (module docstring), and cycles.csv then says so.
            try:
                self._user_round = self.source.user_pages(marks["users"])
            except GraphError as exc:
                if exc.needs_resync:
                    self._expired("users", exc)
                    self.kind = "initial"
                else:
                    failed = exc                      # recorded below, once the cycle exists
        # An initial cycle needs every link; others load the links of each page (cost grows with changes).
        self.links = store.links(cfg.name) if self.kind == "initial" else store.links_for(cfg.name, self.opt.user_ids)
        self.cycle_id = store.start_cycle(cfg.name, self.kind, dry_run=self.opt.dry_run)
        # Cycles left running by a process that died: closed as crashed (store/cycles.py).
        for c in store.close_abandoned(cfg.name, found_by=self.cycle_id):
            note = f"cycle {c['cycleId']} was left running by a process that ended: closed as crashed"
            self.notes.append(note)
            log.warning("%s: %s", cfg.name, note)
        if failed is not None:
            self._fail_whole(failed)
        self._log_not_writable()
        if self.kind == "initial" and not self.opt.dry_run:
            store.replace_snapshots(cfg.name, {})   # the full read below writes them again, page by page
        try:
            self._read_memberships()
            if self.kind == "initial":
                self.index = self.target.index_all()
            self.target.initial_domain()
        except GraphError as exc:
            self._fail_whole(exc)
        return self.kind

    def _read_memberships(self) -> None:
        cfg = self.cfg
        groups = cfg.scope.assignments.groups if cfg.scope.mode == "assigned" else []
        read = None
        if self.kind == "on-demand":
            # Only the chosen users are evaluated: ask Graph which groups each one is in now, so a
            # user assigned a minute ago is in scope without waiting for the next cycle.
            wanted = set(groups)
            self.memberships = {g: set() for g in groups}
            for uid, gids in self.source.member_of(self.opt.user_ids).items():
                for g in gids & wanted:
                    self.memberships[g].add(uid)
        elif self.kind == "initial":
            read = self.source.memberships(groups, None)
            self.memberships = read.full or {}
        else:
            self.memberships = {g: set(m) for g, m in self.store.memberships(cfg.name).items()}
            link = self._marks_in.get(GROUPS_MARK)
            try:
                read = self.source.memberships(groups, link)
            except GraphError as exc:
                if not (link and exc.needs_resync):
                    raise
                self._expired("groups", exc)
                read = self.source.memberships(groups, None)
            if read.full is not None:
                # A full read (no link, or an expired one): it replaces what was stored, and the
                # users whose membership differs are evaluated again.
                full = read.full
                self._membership_touched = {u for g in set(full) | set(self.memberships)
                                            for u in full.get(g, set()) ^ self.memberships.get(g, set())}
                self.memberships = {g: set(m) for g, m in full.items()}
            else:
                for g, u in read.added:
                    self.memberships.setdefault(g, set()).add(u)
                for g, u in read.removed:
                    self.memberships.get(g, set()).discard(u)
                self._membership_touched = {u for _, u in read.added + read.removed}
        if read is not None and read.delta_link:
            self._marks[GROUPS_MARK] = read.delta_link
        self.scope_ctx = ScopeContext.build(cfg.scope, self.memberships)

    def _expired(self, what: str, exc: GraphError) -> None:
        """An expired delta link: say so (message, log), the caller reads in full."""
        note = f"{what} delta link expired ({exc.status} {exc.code}): full read"
        if what == "users":
            note += (" as an initial cycle (a user missing from it is deprovisioned only after the "
                     "whole read, under the empty-source abort and the deletion threshold)")
        else:
            note += " of the assigned groups' members"
        self.notes.append(note)
        log.warning("%s: %s", self.cfg.name, note)

    def _log_not_writable(self) -> None:
        """One warning row per cycle: the mapped attributes Graph documents as not writable."""
        if not self.not_writable or self.kind == "on-demand":
            return
        self._notices = [notice(self.cfg.name, self.not_writable)]
        self.store.append_log(self.cfg.name, log_rows(self._notices, job_id=self.cfg.name,
                                                      cycle_id=self.cycle_id, dry_run=self.opt.dry_run))

    # -- 2. read and plan, page by page --------------------------------------------------------
    @closes_on_error
    def pages(self) -> Iterator[list[dict[str, Any]]]:
        """Source pages to plan: the whole tenant (initial), its changes (incremental), or the chosen users."""
        try:
            if self.kind == "on-demand":
                found = self.source.get_users(self.opt.user_ids)
                yield [u if u else {"id": i, "@removed": {"reason": "notFound"}} for i, u in found.items()]
                return
            rounds = self._user_round or self.source.user_pages(
                self._marks_in.get("users") if self.kind == "incremental" else None)
            self._user_round = None
            for page, link in rounds:
                if link:
                    self._marks["users"] = link
                yield page
            if self.kind == "incremental":
                yield from self._extra_incremental_pages()
        except GraphError as exc:
            self._fail_whole(exc)

    def _extra_incremental_pages(self) -> Iterator[list[dict[str, Any]]]:
        """Users not changed themselves but whose group membership changed, and escrows now due."""
        extra = set(getattr(self, "_membership_touched", set()))
        extra |= set(self.store.escrows_due(self.cfg.name, datetime.now(UTC)))
        # users a repair asked to evaluate again (tenantsync disable-sms: store/reevaluations.py)
        extra |= (asked := set(self.store.reevaluations(self.cfg.name)))
        self._reevaluated = asked
        # invited by a cycle that ended before their PATCH: completed now (recovery.py)
        extra |= set(self.store.pending_links(self.cfg.name))
        extra -= self._seen
        if extra:
            snaps = self.store.snapshots(self.cfg.name, extra)
            yield [snaps[i] for i in extra if i in snaps]

    @closes_on_error
    def plan_page(self, page: Sequence[dict[str, Any]]) -> list[Action]:
        """Scope, map, match and plan one page of source users."""
        cfg = self.cfg
        missing = self._not_found(page) if self.kind == "on-demand" else []
        if missing:
            page = [u for u in page if u["id"] not in {a.source_id for a in missing}]
        users: list[dict[str, Any]] = []
        fresh: dict[str, dict[str, Any]] = {}
        removals: dict[str, Removal] = {}
        prior: dict[str, dict[str, Any]] = {}
        if self.kind == "incremental":
            ids = [u["id"] for u in page]
            prior = self.store.snapshots(cfg.name, ids)
            self.links.update(self.store.links_for(cfg.name, ids))
        for raw in page:
            uid = raw["id"]
            self._seen.add(uid)
            if "@removed" in raw:
                removals[uid] = "hard" if raw["@removed"].get("reason") == "deleted" else "soft"
                self._snap_removed.add(uid)
                user = prior.get(uid) or {"id": uid}
            else:
                user = {**prior.get(uid, {}), **raw}
                fresh[uid] = user
            users.append(user)
        if not self.opt.dry_run:
            # Written page by page rather than held until finish: a 100,000-user cycle would otherwise
            # keep the whole tenant in memory. Safe before apply: the next run merges the same delta.
            self.store.save_snapshots(cfg.name, fresh)
        if self.kind == "on-demand":
            removals = {k: v for k, v in removals.items() if k in self.links}  # not found: just skipped
        scopes = {u["id"]: evaluate_scope(u, self.scope_ctx) for u in users if u["id"] not in removals}
        index = self._index_for(users, removals)
        matches = {u["id"]: self._match(u, index) for u in users}
        if index.digest_keys:
            self._read_differing(users, scopes, matches, index)
        planned = [self._plan_one(u, scopes.get(u["id"]), matches[u["id"]], removals.get(u["id"])) for u in users]
        # The SMS sign-in rule (tenantsync/sms.py) reads only users it could turn from a write into a skip.
        by_id = {u["id"]: u for u in users}
        planned = missing + apply_sms_rule(planned, scopes, self.source, on_demand=self.kind == "on-demand",
                                           replan=lambda i, s: self._plan_one(by_id[i], s, matches[i], None))
        complete_pending(planned, self.links)      # invited earlier, PATCH not done (recovery.py)
        unlinked = link_matched(planned, self.links, {i: m.by for i, m in matches.items()})
        if unlinked and not self.opt.dry_run:
            self.store.upsert_links(cfg.name, [Link(s, t, "active") for s, t in unlinked])
        if self._inviting:                          # invited, killed before the link (recovery.py)
            adopt_invited(planned, self.links, self._inviting,
                          lambda ids: self.store.created_for(self.cfg.name, ids))
        # counted only after the last Graph call, so a retried page is not counted twice
        self._in_scope += sum(1 for s in scopes.values() if s.in_scope)
        self.actions.extend(planned)
        self.references.note(users, scopes, matches, prior)
        # Skips are final once planned: their rows go out now, so a 100,000-user cycle does not hold
        # every user's provisioning steps until finish. Writes are logged once applied.
        self._log([a for a in planned if not (a.is_write and a.status == "success")])
        return planned

    def _log(self, actions: Sequence[Action]) -> None:
        todo = [a for a in actions if not a.logged]
        if not todo:
            return
        rows = log_rows(todo, job_id=self.cfg.name, cycle_id=self.cycle_id, redacted=self.mapping.redacted,
                        dry_run=self.opt.dry_run)
        replacing, since = self.creates.take(todo, rows)     # a create's early row (recovery.py)
        self.store.append_log(self.cfg.name, rows, replacing=replacing, since=since)
        keep_detail = self.kind == "on-demand"       # the on-demand reply shows them step by step
        for a in todo:
            a.logged = True
            if not keep_detail:                       # logged: counts and reasons are all that is read
                a.steps = []
                if a.status != "success" or not a.is_removal:
                    a.changes = {}

    def _not_found(self, page: Sequence[dict[str, Any]]) -> list[Action]:
        """On demand, a user the source does not return is reported, never deleted (reference §7:
        users deleted in the source are not searchable)."""
        out = []
        for raw in page:
            if (raw.get("@removed") or {}).get("reason") != "notFound":
                continue
            uid, link = raw["id"], self.links.get(raw["id"])
            self._seen.add(uid)
            out.append(Action("other", uid, link.target_id if link else None, status="skipped",
                              error_code="SourceObjectNotFound",
                              reason=f"No user with id '{uid}' was found in the source tenant; a user "
                                     "deleted in the source cannot be provisioned on demand.",
                              steps=[Step("EntryImport", "import", "failure",
                                          f"User '{uid}' was not found in the source tenant.", {})]))
        return out

    def _read_differing(self, users: Sequence[dict[str, Any]], scopes: dict[str, Any],
                        matches: dict[str, Match], index: TargetIndex) -> None:
        """The index holds digests, not values: read in full the matched users that may differ."""
        stale: list[str] = []
        for u in users:
            m, s = matches[u["id"]], scopes.get(u["id"])
            if m.target is None or m.by == "deleted" or s is None or not s.in_scope:
                continue
            if self._completing(u["id"]):          # compared with its create values: read in full
                stale.append(u["id"])
                continue
            try:
                desired = self.mapping.map_user(u, creating=False)
            except ExpressionError:
                continue                           # _plan_one reports it
            if index.differs(m.target["id"], desired.values, desired.fill_if_empty):
                stale.append(u["id"])
            else:   # known equal by digest: the planner sees the values it would have read
                m.target = {**m.target, **desired.fill_if_empty, **desired.values}
        if stale:
            full = self.target.fetch(matches[uid].target["id"] for uid in stale)  # type: ignore[index]
            for uid in stale:
                current = full.get(matches[uid].target["id"])  # type: ignore[index]
                if current is not None:
                    matches[uid].target = current

    def _completing(self, source_id: str) -> bool:
        """Invited by a cycle that ended before its PATCH (recovery.py): planned with create values."""
        link = self.links.get(source_id)
        return link.state == "pending" if link else source_id in self._inviting

    def _index_for(self, users: Sequence[dict[str, Any]], removals: dict[str, Removal]) -> TargetIndex:
        if self.kind == "initial":
            return self.index
        linked = [self.links[u["id"]].target_id for u in users if u["id"] in self.links]
        unlinked = {u["id"]: (anchor_value(self.source_tenant, u["id"]), u.get("mail"))
                    for u in users if u["id"] not in self.links and u["id"] not in removals}
        return self.target.lookup(linked, unlinked)

    def _match(self, user: dict[str, Any], index: TargetIndex) -> Match:
        link = self.links.get(user["id"])
        return match_user(user, link_target_id=link.target_id if link else None,
                          anchor=anchor_value(self.source_tenant, user["id"]), index=index)

    def _plan_one(self, user: dict[str, Any], scope: Any, match: Match, removal: Removal | None) -> Action:
        link = self.links.get(user["id"])
        imported: dict[str, Any] = {"ChangeType": "Delete" if removal else ("Add" if link is None else "Update")}
        if self.kind == "on-demand":     # provisionOnDemand's import step lists the attributes read
            imported["Attributes"] = {k: v for k, v in user.items() if not k.startswith("@")}
        steps = [Step("EntryImport", "import", "success",
                      f"Retrieved User '{user.get('userPrincipalName', user['id'])}' from the source tenant.",
                      imported)]
        if scope is not None:
            steps.append(Step("EntrySynchronizationScoping", "scoping",
                              "success" if scope.in_scope else "skipped", scope.description,
                              {"ScopeEvaluationResult": dict(scope.rules),
                               "IsActive": user.get("accountEnabled") is not False,
                               "Assigned": scope.rules[0][1] if scope.rules else False,
                               **({"SkipReason": scope.skip_reason} if scope.skip_reason else {})}))
        steps.append(Step("EntryImportMatching", "matching", "success" if match.target else "skipped",
                          match.description, {"MatchedBy": match.by,
                                              "TargetId": (match.target or {}).get("id", "")}))
        if scope is not None and scope.error and not removal:   # never "left the scope" on a timeout
            return Action("other", user["id"], (match.target or {}).get("id"), display_name=user.get("displayName", ""),
                          reason=f"A scoping filter could not be evaluated for this user: {scope.error}",
                          status="failure", error_code="ScopeEvaluationFailed", steps=steps)
        in_scope = scope is not None and scope.in_scope and not removal
        try:
            create = self.mapping.map_user(user, creating=True) if in_scope and match.target is None else None
            # A user invited by a cycle that ended before its PATCH is completed with its create values.
            update = self.mapping.map_user(user, creating=self._completing(user["id"])) \
                if in_scope and match.target else None
        except ExpressionError as exc:      # one user's bad data must not stop the cycle
            return Action("other", user["id"], (match.target or {}).get("id"), display_name=user.get("displayName", ""),
                          reason=f"An attribute mapping could not be evaluated for this user: {exc}",
                          status="failure", error_code="ExpressionEvaluationFailed", steps=steps)
        return plan_user(user, source_id=user["id"], scope=scope, desired_create=create, desired_update=update,
                         match=match, link_state=link.state if link else None,
                         on_leave_scope=self.cfg.settings.on_leave_scope, removal=removal, steps=steps)

    # -- 3. decide -----------------------------------------------------------------------------
    @closes_on_error
    def decide(self) -> str:
        """Links whose source vanished, the empty-source abort and the deletion threshold."""
        if self.kind == "initial":
            gone = [sid for sid, link in self.links.items() if sid not in self._seen and link.state != "deleted"]
            if gone:
                idx = self.index
                self.actions.extend(self._plan_one({"id": sid}, None, match_user(
                    {}, link_target_id=self.links[sid].target_id, anchor="", index=idx), "soft") for sid in gone)
            active = sum(1 for link in self.links.values() if link.state in ("active", "pending"))
            abort = empty_source_abort(self._in_scope, active) if not self.opt.user_ids else None
        else:
            active = self.store.count_links(self.cfg.name, states=("active", "pending"))
            removing = sum(1 for a in self.actions if a.kind == "delete" and a.status == "success")
            adding = sum(1 for a in self.actions if a.kind == "create" and a.status == "success")
            abort = empty_source_abort(0, active) if active and removing >= active and not adding \
                and self.kind == "incremental" and removing > 1 else None
        if abort:
            self.message = abort
            self.actions = [a for a in self.actions if not a.is_removal]
            self._marks.clear()      # re-read everything next time
        before = list(self.actions)
        decision = apply_deletion_threshold(self.actions, threshold=self.cfg.settings.deletion_threshold,
                                            allow_deletes=self.opt.allow_deletes)
        self.actions, self.staged = decision.allowed + decision.staged, decision.staged
        self._unstaged = [a for a in before if a.is_removal and a.status == "success"] if self.staged else []
        self.quarantine_reason = decision.quarantine_reason
        if decision.message:
            self.message = decision.message
        return self.message

    def approve_staged(self) -> int:
        """An administrator approved the staged deletions (the portal's "Allow deletes")."""
        count = len(self.staged)
        self.actions = [a for a in self.actions if a.kind != "stagedDelete"] + self._unstaged
        self.staged, self._unstaged, self.quarantine_reason = [], [], None
        self.message = f"{count} staged deletions approved and applied."
        self.opt.allow_deletes = True
        return count

    # -- 4. apply, batch by batch --------------------------------------------------------------
    def ready_batches(self) -> list[list[Action]]:
        """Full batches of creates and updates planned so far. No guard can hold them back (only
        removals wait for decide), so they may be applied between pages: a large initial cycle then
        never holds every planned user in memory."""
        size = self.cfg.settings.batch_size
        ready = [(i, a) for i, a in enumerate(self.actions[self._ready_mark:], start=self._ready_mark)
                 if a.is_write and a.status == "success" and not a.is_removal and not a.logged]
        full = len(ready) // size * size
        if not full:
            return []
        self._ready_mark = ready[full - 1][0] + 1
        return [[a for _, a in ready[i:i + size]] for i in range(0, full, size)]

    def batches(self) -> list[list[Action]]:
        """Every write not applied yet (after decide)."""
        writes = [a for a in self.actions if a.is_write and a.status == "success" and not a.logged]
        size = self.cfg.settings.batch_size
        return [writes[i:i + size] for i in range(0, len(writes), size)]

    @closes_on_error
    def apply(self, batch: list[Action]) -> list[Action]:
        if self.opt.dry_run:
            self._log(batch)
            return batch
        anchors = {a.source_id: anchor_value(self.source_tenant, a.source_id) for a in batch
                   if a.kind in ("create", "update") and a.status == "success"}
        # Writes to users without a link (invitations, users matched by mail or anchor): a kill
        # before their links are recorded leaves a mark, and the next cycle looks at them again.
        inviting = [a.source_id for a in batch if a.kind == "create" and a.status == "success" and not a.target_id]
        matched = [a.source_id for a in batch if a.kind == "update" and a.status == "success"
                   and a.source_id not in self.links]
        if inviting:
            self.store.request_reevaluation(self.cfg.name, inviting, INVITING)
        if matched:
            self.store.request_reevaluation(self.cfg.name, matched, LINKING)
        stopped: GraphError | None = None
        try:
            self.target.apply(batch, anchors=anchors, on_invited=self._record_invited)
            retry_transient(self.target, anchors=anchors, on_invited=self._record_invited)
            stopped = self.target.stopped
        except GraphError as exc:
            for a in batch:
                if a.status == "success":
                    a.status, a.error_code, a.reason = "failure", exc.code, f"{a.reason} Failed: {exc.message}"
            stopped = exc
        self._record_links(batch)
        self._log(batch)
        if inviting or matched:
            self.store.clear_reevaluations(self.cfg.name, inviting + matched)
        if stopped is not None and stopped.stops_job:
            self._fail_whole(stopped)
        return batch

    def _record_invited(self, created: list[Action]) -> None:
        # The create row first, then the link: killed in between, the row exists and the next
        # cycle finds the invited user by mail (the INVITING mark) and links it.
        self.creates.invited(created)
        self.store.upsert_links(self.cfg.name, [Link(a.source_id, a.target_id or "", "pending") for a in created])

    def _record_links(self, batch: list[Action]) -> None:
        upserts, drops = [], []
        for a in batch:
            if a.status != "success" or not a.target_id:
                continue
            if a.kind in ("create", "update"):
                upserts.append(Link(a.source_id, a.target_id, "active"))
            elif a.kind == "disable":
                upserts.append(Link(a.source_id, a.target_id, "disabled"))
            elif a.kind == "delete":
                (drops if a.hard_delete else upserts).append(
                    a.source_id if a.hard_delete else Link(a.source_id, a.target_id, "deleted"))
        self.store.upsert_links(self.cfg.name, upserts)
        self.store.delete_links(self.cfg.name, drops)

    # -- 5. finish -----------------------------------------------------------------------------
    @closes_on_error
    def finish(self) -> CycleReport:
        cfg, store = self.cfg, self.store
        # Managers last, after every create (references.py); their failures are reference escrows.
        references = self.references.resolve(self.actions)
        failures = {a.source_id: a.reason for a in self.actions if a.status == "failure"}
        if not self.opt.dry_run:
            store.remove_snapshots(cfg.name, self._snap_removed)
            if self.kind != "on-demand":
                store.replace_memberships(cfg.name, self.memberships)
            now = datetime.now(UTC)
            store.record_failures(cfg.name, failures, now)
            store.clear_escrows(cfg.name, [a.source_id for a in self.actions if a.status != "failure"])
            if self.staged:
                store.clear_staged(cfg.name)
                store.stage_deletions(cfg.name, self.cycle_id, [
                    {"source_id": a.source_id, "target_id": a.target_id, "displayName": a.display_name,
                     "action": "disable" if "accountEnabled" in a.changes else "delete", "reason": a.reason}
                    for a in self.staged])
            elif self.opt.allow_deletes:
                store.clear_staged(cfg.name)
            if self._marks and self.kind != "on-demand" and not self.staged:
                # Only now that its changes are applied; never past staged deletions, so that
                # the next cycle (or an approval with --allow-deletes) sees them again.
                store.save_watermarks(cfg.name, self._marks)
                store.save_config_fingerprint(cfg.name, self.config.current, self.cycle_id)
                store.clear_reevaluations(cfg.name, None if self.kind == "initial"
                                          else getattr(self, "_reevaluated", set()))
        self.actions.extend(references)
        self._log(self.actions)
        c = counts([*self._notices, *self.actions])     # cycles.csv counts every provisioning-log row
        if self.kind == "on-demand":
            job = store.job(cfg.name)     # a few users on demand neither enter nor lift quarantine
        else:
            job = self.jobs.after_cycle(c, quarantine_reason=self.quarantine_reason if not self.opt.dry_run
                                        else None, dry_run=self.opt.dry_run, message=self.message)
        said = "; ".join([*self.notes, self.message] if self.message else self.notes)
        store.finish_cycle(cfg.name, self.cycle_id, counts=c, status="failure" if c["failure"] else "success",
                           job=job, error=said or None)
        self.closed = True
        summary = self.message or self.jobs.summary(job)
        return CycleReport(cfg.name, self.cycle_id, self.kind, self.opt.dry_run, c, self.jobs.describe(job),
                           "; ".join([*self.notes, summary]), len(self.staged), self.actions)

    def _fail_whole(self, exc: GraphError) -> None:
        """A failure on the tenant itself (credentials, connection): record, quarantine, stop."""
        job = self.jobs.enter_quarantine("EncounteredQuarantineException", exc) if exc.stops_job else self.store.job(self.cfg.name)
        if self.cycle_id and not self.closed:
            self.store.finish_cycle(self.cfg.name, self.cycle_id, counts=counts(self.actions), status="failure",
                                    job=job, error="; ".join([*self.notes, str(exc)]))
            self.closed = True
        raise exc


def run_cycle(cfg: SyncConfig, *, source_api: Any, target_api: Any, store: Store,
              options: CycleOptions | None = None, notify: Callable[[str, str], None] | None = None,
              on_progress: Callable[[int], None] | None = None) -> CycleReport:
    """Run one whole cycle without Prefect (tests, benchmarks, the engine's own CLI path)."""
    cycle = Cycle(cfg, source_api=source_api, target_api=target_api, store=store, options=options, notify=notify)
    return drive(cycle, on_progress=on_progress)


def drive(cycle: Cycle, *, on_progress: Callable[[int], None] | None = None) -> CycleReport:
    """Run an opened Cycle from begin to finish in one go."""
    cycle.begin()
    for n, page in enumerate(cycle.pages(), start=1):
        cycle.plan_page(page)
        for batch in cycle.ready_batches():
            cycle.apply(batch)
        if on_progress:
            on_progress(n)
    cycle.decide()
    for batch in cycle.batches():
        cycle.apply(batch)
    return cycle.finish()


__all__ = ["Cycle", "CycleOptions", "CycleReport", "QuarantinedError", "drive", "run_cycle"]
