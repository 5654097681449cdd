"""Test connection's "External user leave settings" check (the rest is in connection_test.py).

cross-tenant-synchronization-configure, Step 14 ("Configure leave settings", target tenant): synced
users "still might be able to remove themselves. If users remove themselves and they are in scope,
they'll be provisioned again during the next provisioning cycle"; to prevent it the target sets the
External user leave settings to No. The setting also applies to every B2B collaboration and B2B
direct connect user of the target (same page). leave-the-organization: a B2B collaboration user who
leaves is soft-deleted, and permanently deleted after 30 days.

Graph serves the setting as externalIdentitiesPolicy.allowExternalIdentitiesToLeave, in beta only
(externalidentitiespolicy-get, beta: GET /policies/externalIdentitiesPolicy, Policy.Read.All). It is
read from the beta endpoint beside the connection's graph_url (".../v1.0" -> ".../beta").

The check never blocks: either answer is a choice the page leaves to the target's administrator.
Leaving allowed is a warning (what follows for synced users, and how to turn it off); not allowed
passes; a setting that cannot be read is a warning naming the permission (403) or the answer.
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import GraphError
from .permission_checks import forbidden_action

NAME = "External user leave settings"
CODE = "ExternalUsersCanLeave"            # ours: Entra has no code for a setting, only its value
POLICY = "/policies/externalIdentitiesPolicy"


def beta_url(api: Any, path: str) -> str:
    """The beta URL of ``path`` beside the client's Graph root (".../v1.0" -> ".../beta")."""
    base = str(getattr(getattr(api, "connection", None), "base_url", "") or "https://graph.microsoft.com/v1.0")
    return re.sub(r"/v1\.0$", "/beta", base.rstrip("/")) + path


def read_leave_policy(api: Any) -> dict[str, Any]:
    """The target's externalIdentitiesPolicy. The page's example wraps it in "value"; both shapes
    are read."""
    policy = api.get_json(beta_url(api, POLICY))
    inner = policy.get("value")
    return inner if isinstance(inner, dict) else policy


def check_leave_settings(report: Any, tgt: Any, check: type) -> None:
    """Append the check (a warning or passed, never blocking)."""
    try:
        policy = read_leave_policy(tgt)
    except GraphError as exc:
        action = forbidden_action(exc, "GET", POLICY, "target") or (
            "Check the setting in the target's Microsoft Entra admin center: External Identities > "
            "External collaboration settings > External user leave settings.")
        report.checks.append(check(NAME, "warning", exc.code or f"HTTP{exc.status}",
                                   f"The external user leave settings of the target tenant could not be "
                                   f"read: {exc.message}", action))
        return
    allowed = policy.get("allowExternalIdentitiesToLeave")
    if allowed is False:
        report.checks.append(check(NAME, "passed", message=(
            "External users cannot leave the target tenant themselves (allowExternalIdentitiesToLeave "
            "= false): a synced user stays until the source takes them out of scope, or an "
            "administrator of the target removes them.")))
        return
    report.checks.append(check(
        NAME, "warning", CODE,
        "External users may leave the target tenant themselves (allowExternalIdentitiesToLeave = "
        f"{'true' if allowed else 'not set'}), synced users included: one who leaves (My Account > "
        "Organizations > Leave) is removed from the target, and while still in scope is provisioned "
        "again by the next cycle.",
        "Not blocking. To keep synced users from leaving, set 'External user leave settings' to No in "
        "the target tenant (External Identities > External collaboration settings); it applies to "
        "every B2B collaboration and B2B direct connect user of the target, and needs the tenant's "
        "privacy information to be filled in.",
        details="A B2B collaboration user who leaves is soft-deleted in the target, then permanently "
                "deleted after 30 days (leave-the-organization)."))


__all__ = ["NAME", "beta_url", "check_leave_settings", "read_leave_policy"]
