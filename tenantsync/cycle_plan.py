"""A cycle's plan stage for one page of source users: scope, map, match, plan.

Every Graph read of a page (the target lookup, the full read of users whose digest differs, the
SMS sign-in state) happens before the page changes anything the cycle keeps (its actions, its
in-scope count, the log): a page planned again after a transient failure (a Prefect task retry)
is neither counted nor logged twice.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .errors import ExpressionError
from .model import Action, ScopeResult, Step
from .recovery import adopt_invited, complete_pending, link_matched
from .sms import apply_sms_rule
from .stages.mapping import Desired
from .stages.matching import Match, TargetIndex, anchor_value, match_user
from .stages.plan import Removal, plan_user
from .stages.scope import evaluate_scope
from .store import Link

if TYPE_CHECKING:
    from .cycle import Cycle

User = dict[str, Any]


def plan_page(cycle: Cycle, page: Sequence[User]) -> list[Action]:
    """Scope, map, match and plan one page of source users; returns the page's actions."""
    cfg, store, on_demand = cycle.cfg, cycle.store, cycle.kind == "on-demand"
    missing = not_found(cycle, page) if on_demand else []
    if missing:
        page = [u for u in page if u["id"] not in {a.source_id for a in missing}]
    users: list[User] = []
    fresh: dict[str, User] = {}
    removals: dict[str, Removal] = {}
    prior: dict[str, User] = {}
    if cycle.kind == "incremental":
        ids = [u["id"] for u in page]
        prior = store.snapshots(cfg.name, ids)
        cycle.links.update(store.links_for(cfg.name, ids))
    for raw in page:
        uid = raw["id"]
        link = cycle.links.get(uid)
        if link is not None and link.source_id is not uid:
            uid = raw["id"] = link.source_id    # one string for the id the cycle keeps (links, seen, actions)
        cycle.seen.add(uid)
        if "@removed" in raw:
            removals[uid] = "hard" if raw["@removed"].get("reason") == "deleted" else "soft"
            cycle.snap_removed.add(uid)
            user = prior.get(uid) or {"id": uid}
        else:
            user = {**prior.get(uid, {}), **raw}
            if user != prior.get(uid):         # a snapshot is written only when it changed
                fresh[uid] = user
        users.append(user)
    if not cycle.opt.dry_run:
        # Written page by page rather than held until finish: a 100,000-user cycle would otherwise
        # keep the whole tenant in memory. Safe before apply: the next run merges the same delta.
        # An initial cycle has no prior here: the store compares with what it holds.
        store.save_snapshots(cfg.name, fresh)
    if on_demand:
        removals = {k: v for k, v in removals.items() if k in cycle.links}  # not found: just skipped
    scopes = {u["id"]: evaluate_scope(u, cycle.scope_ctx) for u in users if u["id"] not in removals}
    index = index_for(cycle, users, removals)
    matches = {u["id"]: match(cycle, u, index) for u in users}
    mapped: dict[str, Desired] = {}     # update values of matched users, evaluated once (read_differing)
    if index.digest_keys:
        read_differing(cycle, users, scopes, matches, index, mapped)
    planned = [plan_one(cycle, u, scopes.get(u["id"]), matches[u["id"]], removals.get(u["id"]),
                        mapped.get(u["id"])) for u in users]
    # The SMS sign-in rule (tenantsync/sms.py) reads only users it could turn from a write into a skip.
    by_id = {u["id"]: u for u in users}
    planned = missing + apply_sms_rule(planned, scopes, cycle.source, on_demand=on_demand,
                                       replan=lambda i, s: plan_one(cycle, by_id[i], s, matches[i], None))
    complete_pending(planned, cycle.links)      # invited earlier, PATCH not done (recovery.py)
    unlinked = link_matched(planned, cycle.links, {i: m.by for i, m in matches.items()})
    if unlinked and not cycle.opt.dry_run:
        store.upsert_links(cfg.name, [Link(s, t, "active") for s, t in unlinked])
    if cycle.inviting:                          # invited, killed before the link (recovery.py)
        adopt_invited(planned, cycle.links, cycle.inviting, lambda ids: store.created_for(cfg.name, ids))
    # counted only after the last Graph call, so a retried page is not counted twice
    cycle.in_scope += sum(1 for s in scopes.values() if s.in_scope)
    cycle.actions.extend(planned)
    cycle.references.note(users, scopes, matches, prior)
    if index.digest_keys:                       # planned: their digests are not needed any more
        index.forget(m.target["id"] for m in matches.values() if m.target)
    # Skips are final once planned: their rows go out now, so a 100,000-user cycle does not hold
    # every user's provisioning steps until finish. Writes are logged once applied.
    cycle.log([a for a in planned if not (a.is_write and a.status == "success")])
    return planned


def extra_incremental_pages(cycle: Cycle) -> Iterator[list[User]]:
    """Users not changed themselves but whose group membership changed, and escrows now due."""
    name, store = cycle.cfg.name, cycle.store
    extra = set(cycle.membership_touched)
    extra |= set(store.escrows_due(name, datetime.now(UTC)))
    # users a repair asked to evaluate again (tenantsync disable-sms: store/reevaluations.py)
    extra |= (asked := set(store.reevaluations(name)))
    cycle.reevaluated = asked
    # invited by a cycle that ended before their PATCH: completed now (recovery.py)
    extra |= set(store.pending_links(name))
    extra -= cycle.seen
    if extra:
        snaps = store.snapshots(name, extra)
        yield [snaps[i] for i in extra if i in snaps]


