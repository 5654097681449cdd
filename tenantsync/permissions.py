"""The Microsoft Graph application permissions tenantsync needs, per side and operation.

One row per thing the product does through Graph, taken from the Permissions table of that call's
Graph v1.0 page (``page``: https://learn.microsoft.com/graph/api/<page>). ``permission`` is the
one to grant; ``accepted`` is every application permission the page lists for the call (least
and higher privileged): any one of them satisfies the row. The same table drives the README's
permissions table (``python -m tenantsync.permissions --markdown``), ``tenantsync setup``, test
connection and the refusal of a cycle whose token lacks what it needs.

Where the pages were silent or changed over time, the decision is written on the row:
- restore of a user (directory-deleteditems-restore): versions of the page list User.ReadWrite.All
  for users; "What's new in Microsoft Graph" (December 2024) names User.DeleteRestore.All the least
  privileged permission to delete, restore and permanently delete users. Both are accepted for restore; permanent deletion
  (directory-deleteditems-delete, where earlier versions said "Not supported" for applications)
  accepts User.DeleteRestore.All only.
- a granted X.ReadWrite.Y also satisfies a row that accepts X.Read.Y (the permissions reference
  describes ReadWrite permissions as "read and write"; some tables list the least privileged only).
- list phoneMethods for other users (authentication-list-phonemethods): UserAuthenticationMethod.
  Read.All is granted; the phone-specific UserAuthMethod-Phone.* permissions of newer versions of
  the page are accepted too.
- disableSmsSignIn (phoneauthenticationmethod-disablesmssignin): earlier versions of the page list
  UserAuthenticationMethod.ReadWrite.All, newer ones UserAuthMethod-Phone.ReadWrite.All as the least
  privileged; the former is granted (the troubleshooting script's scope), both are accepted.
- externalIdentitiesPolicy exists in Graph beta only (externalidentitiespolicy-get, beta): test
  connection reads it from the beta endpoint beside the connection's v1.0 one.

``OPTIONAL`` operations are procedures an administrator runs by hand (``tenantsync disable-sms``
writes to the source tenant): their permissions are listed, never required of a configuration, and
left out when no operation is named (``missing(side, roles)``, ``needed(side)``).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

Side = Literal["source", "target"]
Operation = Literal["sync", "on-demand", "setup", "test-connection", "disable-sms"]
SIDES: tuple[Side, ...] = ("source", "target")
OPTIONAL: frozenset[str] = frozenset({"disable-sms"})
ORDER = {"sync": 0, "on-demand": 1, "setup": 2, "test-connection": 3, "disable-sms": 4}
DOCS = "https://learn.microsoft.com/graph/api/"

USER_READ = ("User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All")
ORG_READ = ("Organization.Read.All", "Directory.Read.All", "Organization.ReadWrite.All",
            "Directory.ReadWrite.All")


@dataclass(frozen=True)
class Requirement:
    permission: str                  # the application permission to grant
    side: Side
    purpose: str
    page: str                        # Graph v1.0 API page whose Permissions table this comes from
    accepted: tuple[str, ...]        # every application permission the page lists (any one suffices)
    operations: frozenset[str]       # sync | on-demand | setup | test-connection
    routes: tuple[tuple[str, str], ...] = ()   # (method, path regex) of the calls it covers
    write: bool = False

    def satisfied_by(self, granted: Iterable[str]) -> bool:
        return any(p in self.accepted for p in _with_reads(granted))

    @property
    def url(self) -> str:
        return DOCS + self.page


def _with_reads(granted: Iterable[str]) -> set[str]:
    """The granted permissions plus the Read counterpart of each ReadWrite one: the permissions
    reference describes every X.ReadWrite.Y as "read and write" (the emulator decides the same)."""
    have = set(granted)
    return have | {p.replace(".ReadWrite.", ".Read.", 1) for p in have if ".ReadWrite." in p}


def _r(permission: str, side: Side, purpose: str, page: str, accepted: Sequence[str],
       operations: Iterable[str], routes: Sequence[tuple[str, str]] = (), *, write: bool = False
       ) -> Requirement:
    assert permission in accepted, (permission, page)
    return Requirement(permission, side, purpose, page, tuple(accepted), frozenset(operations),
                       tuple(routes), write)


REQUIREMENTS: tuple[Requirement, ...] = (
    # -- source ---------------------------------------------------------------------------------
    _r("User.Read.All", "source", "read users and their changes (users/delta, GET /users/{id})",
       "user-delta", USER_READ, ("sync", "test-connection", "disable-sms"),
       [("GET", r"/users/delta"), ("GET", r"/users/[^/]+$"), ("GET", r"/users$")]),
    _r("GroupMember.Read.All", "source", "read the members of the assigned groups (groups/delta)",
       "group-delta", ("GroupMember.Read.All", "Directory.Read.All", "Directory.ReadWrite.All",
                       "Group.Read.All", "Group.ReadWrite.All"), ("sync", "disable-sms"),
       [("GET", r"/groups/delta"), ("GET", r"/groups/[^/]+/members")]),
    _r("User.Read.All", "source", "read each user's manager (users/delta with $select=...,manager; "
       "GET /users/{id}?$expand=manager when provisioning on demand)", "user-list-manager", USER_READ,
       ("sync",), [("GET", r"/users/delta"), ("GET", r"/users/[^/]+$")]),
    _r("Directory.Read.All", "source", "read a user's groups when provisioning on demand "
       "(GET /users/{id}/memberOf)", "user-list-memberof",
       ("Directory.Read.All", "Directory.ReadWrite.All"), ("on-demand",),
       [("GET", r"/users/[^/]+/memberOf")]),
    _r("UserAuthenticationMethod.Read.All", "source", "read the phone methods of the in-scope users a "
       "cycle would write, and of users provisioned on demand (the SMS sign-in rule; without it those "
       "users fail and are escrowed)",
       "authentication-list-phonemethods",
       ("UserAuthenticationMethod.Read.All", "UserAuthenticationMethod.ReadWrite.All",
        "UserAuthMethod-Phone.Read.All", "UserAuthMethod-Phone.ReadWrite.All"), ("sync", "disable-sms"),
       [("GET", r"/users/[^/]+/authentication/phoneMethods")]),
    _r("UserAuthenticationMethod.ReadWrite.All", "source", "turn SMS sign-in off for the in-scope "
       "users a cycle skips for it (tenantsync disable-sms only; sync never writes to the source)",
       "phoneauthenticationmethod-disablesmssignin",
       ("UserAuthenticationMethod.ReadWrite.All", "UserAuthMethod-Phone.ReadWrite.All"), ("disable-sms",),
       [("POST", r"/users/[^/]+/authentication/phoneMethods/[^/]+/disableSmsSignIn$")], write=True),
    _r("Directory.Read.All", "source", "read the organization (test connection: tenant, licences)",
       "organization-get", ORG_READ, ("test-connection",), [("GET", r"/organization")]),
    _r("Policy.Read.All", "source", "read the cross-tenant access settings for the target "
       "(test connection: outbound automatic redemption)",
       "crosstenantaccesspolicyconfigurationpartner-get",
       ("Policy.Read.All", "Policy.ReadWrite.CrossTenantAccess"), ("test-connection",),
       [("GET", r"/policies/crossTenantAccessPolicy/partners/[^/]+$")]),
    # -- target ---------------------------------------------------------------------------------
    _r("User.ReadWrite.All", "target", "read users: B2B users, by anchor or mail, by id",
       "user-list", USER_READ, ("sync", "test-connection"),
       [("GET", r"/users$"), ("GET", r"/users/[^/]+$")]),
    _r("User.ReadWrite.All", "target", "read users' managers ($expand=manager on the reads above; "
       "GET /users/{id}/manager)", "user-list-manager", USER_READ, ("sync",),
       [("GET", r"/users/[^/]+/manager$")]),
    _r("User.ReadWrite.All", "target", "set a user's manager (PUT /users/{id}/manager/$ref)",
       "user-post-manager", ("User.ReadWrite.All", "Directory.ReadWrite.All"), ("sync",),
       [("PUT", r"/users/[^/]+/manager/\$ref$")], write=True),
    _r("User.Invite.All", "target", "invite new users (POST /invitations)", "invitation-post",
       ("User.Invite.All", "Directory.ReadWrite.All", "User.ReadWrite.All"), ("sync",),
       [("POST", r"/invitations$")], write=True),
    _r("User.ReadWrite.All", "target", "update users, the anchor included (PATCH /users/{id})",
       "user-update", ("User.ReadWrite.All", "Directory.ReadWrite.All"), ("sync",),
       [("PATCH", r"/users/[^/]+$")], write=True),
    # user-delete lists User.ReadWrite.All only (Directory.ReadWrite.All is not listed); "What's
    # new in Microsoft Graph" (December 2024) adds User.DeleteRestore.All for deleting a user.
    _r("User.ReadWrite.All", "target", "delete users (DELETE /users/{id})", "user-delete",
       ("User.ReadWrite.All", "User.DeleteRestore.All"), ("sync",), [("DELETE", r"/users/[^/]+$")],
       write=True),
    _r("User.ReadWrite.All", "target", "read deleted users (GET /directory/deletedItems)",
       "directory-deleteditems-get", USER_READ, ("sync",),
       [("GET", r"/directory/deletedItems")]),
    _r("User.DeleteRestore.All", "target", "restore deleted users "
       "(POST /directory/deletedItems/{id}/restore)", "directory-deleteditems-restore",
       ("User.DeleteRestore.All", "User.ReadWrite.All"), ("sync",),
       [("POST", r"/directory/deletedItems/[^/]+/restore")], write=True),
    _r("User.DeleteRestore.All", "target", "permanently delete users "
       "(DELETE /directory/deletedItems/{id})", "directory-deleteditems-delete",
       ("User.DeleteRestore.All",), ("sync",),
       [("DELETE", r"/directory/deletedItems/[^/]+$")], write=True),
    _r("Domain.Read.All", "target", "read domains (the initial domain of B2B UPNs; UPN suffixes)",
       "domain-list", ("Domain.Read.All", "Domain.ReadWrite.All", "Directory.Read.All"),
       ("sync", "test-connection"), [("GET", r"/domains")]),
    _r("Directory.Read.All", "target", "read the organization (test connection: tenant, licences)",
       "organization-get", ORG_READ, ("test-connection",), [("GET", r"/organization")]),
    _r("Policy.Read.All", "target", "read the identity synchronization and cross-tenant access "
       "settings for the source (test connection)", "crosstenantidentitysyncpolicypartner-get",
       ("Policy.Read.All", "Policy.ReadWrite.CrossTenantAccess"), ("test-connection",),
       [("GET", r"/policies/crossTenantAccessPolicy/partners/")]),
    _r("Policy.Read.All", "target", "read the authorization policy (test connection: guest "
       "invitations allowed)", "authorizationpolicy-get",
       ("Policy.Read.All", "Policy.ReadWrite.Authorization"), ("test-connection",),
       [("GET", r"/policies/authorizationPolicy")]),
    _r("Policy.Read.All", "target", "read the external user leave settings (test connection: can "
       "synced users leave the target?)", "externalidentitiespolicy-get?view=graph-rest-beta",
       ("Policy.Read.All", "Policy.ReadWrite.ExternalIdentities"), ("test-connection",),
       [("GET", r"/policies/externalIdentitiesPolicy$")]),
    _r("Application.ReadWrite.OwnedBy", "target", "find the app's own application and its directory "
       "extensions (GET /applications(appId=...), .../extensionProperties)", "application-get",
       ("Application.Read.All", "Application.ReadWrite.OwnedBy", "Application.ReadWrite.All"),
       ("setup",), [("GET", r"/applications")]),
    _r("Application.ReadWrite.OwnedBy", "target", "register the anchor extension on the app's own "
       "application, once (POST /applications/{id}/extensionProperties; the app must own its "
       "application object)", "application-post-extensionproperty",
       ("Application.ReadWrite.OwnedBy", "Application.ReadWrite.All", "Directory.ReadWrite.All"),
       ("setup",), [("POST", r"/applications.*/extensionProperties$")], write=True),
    _r("Directory.Read.All", "target", "find the anchor extension when the app's id is not known "
       "(POST /directoryObjects/getAvailableExtensionProperties)",
       "directoryobject-getavailableextensionproperties", ("Directory.Read.All",), ("setup",),
       [("POST", r"/directoryObjects/getAvailableExtensionProperties")]),
)


def requirements(side: Side | None = None, operations: Iterable[str] | None = None, *,
                 writes: bool = True) -> list[Requirement]:
    """The rows of one side (or both) used by any of ``operations`` (None: every operation but
    the OPTIONAL procedures); without ``writes`` only the reading rows (a dry run)."""
    ops = set(operations) if operations is not None else None
    return [r for r in REQUIREMENTS if (side is None or r.side == side)
            and (r.operations & ops if ops is not None else r.operations - OPTIONAL)
            and (writes or not r.write)]


def missing(side: Side, granted: Iterable[str] | None, operations: Iterable[str] | None = None, *,
            writes: bool = True) -> list[str] | None:
    """Permissions to grant on ``side`` for ``operations``, in table order; None when the granted
    roles are unknown (an opaque token), [] when nothing is missing."""
    if granted is None:
        return None
    have = set(granted)
    out: list[str] = []
    for r in requirements(side, operations, writes=writes):
        if not r.satisfied_by(have) and r.permission not in out:
            out.append(r.permission)
    return out


def missing_by_side(granted: Mapping[str, Iterable[str] | None], operations: Iterable[str] | None = None,
                    *, writes: bool = True) -> dict[str, list[str] | None]:
    """``missing`` for each side in ``granted`` ({"source": roles or None, "target": ...})."""
    ops = list(operations) if operations is not None else None
    return {side: missing(side, roles, ops, writes=writes)  # type: ignore[arg-type]
            for side, roles in granted.items()}


def needed(side: Side, operations: Iterable[str] | None = None) -> list[str]:
    """The permissions to grant on ``side`` for ``operations``, in table order."""
    out: list[str] = []
    for r in requirements(side, operations):
        if r.permission not in out:
            out.append(r.permission)
    return out


def for_route(method: str, path: str, side: Side | None = None) -> Requirement | None:
    """The row of a Graph call (e.g. to name the permission behind a 403)."""
    bare = re.sub(r"^https?://[^/]+(/v1\.0|/beta)?", "", path).split("?", 1)[0].rstrip("/")
    for r in REQUIREMENTS:
        if side is not None and r.side != side:
            continue
        for m, pattern in r.routes:
            if m == method.upper() and re.search(pattern, bare):
                return r
    return None


def forbidden_hint(method: str, path: str, side: Side | None = None) -> str:
    """What a 403 on this call most likely means, naming the permission; "" when not in the table."""
    r = for_route(method, path, side)
    if r is None:
        return ""
    others = [p for p in r.accepted if p != r.permission]
    also = f" (or one of {', '.join(others)})" if others else ""
    return (f"{method.upper()} {path.split('?', 1)[0]} needs the application permission "
            f"{r.permission}{also} on the {r.side} tenant ({r.page}).")


def fix_text(permission: str, app: str, tenant: str) -> str:
    """The administrator's fix for one missing permission."""
    return (f"grant {permission} (Application) to {app} in {tenant} and admin-consent")


def render_markdown() -> str:
    """The README's permissions table, generated from REQUIREMENTS."""
    lines = ["| Side | Permission (Application) | Needed by | What for | Also satisfied by | Graph page |",
             "|---|---|---|---|---|---|"]
    for r in sorted(REQUIREMENTS, key=lambda r: (SIDES.index(r.side), r.permission)):
        ops = ", ".join(sorted(r.operations, key=ORDER.__getitem__))
        others = ", ".join(p for p in r.accepted if p != r.permission) or "—"
        lines.append(f"| {r.side} | {r.permission} | {ops} | {r.purpose} | {others} | "
                     f"[{r.page}]({r.url}) |")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args != ["--markdown"]:
        print("usage: python -m tenantsync.permissions [--markdown]", file=sys.stderr)
        return 2
    if args:
        sys.stdout.write(render_markdown())
        return 0
    for side in SIDES:
        print(f"{side}: {', '.join(needed(side))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
