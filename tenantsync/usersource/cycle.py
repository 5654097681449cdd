"""One user-source run as ``pipeline.Stages``: the same stage loop (``pipeline.drive``) as the
cross-tenant sync, with the application directory as its target.

- begin: the delta links still valid for what they track (fingerprints), the kind (initial when
  a round has no valid link), the cycle record (``start_cycle``);
- pages: the users round's pages (/users/delta), then the groups round's (/groups/delta with
  ``members@delta``); an expired link starts its round again without it;
- plan_page: scope ``all`` (every user and group), mapping (``UserSource.record``), matching by
  source id (``DirectoryTarget.user_sources``), plan: one action per object and the page's commit
  (target.py). Each page is one batch, written in one transaction as soon as it is planned
  (``ready_batches``); the delta link goes with the last page of its round;
- decide: the guard of a full round (the first run, changed mappings, an expired link): its last
  page, which removes the objects the tenant no longer has (``keep_only``), is written only once
  the whole round has been read. A round that fails half-way removes nothing;
- apply: ``DirectoryWrites.apply`` (target.py);
- finish: the invitation outbox, the notifications (outbox.py), the cycle record
  (``finish_cycle``) and the run's ``ProcedureResult``.

A Graph failure ends the reading and makes the run a failure, with an ``entra_unreachable``
notification when Entra ID could not be reached or refused the credentials or a permission; what
was written before it stays, and the queued invitations still go out.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..connectors.directory_target import DirectoryTarget, GroupRecord
from ..errors import ErrorKind, GraphError
from ..model import Action
from ..pipeline import Batch, Page
from ..results import ProcedureResult
from .config import UserSourceConfig
from .mapping import GROUP_PROPERTIES, GROUP_SELECT, UserSource, member_type
from .notifications import Notification, attribute_notifications, unreachable_notification
from .outbox import Send
from .result import PROCEDURE, details
from .target import DirectoryAction, DirectoryWrites, PageCommit, Resource, commit_action, object_action

log = logging.getLogger("tenantsync.usersource")

# The failures the "Entra ID unreachable" notification covers: no answer (after the retries), the
# credentials refused (401, or no token at all) and a permission refused (403).
UNREACHABLE = (ErrorKind.TRANSIENT, ErrorKind.AUTH, ErrorKind.FORBIDDEN)


@dataclass
class _Round:
    """The delta round being read: its pages are planned against it."""

    resource: Resource
    full: bool                                     # read without a link: the whole tenant
    delta: Any                                     # GraphApi.delta(...): pages(), then delta_link
    seen: set[str] = field(default_factory=set)
    members_full: dict[str, dict[str, str]] = field(default_factory=dict)


class UserSourceCycle:
    """A user-source run in progress; ``pipeline.drive`` calls its stages in order."""

    def __init__(self, cfg: UserSourceConfig, source: UserSource, directory: DirectoryTarget, *,
                 notify: Send | None, api: Any, started: datetime) -> None:
        self.cfg, self.source, self.directory = cfg, source, directory
        self.target = DirectoryWrites(directory, cfg.name, send=notify,
                                      invitation=source.invitation if cfg.settings.auto_invite else None)
        self.api, self._own_api = api, api is None
        self.started = started
        self.staged: list[Action] = []                 # the user source stages no deletion
        self.kind = ""
        self.cycle_id: int | None = None
        self.closed = False                            # the cycle record is finished
        self.links: dict[Resource, str | None] = {}
        self.users_read = 0
        self.missing: dict[str, int] = {}              # tracked attribute -> users without a value
        self.notes: list[str] = []                     # expired delta links, said in the message
        self.call = ("GET", "/users/delta")            # the round under way: names a 403's permission
        self.error: GraphError | None = None
        self._t0 = time.monotonic()
        self._round: _Round | None = None
        self._read_whole: set[Resource] = set()        # rounds read to their last page
        self._ready: list[Batch] = []
        self._held: list[tuple[Resource, Batch]] = []  # full rounds' last pages: released by decide
        self._decided: list[Batch] = []

    # -- begin -------------------------------------------------------------------------------------
    def begin(self) -> str:
        if self.cycle_id is not None:                  # a retried begin opens no second cycle record
            return self.kind
        links = self.directory.delta_links(self.cfg.name)
        self.links = {"users": _valid(links.get("users"), self.source.users_fingerprint),
                      "groups": _valid(links.get("groups"), self.source.groups_fingerprint)}
        self.kind = "incremental" if all(self.links.values()) else "initial"
        self.cycle_id = self.directory.start_cycle(self.cfg.name, self.kind)
        self._t0 = time.monotonic()
        return self.kind

    # -- pages -------------------------------------------------------------------------------------
    def pages(self) -> Iterator[Page]:
        try:
            if self.api is None:
                self.api = self._open_api()
            yield from self._round_pages("users")
            self.call = ("GET", "/groups/delta")
            yield from self._round_pages("groups")
        except GraphError as exc:          # the run fails; what was written stays (finish says so)
            self.error = exc
            log.warning("%s: %s %s failed: %s", self.cfg.name, *self.call, exc)

    def _open_api(self) -> Any:
        from ..graph.api import GraphApi
        from ..graph.core import RetryPolicy

        return GraphApi(self.cfg.source_connection, read_only=True,
                        retry_policy=RetryPolicy(max_retries=self.cfg.settings.graph_max_retries))

    def _round_pages(self, resource: Resource) -> Iterator[Page]:
        link = self.links.get(resource)
        try:
            yield from self._read(resource, link)
        except GraphError as exc:
            if not (link and exc.needs_resync):
                raise
            # delta-query-overview: 410 Gone or syncStateNotFound after seven days or a tenant
            # migration. The round starts again as a full read, reconciled only once read whole.
            note = (f"{resource} delta link expired ({exc.status} {exc.code}): full read (removals only "
                    "after the whole round, as in a first run)")
            self.notes.append(note)
            log.warning("%s: %s", self.cfg.name, note)
            yield from self._read(resource, None)

    def _read(self, resource: Resource, link: str | None) -> Iterator[Page]:
        if resource == "users":
            delta = self.api.delta("users", select=self.source.select, link=link)
        else:
            # members@delta through $select; never $expand, which delta does not support
            # (delta-query-overview).
            delta = self.api.delta("groups", select=list(GROUP_SELECT), members=True, link=link)
        self._round = _Round(resource, full=link is None, delta=delta)
        yield from delta.pages()
        self._read_whole.add(resource)

    # -- plan --------------------------------------------------------------------------------------
    def plan_page(self, page: Page) -> list[Action]:
        """The page's actions and its commit: one batch, one transaction."""
        rnd = self._round
        if rnd is None:
            raise RuntimeError("plan_page before pages(): the stages run in pipeline.drive's order")
        commit = PageCommit(rnd.resource)
        actions = self._plan_users(page, rnd) if rnd.resource == "users" else self._plan_groups(page, rnd, commit)
        link = rnd.delta.delta_link                    # known once the round's last page was read
        if link is not None:
            fingerprint = self.source.users_fingerprint if rnd.resource == "users" else self.source.groups_fingerprint
            commit.link = (link, fingerprint)
        batch: Batch = [*actions, commit_action(commit)]
        if rnd.full and link is not None:              # the end of a full round: decide releases it
            commit.keep_only = rnd.seen
            if rnd.resource == "groups":
                commit.members_full = rnd.members_full
            self._held.append((rnd.resource, batch))
        else:
            self._ready.append(batch)
        return batch

    def _plan_users(self, page: Page, rnd: _Round) -> list[Action]:
        removed: list[str] = []
        changed: dict[str, dict[str, Any]] = {}
        for item in page:                              # scope all: every user of the tenant
            oid = item.get("id")
            if not oid:
                continue
            if "@removed" in item:
                removed.append(oid)
                changed.pop(oid, None)
                continue
            removed = [r for r in removed if r != oid]
            props = {k: v for k, v in item.items() if not k.startswith("@") and "@odata" not in k}
            changed[oid] = {**changed.get(oid, {}), **props}
        stored = self.directory.user_sources(list(changed))     # matching: by source object id
        actions: list[Action] = []
        for oid, props in changed.items():
            # A delta item carries the changed properties only: the rest is what was stored.
            merged = props if rnd.full else {**stored.get(oid, {}), **props}
            record = self.source.record(merged, creating=oid not in stored)
            self.users_read += 1
            for name in self.source.missing(record):
                self.missing[name] = self.missing.get(name, 0) + 1
            actions.append(object_action("update" if oid in stored else "create", oid, record=record,
                                         name=str(record.fields.get("display_name") or "")))
        rnd.seen.update(changed)
        actions += [object_action("delete", oid, reason="Removed from the tenant (users delta @removed).")
                    for oid in removed]
        return actions

    def _plan_groups(self, page: Page, rnd: _Round, commit: PageCommit) -> list[Action]:
        records: dict[str, GroupRecord] = {}
        removed: list[str] = []
        for item in page:                              # scope all: every group of the tenant
            gid = item.get("id")
            if not gid:
                continue
            if "@removed" in item:
                removed.append(gid)
                records.pop(gid, None)
                rnd.members_full.pop(gid, None)
                continue
            fields = {column: item[name] for name, column in GROUP_PROPERTIES.items() if name in item}
            if fields or rnd.full:
                prev = records.get(gid)
                records[gid] = GroupRecord(gid, {**(prev.fields if prev else {}), **fields})
            rnd.seen.add(gid)
            bucket = rnd.members_full.setdefault(gid, {}) if rnd.full else {}
            for m in item.get("members@delta") or []:
                mtype = member_type(m)
                if mtype is None or not m.get("id"):
                    continue
                if rnd.full:
                    if "@removed" in m:
                        bucket.pop(m["id"], None)
                    else:
                        bucket[m["id"]] = mtype
                elif "@removed" in m:
                    commit.members_removed.append((gid, m["id"]))
                else:
                    commit.members_added.append((gid, m["id"], mtype))
        # Groups are matched by id inside the write: a delta item carries only the changed
        # properties, so each is planned as an update and applied as a create when it is new.
        actions: list[Action] = [object_action("update", gid, record=rec, name=str(rec.fields.get("display_name") or ""))
                                 for gid, rec in records.items()]
        actions += [object_action("delete", gid, reason="Removed from the tenant (groups delta @removed).")
                    for gid in removed]
        return actions

    def ready_batches(self) -> list[Batch]:
        """One batch per page planned since the last call: a page is written before the next is read."""
        ready, self._ready = self._ready, []
        return ready

    # -- decide ------------------------------------------------------------------------------------
    def decide(self) -> str:
        """A full round's reconciliation only when the whole round was read."""
        for resource, batch in self._held:
            if resource in self._read_whole:
                self._decided.append(batch)
            else:
                log.warning("%s: the %s round was not read whole: nothing removed", self.cfg.name, resource)
        self._held = []
        return ""

    def approve_staged(self) -> int:
        return 0                                       # nothing is ever staged (no deletion threshold)

    def batches(self) -> list[Batch]:
        """The batches decide released that are not written yet."""
        return [b for b in self._decided if not _commit(b).written]

    # -- apply -------------------------------------------------------------------------------------
    def apply(self, batch: Batch, *, final: bool = True) -> list[Action]:
        """One page in one transaction. Nothing is handed back for another try (``final`` changes
        nothing): the directory is local, and a page a failure stopped is read again next run."""
        return self.target.apply(batch)

    # -- finish ------------------------------------------------------------------------------------
    def finish(self) -> ProcedureResult:
        """Invitations, notifications, the cycle record; the run's result."""
        cfg, s = self.cfg, self.cfg.settings
        notes: list[Notification] = []
        failure, error = "", None
        if self.error is not None:
            exc = self.error
            error = str(exc)
            if exc.kind in UNREACHABLE:
                # Refused credentials and missing permissions are the same notification, naming the fix.
                note = unreachable_notification(s.instance_name, cfg.source_connection, exc, self.call)
                notes.append(note)
                failure = (f"Entra ID unreachable: {exc}" if exc.kind is ErrorKind.TRANSIENT else
                           f"Entra ID {'refused the credentials' if exc.kind is ErrorKind.AUTH else 'refused a permission'}: "
                           f"{exc}; fix: {note.details['fix']}")
            else:
                failure = f"Entra ID answered an error: {exc}"
        notes += attribute_notifications(s.instance_name, self.users_read, self.missing, self.source.tracked)
        # Queued invitations go out even when a round failed: the users they belong to are imported.
        invitations = self.target.send_invitations()
        cycle_id = self._cycle_id()
        stored = self.target.notify(cycle_id, notes, s.notification_email)
        c = self.target.counts
        summary = (f"users +{c['users_created']} ~{c['users_updated']} -{c['users_removed']}, "
                   f"groups +{c['groups_created']} ~{c['groups_updated']} -{c['groups_removed']}, "
                   f"memberships +{c['memberships_added']} -{c['memberships_removed']}, "
                   f"invitations sent {c['invitations_sent']}")
        word = "failed" if self.error is not None else "success"   # the directory's cycle status
        message = f"{self.kind} cycle {word}: {summary}" + "".join(f"; {m}" for m in (*self.notes, failure) if m)
        self.directory.finish_cycle(cycle_id, word, c, message)
        self.closed = True
        self.close()
        return ProcedureResult(
            procedure=PROCEDURE, config=cfg.name, status="failure" if self.error is not None else "success",
            reason="entra-unreachable" if self.error is not None and self.error.kind in UNREACHABLE else None,
            message=message, kind=self.kind, cycle_id=str(cycle_id), counts=dict(c),
            details=details(cfg, self.started, error=error, users_read=self.users_read,
                            duration_s=round(time.monotonic() - self._t0, 3), notifications=stored,
                            invitations=invitations))

    def _cycle_id(self) -> int:
        if self.cycle_id is None:
            raise RuntimeError("finish before begin: the stages run in pipeline.drive's order")
        return self.cycle_id

    def fail(self, exc: BaseException) -> None:
        """A stage raised (the database, a bug, an interrupt): record the cycle as failed."""
        if self.cycle_id is None or self.closed:
            return
        try:
            self.directory.finish_cycle(self.cycle_id, "failed", self.target.counts,
                                        f"{self.kind} cycle failed: {type(exc).__name__}: {exc}")
            self.closed = True
        except Exception:                              # the database itself may be what failed
            log.exception("%s: could not record the failed cycle %s", self.cfg.name, self.cycle_id)

    def close(self) -> None:
        """Close the Graph client this run opened (one given by the caller stays open)."""
        if self._own_api and self.api is not None:
            self.api.close()
            self.api = None


def _commit(batch: Batch) -> PageCommit:
    last = batch[-1]
    if not isinstance(last, DirectoryAction) or last.commit is None:
        raise ValueError("a directory batch ends with its page's commit action")
    return last.commit


def _valid(entry: tuple[str, str] | None, fingerprint: str) -> str | None:
    """The stored link, when it tracks what this configuration reads."""
    if entry is None:
        return None
    link, fp = entry
    return link if fp == fingerprint else None


__all__ = ["UNREACHABLE", "UserSourceCycle"]
