"""The manager reference attribute (docs/entra-behaviour.md#cross-tenant-synchronization-mappings),
resolved the way the documentation describes it for cross-tenant synchronization.

What the documentation says (cross-tenant-synchronization-overview, FAQ "What user attributes can
I synchronize?") and what this module does with it:
- "For you to provision the manager attribute, both the user and their manager must be in scope":
  a user's manager is set in the target only when the source manager is linked (provisioned by
  this configuration: link active or pending) and is not leaving the scope in this cycle. The
  target manager is the manager's linked target user, set with ``PUT /users/{id}/manager/$ref``
  (user-post-manager).
- "Manager updates apply on the incremental cycle for users who are undergoing changes": the users
  a cycle plans (everyone in an initial cycle, the changed users in an incremental one, the chosen
  ones on demand) have their manager compared with the target's, and set when it differs.
- "If the manager of a user is removed in the source tenant and no new manager is assigned in the
  source tenant, the manager attribute isn't updated in the target tenant": no manager is ever
  removed in the target (tenantsync sends no ``DELETE .../manager/$ref``), neither when the source
  removes it nor when the manager leaves the scope; the log says so for a removal.
- A manager not provisioned yet is never an error. This pass runs at the end of the cycle, after
  every batch of creates, so a manager created later in the same cycle (a later page) is resolved
  here; otherwise the reference is kept pending (store/references.py) and the first later cycle
  in which the manager is linked sets it, although the user itself does not change again.
- A refused PUT is a failure of that user's reference: a row with Graph's error, a reference
  escrow (ts_reference_escrows, counted toward the absolute quarantine limit only) and a retry in
  a later cycle once the escrow's retry time has come.

Cost (decided for the cheapest documented reads): the source manager comes with users/delta,
asked with ``$select=...,manager`` (delta-query-overview: selecting manager "allows tracking of
changes to user's manager"), so no request of its own; the target's current manager comes with the
target reads the cycle makes anyway, through ``$expand=manager($select=id)`` (user-list-manager:
``GET /users?$expand=manager``); writes are one PUT per changed manager, 20 per ``$batch``. Only a
pending reference resolved in a later cycle reads ``GET /users/{id}/manager`` first.

Provisioning log (docs/entra-behaviour.md#provisioning-logs): each set manager is a row of its own,
after the user's row (Entra exports references in a pass after the objects): provisioningAction
``update``, modifiedProperties ``manager`` (old and new target object ids) and a step of type
``referenceResolution``. A reference that cannot be resolved yet is a ``skipped`` row
(ManagerNotProvisioned); a dry run writes nothing
and logs what would be set. Supported mapping: ``manager`` direct from ``manager`` (the documented
default); another mapping type for manager is not written.

Existing deployments: a users delta link saved before the manager was tracked does not report
manager changes; as the FAQ says of configurations that add the manager, a restart (``sync
--restart``) provisions the manager for all users.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .errors import GraphError
from .model import Action, Change, Step
from .permissions import forbidden_hint

ATTRIBUTE = "manager"
EXPAND_MANAGER = "manager($select=id)"
LINKED = ("active", "pending")
STEP = "EntryReferenceResolution"        # the step's name is ours; its type is Graph's
log = logging.getLogger("tenantsync.references")


def manager_id(value: Any) -> str | None:
    """The object id of a manager value ({"id": ...} as the engine keeps it, or an id)."""
    if isinstance(value, dict):
        value = value.get("id")
    return str(value) if value else None


def manager_from_delta(page: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``manager@delta`` -> ``manager``: the manager left without ``@removed``, else None."""
    for item in page:
        if "manager@delta" in item:
            refs = item.pop("manager@delta") or []
            live = [r for r in refs if isinstance(r, dict) and "@removed" not in r and r.get("id")]
            item["manager"] = {"id": live[-1]["id"]} if live else None
    return page


def manager_from_expand(user: dict[str, Any]) -> dict[str, Any]:
    """An ``$expand=manager`` answer -> ``manager``: {"id": ...} or None (no manager)."""
    user["manager"] = {"id": m} if (m := manager_id(user.get("manager"))) else None
    return user


def maps_manager(mappings: Iterable[Any]) -> bool:
    """Whether the effective mappings hold the documented manager mapping (direct)."""
    return any(m.target == ATTRIBUTE and m.type == "direct" and (m.source or "") == ATTRIBUTE
               for m in mappings)


def _processed(a: Action) -> bool:
    """The user was written, or found in step: its manager is its to set. A skipped user (SMS
    sign-in, a target user deleted by a target administrator) and a failed one are left alone."""
    if a.kind == "other":
        return a.error_code == "RedundantExport" and a.status == "skipped"
    return a.kind in ("create", "update", "disable") and a.status == "success"


