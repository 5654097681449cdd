"""Who is in scope (docs/entra-behaviour.md#scoping): assignment, internal members only, scoping
filters, SMS rule.

The SMS rule needs a Graph read per user that users/delta does not carry: tenantsync/sms.py decides
whose state is read and calls ``with_sms_ready`` for those whose SMS sign-in is ready.

REGEX MATCH runs .NET syntax (tenantsync.expressions.dotnet_regex) with a time limit: a value on
which the pattern backtracks exponentially gives that user a ScopeResult with ``error`` set (the
cycle records a failure for the user, never "left the scope"), instead of hanging the cycle.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..config import FilterClause, Scope
from ..expressions.dotnet_regex import RegexError, compile_pattern, search
from ..model import ScopeResult

SMS_CLAUSE = "Filter external users.alternativeSecurityIds EQUALS 'None'"
SMS_REASON = ("SMS sign-in is enabled for this user in the source tenant: cross-tenant "
              "synchronization skips such users. Disable SMS sign-in (phoneAuthenticationMethod "
              "smsSignInState) and provision the user again.")


@dataclass(frozen=True, slots=True)
class ScopeContext:
    """What scoping needs besides the user: the configuration and the assigned groups' members."""

    scope: Scope
    assigned_members: frozenset[str]      # direct members of assigned groups (never nested)

    @classmethod
    def build(cls, scope: Scope, memberships: Mapping[str, set[str]]) -> ScopeContext:
        members: set[str] = set()
        for gid in scope.assignments.groups:
            members |= memberships.get(gid, set())
        return cls(scope, frozenset(members))

    def is_assigned(self, user_id: str) -> bool:
        if self.scope.mode == "all":
            return True
        return user_id in self.scope.assignments.users or user_id in self.assigned_members


def is_internal_member(user: Mapping[str, Any]) -> bool:
    """Source guests and other external users are never synced (that would loop)."""
    upn = user.get("userPrincipalName") or ""
    return (user.get("userType") or "Member") == "Member" and "#EXT#" not in upn \
        and not user.get("externalUserState")


def evaluate_scope(user: Mapping[str, Any], ctx: ScopeContext, *, sms_ready: bool = False) -> ScopeResult:
    """The scoping step of the provisioning log: every rule with its result, and the first failure."""
    rules: list[tuple[str, bool]] = []
    assigned = ctx.is_assigned(user["id"])
    rules.append(("Assigned to the application" if ctx.scope.mode == "assigned"
                  else "Sync all users and groups", assigned))
    if not assigned:
        return ScopeResult(False, tuple(rules), "NotEffectivelyEntitled",
                           "The user is neither assigned nor a direct member of an assigned group.")
    internal = is_internal_member(user)
    rules.append(("Filter external users.userType EQUALS 'Member'", internal))
    if not internal:
        return ScopeResult(False, tuple(rules), "NotEffectivelyEntitled",
                           "The user is a guest or external user of the source tenant; only internal "
                           "members are synchronized.")
    try:
        passed, filter_rules = evaluate_filters(user, ctx.scope.filters)
    except _ClauseError as exc:
        return ScopeResult(False, (*rules, (exc.title, False)), "ScopeEvaluationFailed",
                           f"Scoping filter evaluation failed: {exc.title}: {exc.reason}",
                           error=f"{exc.title}: {exc.reason}")
    rules.extend(filter_rules)
    if not passed:
        failed = [clause for clause, ok in filter_rules if not ok]
        return ScopeResult(False, tuple(rules), "NotInScope",
                           "Scoping filter evaluation failed: " + "; ".join(failed))
    result = ScopeResult(True, tuple(rules), None, "Scoping filter evaluation passed")
    return with_sms_ready(result) if sms_ready else result


def with_sms_ready(result: ScopeResult) -> ScopeResult:
    """An in-scope result once the user's SMS sign-in is known to be ready: the hidden filter of
    cross-tenant synchronization fails (cross-tenant-synchronization-configure, troubleshooting:
    "Filter external users.alternativeSecurityIds EQUALS 'None'" with status false)."""
    if not result.in_scope:
        return result
    return ScopeResult(False, (*result.rules, (SMS_CLAUSE, False)), "NotInScope", SMS_REASON)


def evaluate_filters(user: Mapping[str, Any], groups: Sequence[Sequence[FilterClause]]
                     ) -> tuple[bool, list[tuple[str, bool]]]:
    """OR across filter groups, AND inside one; no filter means everything passes."""
    if not groups:
        return True, []
    rules: list[tuple[str, bool]] = []
    any_group = False
    for i, group in enumerate(groups, start=1):
        results = [(clause_title(f"Scoping filter {i}", c), _passes(user, c, i)) for c in group]
        rules.extend(results)
        any_group = any_group or all(ok for _, ok in results)
    return any_group, rules


class _ClauseError(Exception):
    def __init__(self, title: str, reason: str) -> None:
        super().__init__(title, reason)
        self.title, self.reason = title, reason


def _passes(user: Mapping[str, Any], c: FilterClause, group: int) -> bool:
    try:
        return clause_passes(user.get(c.attribute), c)
    except RegexError as exc:            # the time limit (or a pattern refused) for this value
        raise _ClauseError(clause_title(f"Scoping filter {group}", c), str(exc)) from None


def clause_title(filter_name: str, c: FilterClause) -> str:
    if c.value is None:
        return f"{filter_name}.{c.attribute} {c.operator}"
    return f"{filter_name}.{c.attribute} {c.operator} '{c.value}'"


def _empty(v: Any) -> bool:
    return v is None or v == "" or v == []


def clause_passes(value: Any, c: FilterClause) -> bool:
    """One clause. A null/empty attribute fails every operator except IS NULL (documented rule)."""
    op = c.operator
    if op == "IS NULL":
        return _empty(value)
    if op == "IS NOT NULL":
        return not _empty(value)
    if _empty(value) or isinstance(value, list):   # multi-valued attributes cannot be filtered
        return False
    if op == "IS TRUE":
        return value is True or str(value).lower() == "true"
    if op == "IS FALSE":
        return value is False or str(value).lower() == "false"
    text, want = _text(value), str(c.value)
    if op == "EQUALS":
        return text == want
    if op == "NOT EQUALS":
        return text != want
    if op == "Includes":
        return want in text
    if op == "ENDS_WITH":
        return text.endswith(want)
    if op == "REGEX MATCH":
        return search(compile_pattern(want), text) is not None
    if op == "NOT REGEX MATCH":
        return search(compile_pattern(want), text) is None
    if op in ("Greater_Than", "Greater_Than_OR_EQUALS"):
        try:
            n = int(text)
        except ValueError:
            return False
        return n > int(want) if op == "Greater_Than" else n >= int(want)
    # '&' / '!&': "evaluated attribute exists in the input string value"
    # (define-conditional-rules-for-provisioning-user-accounts; wording ambiguous).
    # Our decision: the attribute's value occurs in the clause's value (case sensitive).
    if op == "&":
        return text in want
    if op == "!&":
        return text not in want
    raise AssertionError(op)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    return str(value)

