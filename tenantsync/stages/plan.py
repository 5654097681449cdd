"""Planning (docs/entra-behaviour.md#deprovisioning): from what the source wants and what the target
has, one Action."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from ..model import Action, Change, ScopeResult, Step
from .mapping import Desired
from .matching import Match

Removal = Literal["soft", "hard"]


def _same(a: Any, b: Any) -> bool:
    if a in (None, "", []) and b in (None, "", []):
        return True
    if isinstance(a, str) and isinstance(b, bool) or isinstance(a, bool) and isinstance(b, str):
        return str(a).lower() == str(b).lower()
    return bool(a == b)


def diff(desired: Desired, current: Mapping[str, Any]) -> dict[str, Change]:
    # ``==`` first: equal values are the same for _same too (its last test), and they are nearly
    # all of them (a user in step); only the others pay for _same's normalisation.
    get = current.get
    changes = {k: Change(old, v) for k, v in desired.values.items()
               if not (v == (old := get(k)) or _same(v, old))}
    for k, v in desired.fill_if_empty.items():
        if current.get(k) in (None, "", []) and k not in changes:
            changes[k] = Change(current.get(k), v)
    return changes


def plan_user(source: Mapping[str, Any] | None, *, source_id: str, scope: ScopeResult | None,
              desired_create: Desired | None, desired_update: Desired | None, match: Match,
              link_state: str | None, on_leave_scope: str, removal: Removal | None = None,
              steps: list[Step] | None = None) -> Action:
    """Decide create / update / delete / disable / skip for one source user."""
    steps = list(steps or [])
    name = (source or {}).get("displayName") or (match.target or {}).get("displayName") or ""
    target = match.target
    tid = target["id"] if target else None

    def act(kind: str, reason: str, *, status: str = "success", code: str = "",
            changes: dict[str, Change] | None = None, **extra: Any) -> Action:
        return Action(kind, source_id, tid, display_name=name, changes=changes or {},  # type: ignore[arg-type]
                      reason=reason, status=status, error_code=code, steps=steps,  # type: ignore[arg-type]
                      target_display_name=(target or {}).get("displayName", ""), **extra)

    # Deleted in the source, or left the scope.
    if removal or scope is None or not scope.in_scope:
        if target is None or match.by == "deleted" or link_state is None:
            why = scope.description if scope and not scope.in_scope else "Deleted in the source."
            if link_state is None and match.by != "none":
                why += " The target user was not created by this configuration; it is left alone."
            return act("other", why, status="skipped",
                       code=(scope.skip_reason if scope and not scope.in_scope else "") or "NotEffectivelyEntitled")
        if removal == "hard":
            return act("delete", "Permanently deleted in the source: the target user is deleted.",
                       hard_delete=True)
        if removal == "soft":
            return act("delete", "Deleted in the source: the target user is soft deleted.")
        assert scope is not None
        if target.get("accountEnabled") is False and (source or {}).get("accountEnabled") is False:
            # Documented edge case: a user first disabled (synced) and then removed from the
            # assigned group is not soft deleted in the target.
            return act("other", "Already disabled in the target after being disabled in the source; "
                       "not deleted (documented behaviour).", status="skipped", code="RedundantExport")
        if on_leave_scope == "disable":
            return act("disable", f"Left the scope ({scope.description}): sign-in blocked.",
                       changes={"accountEnabled": Change(target.get("accountEnabled"), False)})
        return act("delete", f"Left the scope ({scope.description}): the target user is soft deleted.")

    assert source is not None
    if match.by == "deleted":
        if link_state == "deleted" and desired_update is not None:
            changes = diff(desired_update, target or {})
            return act("update", "Back in scope within 30 days of its soft delete: the target user is "
                       "restored.", changes=changes, restore=True)
        return act("other", "The target user was soft deleted by a target administrator; it is not "
                   "restored (documented limitation).", status="warning", code="TargetObjectSoftDeleted")

    if target is None:
        if source.get("accountEnabled") is False:
            return act("other", "The user is disabled in the source; a disabled user is not provisioned.",
                       status="skipped", code="SourceDisabled")
        assert desired_create is not None
        # Null attributes are not provisioned (provision-on-demand, "Known limitations"): a create
        # lists only real values.
        changes = {k: Change(None, v) for k, v in desired_create.values.items() if v not in (None, "", [])}
        reason = ("Left the target organisation while in scope: provisioned again."
                  if link_state in ("active", "disabled", "pending") else "Not found in the target: created.")
        return act("create", reason, changes=changes, invite_email=source.get("mail") or source.get(
            "userPrincipalName"), invite_type=str(desired_create.values.get("userType") or "Guest"))

    assert desired_update is not None
    changes = diff(desired_update, target)
    if not changes:
        return act("other", "The state of the user in both the source and target systems already match.",
                   status="skipped", code="RedundantExport")
    enabled = changes.get("accountEnabled")
    if enabled is not None and enabled.new is False:
        return act("disable", "Disabled in the source: sign-in is blocked in the target.", changes=changes)
    how = {"mail": " (matched by mail: a B2B user invited earlier)", "anchor": " (matched by anchor)"}
    return act("update", "Attributes differ" + how.get(match.by, "") + ".", changes=changes)