@dataclass(slots=True)
class _Noted:
    manager: str | None          # the source manager's object id
    current: str | None          # the target user's manager, as read by this cycle
    removed: bool                # the source removed its manager in this change
    name: str


@dataclass(slots=True)
class _Want:
    manager: str                 # source manager id
    target_id: str | None        # the user's target id (None: to be created, dry run)
    current: str | None
    known: bool                  # current was read this cycle (else read before writing)
    name: str
    target_name: str


class ManagerReferences:
    """Notes the planned users' managers page by page; ``resolve`` sets them at the end."""

    def __init__(self, config: str, store: Any, target: Any, *, enabled: bool, dry_run: bool):
        self.config, self.store, self.target = config, store, target
        self.enabled, self.dry_run = enabled, dry_run
        self._noted: dict[str, _Noted] = {}

    # -- while planning ------------------------------------------------------------------------
    def note(self, users: Sequence[dict[str, Any]], scopes: Mapping[str, Any],
             matches: Mapping[str, Any], prior: Mapping[str, dict[str, Any]]) -> None:
        """The in-scope users of one page: their source manager and the target's."""
        if not self.enabled:
            return
        for u in users:
            uid = u["id"]
            scope = scopes.get(uid)
            if scope is None or not scope.in_scope:
                self._noted.pop(uid, None)
                continue
            mid = manager_id(u.get("manager"))
            removed = mid is None and manager_id((prior.get(uid) or {}).get("manager")) is not None
            if mid is None and not removed:
                self._noted.pop(uid, None)
                continue
            target = matches[uid].target or {}
            self._noted[uid] = _Noted(mid, manager_id(target.get("manager")), removed,
                                      u.get("displayName") or "")

    # -- after the last batch ------------------------------------------------------------------
    def resolve(self, actions: Sequence[Action]) -> list[Action]:
        """Set the managers that differ; returns the provisioning-log actions of this pass."""
        if not self.enabled:
            return []
        latest = {a.source_id: a for a in actions}
        leaving = {a.source_id for a in actions if a.is_removal or a.kind == "stagedDelete"}
        creating = {a.source_id for a in actions if a.kind == "create" and a.status == "success"}
        out: list[Action] = []
        wanted: dict[str, _Want] = {}
        drop: set[str] = set()
        for uid, n in self._noted.items():
            a = latest.get(uid)
            if a is None or uid in leaving or not _processed(a):
                continue
            if a.target_id is None and not (self.dry_run and a.kind == "create"):
                continue
            if n.manager is None:
                drop.add(uid)
                out.append(self._kept(a, n))
            else:
                wanted[uid] = _Want(n.manager, a.target_id, n.current, True, n.name or a.display_name,
                                    a.target_display_name)
        self._pending(wanted, drop, leaving)
        links = self.store.links_for(self.config, {w.manager for w in wanted.values()})
        todo: list[tuple[str, _Want, str | None]] = []
        unresolved: dict[str, str] = {}
        for uid, w in wanted.items():
            link = links.get(w.manager)
            if link is not None and link.state in LINKED and w.manager not in leaving:
                todo.append((uid, w, link.target_id))
            elif self.dry_run and w.manager in creating:
                todo.append((uid, w, None))             # created by this (dry) cycle
            else:
                unresolved[uid] = w.manager
                if w.known:
                    out.append(self._not_provisioned(uid, w))
        self._read_current([w for _, w, _t in todo if not w.known])
        writes = [(uid, w, t) for uid, w, t in todo if t is None or w.current != t]
        in_step = {uid for uid, w, t in todo if t is not None and w.current == t}
        done, failed = self._write(writes, out)
        if not self.dry_run:
            self.store.save_pending_references(self.config, ATTRIBUTE, unresolved)
            self.store.drop_pending_references(self.config, ATTRIBUTE, drop | in_step | done)
            self.store.clear_reference_escrows(self.config, ATTRIBUTE, in_step | done)
            if failed:
                self.store.save_pending_references(self.config, ATTRIBUTE,
                                                   {uid: wanted[uid].manager for uid in failed})
                self.store.record_reference_failures(self.config, ATTRIBUTE, failed,
                                                     datetime.now(UTC))
        self._noted.clear()
        return out

    def _pending(self, wanted: dict[str, _Want], drop: set[str], leaving: set[str]) -> None:
        """References kept by earlier cycles whose manager is linked now (users not planned now)."""
        pending = {uid: m for uid, m in self.store.resolvable_references(
            self.config, ATTRIBUTE, datetime.now(UTC)).items() if uid not in self._noted}
        if not pending:
            return
        snaps = self.store.snapshots(self.config, pending)
        links = self.store.links_for(self.config, pending)
        for uid, mid in pending.items():
            snap, link = snaps.get(uid) or {}, links.get(uid)
            if manager_id(snap.get(ATTRIBUTE)) != mid or link is None or link.state not in LINKED \
                    or uid in leaving:
                drop.add(uid)             # the user's manager changed, or the user left the scope
                continue
            wanted[uid] = _Want(mid, link.target_id, None, False, snap.get("displayName") or "", "")

    def _read_current(self, wants: list[_Want]) -> None:
        if not wants:
            return
        try:
            current = self.target.current_managers(w.target_id for w in wants if w.target_id)
        except GraphError as exc:           # unknown: set it anyway (a PUT is idempotent)
            log.warning("%s: could not read current managers: %s", self.config, exc)
            current = {}
        for w in wants:
            w.current = current.get(w.target_id or "")

    def _write(self, writes: list[tuple[str, _Want, str | None]],
               out: list[Action]) -> tuple[set[str], dict[str, str]]:
        """PUT manager/$ref (not in a dry run); (succeeded, failed: source id -> error)."""
        actions = [self._set(uid, w, t) for uid, w, t in writes]
        out.extend(actions)
        real = [(a, w, t) for a, (_uid, w, t) in zip(actions, writes) if t is not None and w.target_id]
        if self.dry_run or not real:
            return set(), {}
        try:
            replies = self.target.set_managers([(w.target_id, t) for _a, w, t in real])
        except GraphError as exc:
            replies = [{"status": exc.status or 500, "body": {"error": {"code": exc.code,
                                                                        "message": exc.message}}}] * len(real)
        done: set[str] = set()
        failed: dict[str, str] = {}
        for (a, w, _t), reply in zip(real, replies):
            if reply["status"] < 300:
                done.add(a.source_id)
                continue
            err = (reply.get("body") or {}).get("error") or {}
            message = err.get("message") or ""
            if reply["status"] == 403:
                message = f"{message} {forbidden_hint('PUT', f'/users/{w.target_id}/manager/$ref', 'target')}"
            a.status, a.error_code = "failure", err.get("code") or f"HTTP{reply['status']}"
            a.reason = f"{a.reason} Failed: {message.strip()}"
            failed[a.source_id] = a.reason
        return done, failed

    # -- provisioning-log actions --------------------------------------------------------------
    def _set(self, uid: str, w: _Want, target_manager: str | None) -> Action:
        new = target_manager or f"(the target user created for source user {w.manager})"
        verb = "Would set" if self.dry_run else "Set"
        step = Step(STEP, "referenceResolution", "success",
                    f"Manager reference resolved: source user {w.manager} is target user {new}.",
                    {"ReferenceAttribute": ATTRIBUTE, "SourceReference": w.manager,
                     "TargetReference": target_manager or ""})
        return Action("update", uid, w.target_id, display_name=w.name,
                      changes={ATTRIBUTE: Change(w.current, new)},
                      reason=f"{verb} the manager to target user {new} (source manager {w.manager}).",
                      steps=[step], target_display_name=w.target_name)

    def _not_provisioned(self, uid: str, w: _Want) -> Action:
        text = (f"The manager (source user {w.manager}) is not provisioned in the target: not in scope, "
                "or not created yet. Kept: the manager is set once it is provisioned (both the user "
                "and their manager must be in scope).")
        return Action("other", uid, w.target_id, display_name=w.name, reason=text, status="skipped",
                      error_code="ManagerNotProvisioned", target_display_name=w.target_name,
                      steps=[Step(STEP, "referenceResolution", "skipped", text,
                                  {"ReferenceAttribute": ATTRIBUTE, "SourceReference": w.manager})])

    def _kept(self, a: Action, n: _Noted) -> Action:
        text = ("The manager was removed in the source; as documented, the target's manager is not "
                "updated (\"If the manager of a user is removed in the source tenant and no new manager "
                "is assigned in the source tenant, the manager attribute isn't updated in the target "
                "tenant\").")
        return Action("other", a.source_id, a.target_id, display_name=n.name or a.display_name, reason=text,
                      status="skipped", error_code="ManagerNotCleared", target_display_name=a.target_display_name,
                      steps=[Step(STEP, "referenceResolution", "skipped", text,
                                  {"ReferenceAttribute": ATTRIBUTE, "TargetReference": n.current or ""})])