def not_found(cycle: Cycle, page: Sequence[User]) -> list[Action]:
    """On demand, a user the source does not return is reported, never deleted: users deleted in
    the source cannot be found (provision-on-demand; docs/entra-behaviour.md#provision-on-demand)."""
    out = []
    for raw in page:
        if (raw.get("@removed") or {}).get("reason") != "notFound":
            continue
        uid, link = raw["id"], cycle.links.get(raw["id"])
        cycle.seen.add(uid)
        out.append(Action("other", uid, link.target_id if link else None, status="skipped",
                          error_code="SourceObjectNotFound",
                          reason=f"No user with id '{uid}' was found in the source tenant; a user "
                                 "deleted in the source cannot be provisioned on demand.",
                          steps=[Step("EntryImport", "import", "failure",
                                      f"User '{uid}' was not found in the source tenant.", {})]))
    return out


def read_differing(cycle: Cycle, users: Sequence[User], scopes: dict[str, ScopeResult],
                   matches: dict[str, Match], index: TargetIndex, mapped: dict[str, Desired]) -> None:
    """The index holds digests, not values: read in full the matched users that may differ.
    ``mapped`` receives the update values evaluated here, for plan_one to use them again."""
    stale: list[str] = []
    for u in users:
        m, s = matches[u["id"]], scopes.get(u["id"])
        if m.target is None or m.by == "deleted" or s is None or not s.in_scope:
            continue
        if completing(cycle, u["id"]):         # compared with its create values: read in full
            stale.append(u["id"])
            continue
        try:
            desired = mapped[u["id"]] = cycle.mapping.map_user(u, creating=False)
        except ExpressionError:
            continue                           # plan_one reports it
        if index.differs(m.target["id"], desired.values, desired.fill_if_empty):
            stale.append(u["id"])
        else:   # known equal by digest: the planner sees the values it would have read
            m.target = {**m.target, **desired.fill_if_empty, **desired.values}
    if stale:
        full = cycle.target.fetch(matches[uid].target["id"] for uid in stale)  # type: ignore[index]
        for uid in stale:
            current = full.get(matches[uid].target["id"])  # type: ignore[index]
            if current is not None:
                matches[uid].target = current


def completing(cycle: Cycle, source_id: str) -> bool:
    """Invited by a cycle that ended before its PATCH (recovery.py): planned with create values."""
    link = cycle.links.get(source_id)
    return link.state == "pending" if link else source_id in cycle.inviting


def index_for(cycle: Cycle, users: Sequence[User], removals: dict[str, Removal]) -> TargetIndex:
    if cycle.kind == "initial":
        return cycle.index
    linked = [cycle.links[u["id"]].target_id for u in users if u["id"] in cycle.links]
    unlinked = {u["id"]: (anchor_value(cycle.source_tenant, u["id"]), u.get("mail"))
                for u in users if u["id"] not in cycle.links and u["id"] not in removals}
    return cycle.target.lookup(linked, unlinked)


def match(cycle: Cycle, user: User, index: TargetIndex) -> Match:
    link = cycle.links.get(user["id"])
    return match_user(user, link_target_id=link.target_id if link else None,
                      anchor=anchor_value(cycle.source_tenant, user["id"]), index=index)


def plan_one(cycle: Cycle, user: User, scope: ScopeResult | None, match: Match,
             removal: Removal | None, mapped: Desired | None = None) -> Action:
    """``mapped``: the user's update values (creating=False) if read_differing evaluated them."""
    link = cycle.links.get(user["id"])
    imported: dict[str, Any] = {"ChangeType": "Delete" if removal else ("Add" if link is None else "Update")}
    if cycle.kind == "on-demand":     # provisionOnDemand's import step lists the attributes read
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
    target_id = (match.target or {}).get("id")
    if scope is not None and scope.error and not removal:   # never "left the scope" on a timeout
        return Action("other", user["id"], target_id, display_name=user.get("displayName", ""),
                      reason=f"A scoping filter could not be evaluated for this user: {scope.error}",
                      status="failure", error_code="ScopeEvaluationFailed", steps=steps)
    in_scope = scope is not None and scope.in_scope and not removal
    try:
        create = cycle.mapping.map_user(user, creating=True) if in_scope and match.target is None else None
        # A user invited by a cycle that ended before its PATCH is completed with its create values.
        update = None
        if in_scope and match.target:
            creating = completing(cycle, user["id"])
            update = mapped if mapped is not None and not creating else \
                cycle.mapping.map_user(user, creating=creating)
    except ExpressionError as exc:      # one user's bad data must not stop the cycle
        return Action("other", user["id"], target_id, display_name=user.get("displayName", ""),
                      reason=f"An attribute mapping could not be evaluated for this user: {exc}",
                      status="failure", error_code="ExpressionEvaluationFailed", steps=steps)
    return plan_user(user, source_id=user["id"], scope=scope, desired_create=create, desired_update=update,
                     match=match, link_state=link.state if link else None,
                     on_leave_scope=cycle.cfg.settings.on_leave_scope, removal=removal, steps=steps)


__all__ = ["extra_incremental_pages", "plan_one", "plan_page"]
