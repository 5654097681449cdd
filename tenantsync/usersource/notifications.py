"""The user-source notifications, exactly the documented cases:

- ``entra_unreachable``: Entra ID could not be reached (connection refused, timeouts, 5xx or 429
  answers after the retries);
- ``no_user_attributes_synced``: none of the mapped user attributes had a value for any user read
  in the run;
- ``user_attributes_not_synced``: some mapped attributes had no value for some users (which
  attribute, how many users).

They are stored in the directory database (``directory_notifications``), returned in the run
result (run summary, reports) and optionally e-mailed to ``settings.notification_email``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import GraphError

KINDS = ("entra_unreachable", "no_user_attributes_synced", "user_attributes_not_synced")


@dataclass(frozen=True)
class Notification:
    kind: str
    subject: str
    body: str
    details: dict[str, Any]


def unreachable_notification(instance: str, connection: Any, exc: GraphError) -> Notification:
    url = getattr(connection, "base_url", "") or ""
    tenant = getattr(connection, "tenant_id", "")
    return Notification(
        "entra_unreachable",
        f"[tenantsync] {instance}: Entra ID unreachable",
        f"The Entra ID instance {instance!r} (tenant {tenant}) could not be reached at {url}: "
        f"{exc.code or 'no response'} ({exc.message}).\n"
        "Users and groups were not synced in this run; changes applied before the failure are kept "
        "and the next run continues from the last saved point.",
        {"tenant_id": tenant, "graph_url": url, "status": exc.status, "code": exc.code})


def attribute_notifications(instance: str, users: int, missing: Mapping[str, int],
                            tracked: Sequence[str]) -> list[Notification]:
    """Zero or one notification about attributes, from the users read in a run."""
    if not users or not tracked:
        return []
    if all(missing.get(a, 0) >= users for a in tracked):
        names = ", ".join(tracked)
        return [Notification(
            "no_user_attributes_synced",
            f"[tenantsync] {instance}: no user attribute synced",
            f"None of the user attributes ({names}) had a value in Entra ID for any of the {users} "
            f"user{'s' if users != 1 else ''} read from {instance!r}: no user attribute was synced.\n"
            "Check the application's Graph permissions (User.Read.All) and the attribute mappings "
            "of the user source.",
            {"users": users, "attributes": list(tracked)})]
    lacking = {a: missing[a] for a in tracked if missing.get(a, 0)}
    if not lacking:
        return []
    listing = ", ".join(f"{a} ({n} user{'s' if n != 1 else ''})" for a, n in lacking.items())
    return [Notification(
        "user_attributes_not_synced",
        f"[tenantsync] {instance}: some user attributes not synced",
        f"Some user attributes had no value in Entra ID and were not synced: {listing} "
        f"(of {users} user{'s' if users != 1 else ''} read).\n"
        "Fill them in Entra ID, or list them under settings.ignore_missing if they are optional.",
        {"users": users, "attributes": lacking})]


__all__ = ["KINDS", "Notification", "attribute_notifications", "unreachable_notification"]
