"""Application permissions, per the Permissions table ("Application" row) of each page: a token
that holds none of the listed permissions gets 403 Authorization_RequestDenied, "Insufficient
privileges to complete the operation."; any one listed permission suffices.

The product must know before a first run which permission each side lacks; that only works if
the emulator refuses exactly what Graph refuses. Tokens are fixture entries with explicit roles.
"""

from __future__ import annotations

import pytest

from tenantsync.emulator.tokens import app_token
from tests.contract.doc import Case, auth, cases, error_of, expect, page, send
from tests.contract.world import ADELE, ADMIN, ALL_TOKEN, APPLICATIONS, B2C_APP, PARTNER_SYNCED, TENANT, build_fixture

DENIED = "Authorization_RequestDenied"
DENIED_MESSAGE = "Insufficient privileges to complete the operation."
OWN_APP = "0f4b3c8e-6a1d-4c7b-9e2f-5a6b7c8d9e01"          # object id of the OwnedBy app
OWN_APP_ID = "7d1f3b2a-5c4e-4f60-8a9b-0c1d2e3f4a5b"
JWT_USER_READ = app_token(TENANT, "3a6c1e2f-8b4d-4e7f-9a0b-1c2d3e4f5a6b", ["User.Read.All"])


def _role(token: str, *roles: str, app_id: str | None = None) -> dict:
    entry: dict = {"token": token, "roles": list(roles)}
    if app_id:
        entry["appId"] = app_id
    return entry


TOKENS = [
    ALL_TOKEN,
    _role("t-user-read", "User.Read.All"),
    _role("t-user-rw", "User.ReadWrite.All"),
    _role("t-directory-rw", "Directory.ReadWrite.All"),
    _role("t-invite", "User.Invite.All"),
    _role("t-groupmember-read", "GroupMember.Read.All"),
    _role("t-delete-restore", "User.DeleteRestore.All"),
    _role("t-owned-by", "Application.ReadWrite.OwnedBy", app_id=OWN_APP_ID),
    _role("t-none"),
    {"token": JWT_USER_READ},                            # roles from the token's claims
]
APPS = APPLICATIONS + [{"id": OWN_APP, "appId": OWN_APP_ID, "displayName": "tenantsync"}]


@pytest.fixture
def perm_graph(graph, emu):
    emu.reset(build_fixture(tokens=TOKENS, applications=APPS))
    return graph


def _denied(resp) -> None:
    err = error_of(resp, 403, DENIED)
    assert err["message"] == DENIED_MESSAGE


PATCH = {"jobTitle": "Buyer"}
INVITE = {"invitedUserEmailAddress": "admin@fabrikam.com",
          "inviteRedirectUrl": "https://myapp.contoso.com"}
EXT = {"name": "jobGroup", "dataType": "String", "targetObjects": ["User"]}
PHONES = f"/users/{ADELE}/authentication/phoneMethods"
SYNC = f"/policies/crossTenantAccessPolicy/partners/{PARTNER_SYNCED}/identitySynchronization"


def c(page: str, name: str, token: str, method: str, path: str, status: int,
      body: object = None, params: dict | None = None) -> Case:
    return Case(page, name, method=method, path=path, token=token, status=status, body=body,
                params=params, check=_denied if status == 403 else None)


