"""The user-source notifications, exactly the documented cases:

- ``entra_unreachable``: Entra ID could not be reached (connection refused, timeouts, 5xx or 429
  answers after the retries), or it refused the run: the credentials (401, or no token at all) or a
  permission (403). The body names what to fix: the credential's settings for a 401, the
  application permission the refused call needs for a 403 (tenantsync/permissions.py);
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

from ..errors import ErrorKind, GraphError
from ..permissions import forbidden_hint

KINDS = ("entra_unreachable", "no_user_attributes_synced", "user_attributes_not_synced")


@dataclass(frozen=True)
class Notification:
    kind: str
    subject: str
    body: str
    details: dict[str, Any]


def unreachable_notification(instance: str, connection: Any, exc: GraphError,
                             call: tuple[str, str] = ("GET", "/users/delta")) -> Notification:
    """``call``: the (method, path) Graph refused, to name the permission behind a 403."""
    url = getattr(connection, "base_url", "") or ""
    tenant = getattr(connection, "tenant_id", "")
    details: dict[str, Any] = {"tenant_id": tenant, "graph_url": url, "status": exc.status, "code": exc.code}
    if exc.kind is ErrorKind.AUTH:
        what = f"refused the credentials of the connection: {exc.code or 'HTTP 401'} ({exc.message})"
        fix = credential_fix(connection, exc)
        details["reason"] = "credentials refused"
    elif exc.kind is ErrorKind.FORBIDDEN:
        method, path = call
        hint = forbidden_hint(method, path, "source")
        what = (f"refused {method} {path} for lack of permission: {exc.code or 'HTTP 403'} "
                f"({exc.message})")
        fix = (f"{hint} Grant it (Application) to the connection's application in tenant {tenant} and "
               "admin-consent." if hint else
               f"grant the connection's application the permissions the user source reads with "
               f"(User.Read.All, GroupMember.Read.All) in tenant {tenant} and admin-consent.")
        details["reason"] = "permission missing"
        details["call"] = f"{method} {path}"
    else:
        what = f"could not be reached: {exc.code or 'no response'} ({exc.message})"
        fix = "check the network path to Graph and graph_url; the next run retries."
        details["reason"] = "unreachable"
    details["fix"] = fix
    return Notification(
        "entra_unreachable",
        f"[tenantsync] {instance}: Entra ID unreachable",
        f"The Entra ID instance {instance!r} (tenant {tenant}) at {url} {what}.\n"
        f"What to fix: {fix}\n"
        "Users and groups were not synced in this run; changes applied before the failure are kept "
        "and the next run continues from the last saved point.",
        details)


def credential_fix(connection: Any, exc: GraphError) -> str:
    """What to check for a refused credential, by kind; names settings and variables, never values."""
    auth = getattr(connection, "auth", None)
    kind = getattr(auth, "kind", "")
    name = getattr(connection, "name", "") or "the source"
    tenant = getattr(connection, "tenant_id", "")
    where = f"connections.{name}.auth"
    block = getattr(auth, "secret", None) is not None
    aadsts = f" Entra answered {exc.code}: look it up in the AADSTS error codes." \
        if (exc.code or "").upper().startswith("AADSTS") else ""
    if kind == "static_token":
        source = "the GraphConnectionBlock's secret" if block else f"${getattr(auth, 'token_env', '')}"
        return (f"the bearer token in {source} ({where}) was refused: it may have expired or be for another "
                f"tenant than {tenant}; put a valid token there.{aadsts}")
    if kind == "client_secret":
        source = "the GraphConnectionBlock's secret" if block else f"${getattr(auth, 'client_secret_env', '')}"
        return (f"check {where}: client_id {getattr(auth, 'client_id', '')}, the client secret in {source} "
                f"(expired or replaced?) and tenant_id {tenant}.{aadsts}")
    if kind == "certificate":
        return (f"check {where}: client_id {getattr(auth, 'client_id', '')}, the certificate "
                f"{getattr(auth, 'certificate_path', '')} (expired, or not uploaded to the app "
                f"registration?) and tenant_id {tenant}.{aadsts}")
    return (f"check {where} ({kind or 'credential'}): the identity and its federated credential or "
            f"assignment in tenant {tenant}.{aadsts}")


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


__all__ = ["KINDS", "Notification", "attribute_notifications", "credential_fix", "unreachable_notification"]
