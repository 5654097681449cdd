"""The SMS sign-in rule of cross-tenant synchronization, a scoping rule of every cycle and on demand.

cross-tenant-synchronization-configure, "Symptom - Users are skipped because SMS sign-in is enabled
on the user": "If SMS sign-in is enabled for a user, they will be skipped by the provisioning
service"; the scoping step shows "Filter external users.alternativeSecurityIds EQUALS 'None'" false.
The state is the mobile phone method's smsSignInState (``ready``), which users/delta does not carry:
each user needs its own GET /users/{id}/authentication/phoneMethods.

Which users are read (cost):
- on demand: every user evaluated in scope, so the reply's scoping step is exact;
- scheduled cycles (initial and incremental): every user in scope that the cycle would write
  (create, update, or block sign-in). The rule only ever turns a write into a skip: a user with
  nothing to write is skipped either way, so its phone methods are not read and its row says
  RedundantExport rather than the SMS clause. An incremental cycle reads only users it evaluates;
  an initial cycle over a target in step (restart, changed configuration) reads none; a first
  initial cycle reads one per user it creates, 20 to a $batch request, as it always did.
- a user disabled in the source is never created, so it is not read either;
- none at all when the tenant's SMS authentication method policy lets no one sign in with SMS
  (smsauthenticationmethodconfiguration-get, read once per cycle: EntraSource.sms_sign_in_allowed);
  a policy that cannot be read counts as allowing it.

A user already provisioned whose SMS sign-in becomes ready: the page says such users are skipped
and is silent on their target user. Decision: skipped with the documented reason, no update of any
kind, and the target user is kept as it is (not disabled, not deleted). Leaving the scope for
another reason (assignment, a scoping filter) or a deletion in the source is evaluated before this
rule and deprovisions as usual.

A phoneMethods read that fails (403 without UserAuthenticationMethod.Read.All, a 5xx after retries)
is an error for that user: it is escrowed and retried like any other per-user failure, never taken
as "not ready".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from .errors import GraphError
from .model import Action, ScopeResult
from .ports import Source
from .stages.scope import SMS_REASON, with_sms_ready

PERMISSION = "UserAuthenticationMethod.Read.All"
KEPT = (" The target user is kept as it is and gets no further updates while SMS sign-in stays "
        "enabled (nothing is disabled or deleted).")


def concerned(action: Action, scope: ScopeResult | None, *, on_demand: bool) -> bool:
    """Whether the rule can change this planned action (see the module docstring)."""
    if scope is None or not scope.in_scope:
        return False
    return on_demand or (action.is_write and action.status == "success")


def apply_sms_rule(planned: Sequence[Action], scopes: dict[str, ScopeResult], source: Source,
                   replan: Callable[[str, ScopeResult], Action], *, on_demand: bool) -> list[Action]:
    """Read the SMS sign-in state of the concerned users and replan those it skips or fails.

    ``scopes`` holds the scope of every user evaluated (removals excluded); the scope of a user
    whose SMS sign-in is ready is replaced there (out of scope). ``replan(id, scope)`` plans the
    user again with another scope, building its provisioning steps as the cycle does.
    """
    ids = [a.source_id for a in planned if concerned(a, scopes.get(a.source_id), on_demand=on_demand)]
    if not ids:
        return list(planned)
    read = source.sms_sign_in(ids)
    out = []
    for a in planned:
        uid = a.source_id
        if uid in read.failed:
            out.append(unreadable(a, read.failed[uid]))
        elif uid in read.ready:
            scopes[uid] = with_sms_ready(scopes[uid])
            out.append(skipped(replan(uid, scopes[uid])))
        else:
            out.append(a)
    return out


def skipped(action: Action) -> Action:
    """The replanned action of an SMS-ready user: never a write (a linked user would otherwise be
    planned as leaving the scope)."""
    if action.kind == "other":
        return action
    return Action("other", action.source_id, action.target_id, display_name=action.display_name,
                  reason=SMS_REASON + KEPT, status="skipped", error_code="NotInScope", steps=action.steps,
                  target_display_name=action.target_display_name)


def unreadable(action: Action, exc: GraphError) -> Action:
    """A user whose phone methods could not be read: a failure (escrowed), nothing written."""
    why = (f"grant the source connection's application the Microsoft Graph permission {PERMISSION} "
           "(tenantsync setup CONFIG lists what is missing)" if exc.status == 403
           else "retried in a later cycle")
    return replace(action, status="failure", error_code=exc.code,
                   reason=(f"The SMS sign-in state of this user could not be read ({exc.status} {exc.code}: "
                           f"{exc.message}); cross-tenant synchronization skips users with SMS sign-in "
                           f"enabled, so the user is not written without knowing: {why}."),
                   changes={} if action.kind == "other" else action.changes)
