"""One cross-tenant synchronization cycle: a ``pipeline.Stages`` over a source, a target and a store.

``Cycle`` receives its source tenant (ports.Source), target tenant (ports.TenantTarget) and state
store (ports.Store); ``entra_cycle`` builds the Entra pair from two Graph clients. The stage order
lives in ``pipeline.drive`` only: the Prefect layer passes its tasks to it (flows/_cycle.py),
``run_cycle``/``drive`` here run a cycle in one go (the command line without Prefect, tests,
benchmarks). The stage bodies are in cycle_begin.py (kind, record, memberships, expired delta
links), cycle_plan.py (one page) and cycle_apply.py (one batch); decide and finish are here.

Attributes Graph documents as not written through Graph (stages.writable.NOT_WRITABLE, e.g.
showInAddressList: "Do not use in Microsoft Graph") are dropped from the mappings: never compared,
never sent. The provisioning log says so in one warning row per cycle (provisioningAction other,
status warning, errorCode AttributeNotWritableInGraph), which an auditor finds next to the users'
rows of the same cycle; on-demand runs report per user and do not repeat it.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from . import cycle_apply, cycle_begin, cycle_plan, pipeline
from .anchor import require_anchor
from .config import SyncConfig
from .connectors.entra_source import EntraSource
from .connectors.entra_target import EntraTarget
from .errors import GraphError, QuarantinedError
from .fingerprint import ConfigWatch
from .model import NO_CHANGES, NO_STEPS, Action
from .ports import Source, Store, TenantTarget, User
from .quarantine import JobKeeper
from .records import counts, log_rows
from .recovery import CreateRows, close_failed
from .references import ManagerReferences, maps_manager
from .stages.guard import apply_deletion_threshold, empty_source_abort
from .stages.mapping import MappingPlan, b2b_upn
from .stages.matching import TargetIndex, match_user
from .stages.scope import ScopeContext
from .stages.writable import split_writable
from .store import Link

Kind = Literal["initial", "incremental", "on-demand"]
Notify = Callable[[str, str], None]


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
    """A cycle in progress (pipeline.Stages): begin, pages/plan_page, decide, batches/apply, finish."""

    def __init__(self, cfg: SyncConfig, *, source: Source, target: TenantTarget, store: Store,
                 options: CycleOptions | None = None, notify: Notify | None = None) -> None:
        self.cfg, self.source, self.target, self.store = cfg, source, target, store
        self.opt = options or CycleOptions()
        self.source_tenant = cfg.connection(cfg.source.connection).tenant_id
        mappings, self.not_writable = split_writable(cfg.effective_mappings)   # never sent (stages.writable)
        self.mapping = MappingPlan(mappings, upn_transform=lambda upn: b2b_upn(upn, target.initial_domain()))
        self.references = ManagerReferences(cfg.name, store, target, enabled=maps_manager(mappings),
                                            dry_run=self.opt.dry_run)
        self.jobs = JobKeeper(store, cfg, notify=notify)
        self.creates = CreateRows(store, cfg.name, cycle_id=lambda: self.cycle_id,
                                  redacted=self.mapping.redacted)
        target.on_invited = self._record_invited
        # -- what begin decides and reads (cycle_begin.py)
        self.kind: Kind = "on-demand" if self.opt.user_ids else "incremental"
        self.cycle_id = ""
        self.closed = False                 # the record is closed (finish, or fail)
        self.config = ConfigWatch(cfg, None)    # against the recorded fingerprint once begun
        self.marks_in: dict[str, str] = {}      # delta links saved by the last complete cycle
        self.marks: dict[str, str] = {}         # delta links to save once this cycle is complete
        self.notes: list[str] = []              # said in the cycle's message and log (expired links)
        self.notices: list[Action] = []         # the one warning row of not-writable attributes
        self.user_round: Iterator[tuple[list[User], str | None]] | None = None
        self.inviting: set[str] = set()         # invitations sent by a cycle that ended first (recovery.py)
        self.links: dict[str, Link] = {}        # every link (initial), else those of the pages read
        self.index = TargetIndex("")            # the whole target (initial cycles)
        self.memberships: dict[str, set[str]] = {}
        self.scope_ctx = ScopeContext.build(cfg.scope, {})
        self.membership_touched: set[str] = set()   # users whose group membership changed
        # -- what the pages add (cycle_plan.py)
        self.actions: list[Action] = []
        self.seen: set[str] = set()
        self.snap_removed: set[str] = set()
        self.in_scope = 0
        self.reevaluated: set[str] = set()      # re-evaluation requests read this cycle
        self._ready_mark = 0
        # -- what decide sets
        self.staged: list[Action] = []
        self.unstaged: list[Action] = []        # the removals an approval brings back
        self.quarantine_reason: str | None = None
        self.message = ""

    # -- the stages (pipeline.Stages) ------------------------------------------------------------
    def begin(self) -> str:
        with fewer_collections():
            return cycle_begin.begin(self)

    def pages(self) -> Iterator[list[User]]:
        """Source pages to plan: the whole tenant (initial), its changes (incremental), or the chosen users."""
        if self.kind == "on-demand":
            found = self.source.get_users(self.opt.user_ids)
            yield [u if u else {"id": i, "@removed": {"reason": "notFound"}} for i, u in found.items()]
            return
        rounds = self.user_round or self.source.user_pages(
            self.marks_in.get("users") if self.kind == "incremental" else None)
        self.user_round = None
        for page, link in rounds:
            if link:
                self.marks["users"] = link
            yield page
        if self.kind == "incremental":
            yield from cycle_plan.extra_incremental_pages(self)

    def plan_page(self, page: Sequence[User]) -> list[Action]:
        with fewer_collections():
            return cycle_plan.plan_page(self, page)

    def decide(self) -> str:
        """Links whose source vanished, the empty-source abort and the deletion threshold."""
        if self.kind == "initial":
            gone = [sid for sid, link in self.links.items() if sid not in self.seen and link.state != "deleted"]
            self.actions.extend(cycle_plan.plan_one(self, {"id": sid}, None, match_user(
                {}, link_target_id=self.links[sid].target_id, anchor="", index=self.index), "soft") for sid in gone)
            active = sum(1 for link in self.links.values() if link.state in ("active", "pending"))
            abort = empty_source_abort(self.in_scope, active) if not self.opt.user_ids else None
        else:
            active = self.store.count_links(self.cfg.name, states=("active", "pending"))
            removing = sum(1 for a in self.actions if a.kind == "delete" and a.status == "success")
            adding = sum(1 for a in self.actions if a.kind == "create" and a.status == "success")
            abort = empty_source_abort(0, active) if active and removing >= active and not adding \
                and self.kind == "incremental" and removing > 1 else None
        if abort:
            self.message = abort
            self.actions = [a for a in self.actions if not a.is_removal]
            self.marks.clear()      # re-read everything next time
        before = list(self.actions)
        decision = apply_deletion_threshold(self.actions, threshold=self.cfg.settings.deletion_threshold,
                                            allow_deletes=self.opt.allow_deletes)
        self.actions, self.staged = decision.allowed + decision.staged, decision.staged
        self.unstaged = [a for a in before if a.is_removal and a.status == "success"] if self.staged else []
        self.quarantine_reason = decision.quarantine_reason
        if decision.message:
            self.message = decision.message
        return self.message

    def approve_staged(self) -> int:
        """An administrator approved the staged deletions (the portal's "Allow deletes")."""
        count = len(self.staged)
        self.actions = [a for a in self.actions if a.kind != "stagedDelete"] + self.unstaged
        self.staged, self.unstaged, self.quarantine_reason = [], [], None
        self.message = f"{count} staged deletions approved and applied."
        self.opt.allow_deletes = True
        return count

    def ready_batches(self) -> list[list[Action]]:
        """Full batches of creates and updates planned so far. No guard can hold them back (only
        removals wait for decide), so they may be applied between pages: a large initial cycle then
        never holds every planned user in memory."""
        size = self.cfg.settings.batch_size
        ready = [(i, a) for i, a in enumerate(self.actions[self._ready_mark:], start=self._ready_mark)
                 if a.is_write and a.status == "success" and not a.is_removal and not a.logged]
        full = len(ready) // size * size
        if not full:
            # The next call starts at the first write still waiting: what lies before it (skips,
            # logged actions) never becomes ready, and a restart in step would otherwise scan
            # every action of the cycle again after each page.
            self._ready_mark = ready[0][0] if ready else len(self.actions)
            return []
        self._ready_mark = ready[full - 1][0] + 1
        return [[a for _, a in ready[i:i + size]] for i in range(0, full, size)]

    def batches(self) -> list[list[Action]]:
        """Every write not applied yet (after decide)."""
        writes = [a for a in self.actions if a.is_write and a.status == "success" and not a.logged]
        size = self.cfg.settings.batch_size
        return [writes[i:i + size] for i in range(0, len(writes), size)]

    def apply(self, batch: list[Action], *, final: bool = True) -> list[Action]:
        """Write one batch (cycle_apply.py); ``final=False`` hands back writes refused for a passing reason."""
        with fewer_collections():
            return cycle_apply.apply_batch(self, batch, final=final)

    def finish(self) -> CycleReport:
        with fewer_collections():
            return self._finish()

    def _finish(self) -> CycleReport:
        cfg, store = self.cfg, self.store
        # Managers last, after every create (references.py); their failures are reference escrows.
        if self.kind == "initial" and not self.opt.dry_run:
            store.keep_snapshots(cfg.name, self.seen)   # a full read: the users it did not return are gone
        references = self.references.resolve(self.actions)
        failures = {a.source_id: a.reason for a in self.actions if a.status == "failure"}
        if not self.opt.dry_run:
            store.remove_snapshots(cfg.name, self.snap_removed)
            if self.kind != "on-demand":
                store.replace_memberships(cfg.name, self.memberships)
            store.record_failures(cfg.name, failures, datetime.now(UTC))
            store.clear_escrows(cfg.name, (a.source_id for a in self.actions if a.status != "failure"))
            if self.staged:
                store.clear_staged(cfg.name)
                store.stage_deletions(cfg.name, self.cycle_id, [
                    {"source_id": a.source_id, "target_id": a.target_id, "displayName": a.display_name,
                     "action": "disable" if "accountEnabled" in a.changes else "delete", "reason": a.reason}
                    for a in self.staged])
            elif self.opt.allow_deletes:
                store.clear_staged(cfg.name)
            if self.marks and self.kind != "on-demand" and not self.staged:
                # Only now that its changes are applied; never past staged deletions, so that
                # the next cycle (or an approval with --allow-deletes) sees them again.
                store.save_watermarks(cfg.name, self.marks)
                store.save_config_fingerprint(cfg.name, self.config.current, self.cycle_id)
                store.clear_reevaluations(cfg.name, None if self.kind == "initial" else self.reevaluated)
        self.actions.extend(references)
        self.log(self.actions)
        c = counts([*self.notices, *self.actions])     # cycles.csv counts every provisioning-log row
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

    def fail(self, error: BaseException) -> None:
        """A stage raised (pipeline.drive): the cycle is recorded as failed, and a credential or
        permission refused by a tenant puts the job in quarantine. A Graph failure before the
        record existed (the users delta round) is recorded as a failed cycle all the same."""
        if self.closed or isinstance(error, QuarantinedError):
            return
        graph = isinstance(error, GraphError)
        if not self.cycle_id:
            if not graph:
                return
            self.cycle_id = self.store.start_cycle(self.cfg.name, self.kind, dry_run=self.opt.dry_run)
        self.closed = True
        if isinstance(error, GraphError) and error.stops_job:
            job = self.jobs.enter_quarantine("EncounteredQuarantineException", error)
        else:
            job = self.store.job(self.cfg.name)
        close_failed(self.store, self.cfg.name, self.cycle_id, error, self.notes, job)

    # -- shared by the stage modules -------------------------------------------------------------
    def log(self, actions: Sequence[Action]) -> None:
        """Provisioning-log rows of the actions not logged yet (a create's early row replaced)."""
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
                a.steps = NO_STEPS
                if a.status != "success" or not a.is_removal:
                    a.changes = NO_CHANGES

    def _record_invited(self, created: list[Action]) -> None:
        cycle_apply.record_invited(self, created)


# A page of 1,000 users allocates a few hundred thousand dicts and lists (actions, steps, log rows,
# the Graph JSON). At Python's default threshold (700 allocations) that is hundreds of young
# collections per page and, every so often, a full one over everything the cycle holds (links,
# the target index: millions of objects at 100,000 users): a third of a restart's CPU went there.
# During a stage the young generation may grow to YOUNG objects first. Reference cycles (the HTTP
# client makes some) are still collected, within YOUNG allocations: turning the collector off
# instead kept every page read during begin until its end (75 MB more at 100,000 users).
YOUNG = 20_000
_collector = threading.Lock()
_collector_users: list[tuple[int, int, int]] = []     # the thresholds in force before the first stage


@contextmanager
def fewer_collections() -> Iterator[None]:
    """The collector's young threshold raised to YOUNG while a stage runs (process-wide, as the
    collector is: concurrent stages share one raise, the last one out puts the thresholds back)."""
    with _collector:
        if not _collector_users:
            old = gc.get_threshold()
            gc.set_threshold(max(old[0], YOUNG), *old[1:])
            _collector_users.append(old)
        else:
            _collector_users.append(_collector_users[0])
    try:
        yield
    finally:
        with _collector:
            old = _collector_users.pop()
            if not _collector_users:
                gc.set_threshold(*old)


def entra_cycle(cfg: SyncConfig, *, source_api: Any, target_api: Any, store: Store,
                options: CycleOptions | None = None, notify: Notify | None = None,
                anchor_attribute: str | None = None) -> Cycle:
    """A Cycle between two Entra tenants, from their Graph clients (GraphApi). ``anchor_attribute``:
    the anchor extension's registered name as setup resolved it (preflight.py), else the store's."""
    mappings, _ = split_writable(cfg.effective_mappings)
    reads = MappingPlan(mappings)               # the attributes each side is asked for
    manager = maps_manager(mappings)
    target = EntraTarget(target_api, anchor_attribute=anchor_attribute or require_anchor(cfg, store),
                         select=reads.targets, source_tenant=cfg.connection(cfg.source.connection).tenant_id,
                         expand_manager=manager)
    source = EntraSource(source_api, [*reads.source_attributes, *cfg.scope.filter_attributes], manager=manager)
    return Cycle(cfg, source=source, target=target, store=store, options=options, notify=notify)


def run_cycle(cfg: SyncConfig, *, source_api: Any, target_api: Any, store: Store,
              options: CycleOptions | None = None, notify: Notify | None = None,
              on_progress: Callable[[int], None] | None = None) -> CycleReport:
    """Run one whole cycle without Prefect (tests, benchmarks, the engine's own CLI path)."""
    cycle = entra_cycle(cfg, source_api=source_api, target_api=target_api, store=store, options=options,
                        notify=notify)
    return drive(cycle, on_progress=on_progress)


class _Pages(pipeline.Observer):
    def __init__(self, on_progress: Callable[[int], None]) -> None:
        self.on_progress = on_progress

    def planned(self, page: int, users: int) -> None:
        self.on_progress(page)


def drive(cycle: Cycle, *, on_progress: Callable[[int], None] | None = None) -> CycleReport:
    """Run an opened Cycle from begin to finish in one go (pipeline.drive, each stage called directly)."""
    return pipeline.drive(cycle, pipeline.DIRECT, _Pages(on_progress) if on_progress else None)


__all__ = ["Cycle", "CycleOptions", "CycleReport", "QuarantinedError", "drive", "entra_cycle", "run_cycle"]