CASES = [
    c("user-list", "200-with-User.Read.All", "t-user-read", "GET", "/users", 200),
    c("user-list", "403-with-User.Invite.All-only", "t-invite", "GET", "/users", 403),
    c("user-list", "403-token-without-roles", "t-none", "GET", "/users", 403),
    c("user-get", "403-with-GroupMember.Read.All-only", "t-groupmember-read", "GET",
      f"/users/{ADELE}", 403),
    c("user-update", "403-with-User.Read.All", "t-user-read", "PATCH", f"/users/{ADMIN}", 403,
      PATCH),
    c("user-update", "403-jwt-token-with-User.Read.All-claim", JWT_USER_READ, "PATCH",
      f"/users/{ADMIN}", 403, PATCH),
    c("user-update", "204-with-User.ReadWrite.All", "t-user-rw", "PATCH", f"/users/{ADMIN}",
      204, PATCH),
    c("user-update", "204-with-Directory.ReadWrite.All", "t-directory-rw", "PATCH",
      f"/users/{ADMIN}", 204, PATCH),
    # user-delete lists User.ReadWrite.All only: Directory.ReadWrite.All is not enough.
    c("user-delete", "403-with-Directory.ReadWrite.All", "t-directory-rw", "DELETE",
      f"/users/{ADMIN}", 403),
    c("user-delete", "204-with-User.ReadWrite.All", "t-user-rw", "DELETE", f"/users/{ADMIN}",
      204),
    c("user-delta", "403-with-GroupMember.Read.All-only", "t-groupmember-read", "GET",
      "/users/delta", 403),
    c("group-delta", "403-with-User.Read.All", "t-user-read", "GET", "/groups/delta", 403),
    c("group-delta", "200-with-GroupMember.Read.All", "t-groupmember-read", "GET",
      "/groups/delta", 200, params={"$select": "displayName,members"}),
    c("invitation-post", "403-with-User.Read.All", "t-user-read", "POST", "/invitations", 403,
      INVITE),
    c("invitation-post", "201-with-User.Invite.All", "t-invite", "POST", "/invitations", 201,
      INVITE),
    c("authentication-list-phonemethods", "403-with-User.Read.All", "t-user-read", "GET",
      PHONES, 403),
    c("user-list-memberof", "403-with-User.Read.All", "t-user-read", "GET",
      f"/users/{ADELE}/memberOf", 403),
    c("authorizationpolicy-get", "403-with-User.Read.All", "t-user-read", "GET",
      "/policies/authorizationPolicy", 403),
    c("domain-list", "403-with-User.Read.All", "t-user-read", "GET", "/domains", 403),
    c("organization-get", "403-with-User.Read.All", "t-user-read", "GET",
      f"/organization/{TENANT}", 403),
    c("crosstenantaccesspolicy-list-partners", "403-with-User.Read.All", "t-user-read", "GET",
      "/policies/crossTenantAccessPolicy/partners", 403),
    c("crosstenantidentitysyncpolicypartner-update", "403-with-Directory.ReadWrite.All",
      "t-directory-rw", "PATCH", SYNC, 403, {"userSyncInbound": {"isSyncAllowed": False}}),
    c("application-post-extensionproperty", "403-with-User.ReadWrite.All", "t-user-rw", "POST",
      f"/applications/{B2C_APP}/extensionProperties", 403, EXT),
    c("application-post-extensionproperty", "201-OwnedBy-on-own-application", "t-owned-by",
      "POST", f"/applications/{OWN_APP}/extensionProperties", 201, EXT),
    c("directoryobject-getavailableextensionproperties", "403-with-User.Read.All",
      "t-user-read", "POST", "/directoryObjects/getAvailableExtensionProperties", 403, {}),
]


@cases(*CASES)
def test_permission(perm_graph, case):
    send(perm_graph, case)


@page("application-post-extensionproperty", "403-OwnedBy-on-another-application")
def test_owned_by_other_application(perm_graph, doc_page):
    """Application.ReadWrite.OwnedBy lets an app manage the applications it owns; the emulator
    treats every application as owned by its own service principal only, so another
    application's definitions are out of reach."""
    _denied(perm_graph.post(f"/applications/{B2C_APP}/extensionProperties",
                            headers=auth("t-owned-by"), json=EXT))


@page("directory-deleteditems-restore", "restore-and-purge-need-User.DeleteRestore.All")
def test_deleted_items_permissions(perm_graph, doc_page):
    """Restore and permanent delete of a user need User.DeleteRestore.All ("What's new",
    December 2024: least privileged for delete, restore and permanent delete); a read-only
    token is refused both."""
    expect(perm_graph.delete(f"/users/{ADMIN}", headers=auth("t-user-rw")), 204)
    _denied(perm_graph.post(f"/directory/deletedItems/{ADMIN}/restore",
                            headers=auth("t-user-read")))
    _denied(perm_graph.delete(f"/directory/deletedItems/{ADMIN}", headers=auth("t-user-read")))
    expect(perm_graph.post(f"/directory/deletedItems/{ADMIN}/restore",
                           headers=auth("t-delete-restore")), 200)
    expect(perm_graph.delete(f"/users/{ADMIN}", headers=auth("t-delete-restore")), 204)
    expect(perm_graph.delete(f"/directory/deletedItems/{ADMIN}",
                             headers=auth("t-delete-restore")), 204)


@page("json-batching", "each-item-checked-on-its-own")
def test_batch_items_checked_individually(perm_graph, doc_page):
    resp = perm_graph.post("/$batch", headers=auth("t-user-read", **{
        "Content-Type": "application/json"}), json={"requests": [
            {"id": "1", "method": "GET", "url": f"/users/{ADELE}"},
            {"id": "2", "method": "PATCH", "url": f"/users/{ADMIN}", "body": PATCH,
             "headers": {"Content-Type": "application/json"}}]})
    items = {r["id"]: r for r in expect(resp, 200)["responses"]}
    assert items["1"]["status"] == 200
    assert items["2"]["status"] == 403
    assert items["2"]["body"]["error"]["code"] == DENIED
    assert expect(perm_graph.get(f"/users/{ADMIN}", headers=auth()), 200)["jobTitle"] is None
