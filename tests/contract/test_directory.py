"""Deleted items (directory-deleteditems-list/-get/-restore/-delete) and a user's phone methods
(authentication-list-phonemethods).

The product soft-deletes target users, restores them when they come back in scope and purges
them for good; it reads phone methods to decide SMS sign-in.
"""

from __future__ import annotations

from tests.contract.doc import auth, context_is, error_of, expect, page
from tests.contract.world import ADELE, ADMIN, ALL_USERS, GRADY, JOHANNA, MOBILE_METHOD

DELETED_USERS = "/directory/deletedItems/microsoft.graph.user"


def soft_delete(graph, uid: str) -> None:
    expect(graph.delete(f"/users/{uid}", headers=auth()), 204)


@page("directory-deleteditems-list", "200-deleted-users-with-deletedDateTime")
def test_list_deleted(graph, doc_page):
    soft_delete(graph, ADMIN)
    body = expect(graph.get(DELETED_USERS, headers=auth()), 200)
    assert body["@odata.context"].split("#")[-1]      # a collection context is present
    ids = [u["id"] for u in body["value"]]
    assert ids == [ADMIN], body
    assert body["value"][0]["deletedDateTime"], body
    assert body["value"][0]["displayName"] == "MOD Administrator"


@page("directory-deleteditems-list", "200-orderby-userPrincipalName")
def test_list_deleted_ordered(graph, doc_page):
    for uid in (GRADY, ADMIN, ADELE):
        soft_delete(graph, uid)
    body = expect(graph.get(DELETED_USERS, headers=auth(),
                            params={"$orderby": "userPrincipalName"}), 200)
    upns = [u["userPrincipalName"] for u in body["value"]]
    assert upns == sorted(upns, key=str.lower) and len(upns) == 3


@page("directory-deleteditems-get", "200-deleted-user")
def test_get_deleted(graph, doc_page):
    soft_delete(graph, ADMIN)
    body = expect(graph.get(f"/directory/deletedItems/{ADMIN}", headers=auth()), 200)
    context_is(body, "directoryObjects/$entity")
    assert body["id"] == ADMIN and body["displayName"] == "MOD Administrator"


@page("directory-deleteditems-get", "404-object-not-deleted")
def test_get_live_object(graph, doc_page):
    error_of(graph.get(f"/directory/deletedItems/{ADELE}", headers=auth()), 404)


@page("directory-deleteditems-restore", "200-restored-user-is-back")
def test_restore(graph, doc_page):
    soft_delete(graph, ADMIN)
    body = expect(graph.post(f"/directory/deletedItems/{ADMIN}/restore", headers=auth()), 200)
    context_is(body, "directoryObjects/$entity")
    assert body["@odata.type"] == "#microsoft.graph.user" and body["id"] == ADMIN
    assert expect(graph.get(f"/users/{ADMIN}", headers=auth()), 200)["id"] == ADMIN
    listed = expect(graph.get(DELETED_USERS, headers=auth()), 200)
    assert ADMIN not in {u["id"] for u in listed["value"]}


@page("directory-deleteditems-restore", "restored-user-keeps-group-memberships")
def test_restore_keeps_memberships(graph, doc_page):
    # delta-query-groups: "Users that have been temporary deleted keep their group memberships"
    soft_delete(graph, JOHANNA)
    expect(graph.post(f"/directory/deletedItems/{JOHANNA}/restore", headers=auth()), 200)
    body = expect(graph.get(f"/users/{JOHANNA}/memberOf", headers=auth()), 200)
    assert [g["id"] for g in body["value"]] == [ALL_USERS]


@page("directory-deleteditems-delete", "204-permanently-deleted")
def test_permanent_delete(graph, doc_page):
    soft_delete(graph, ADMIN)
    resp = graph.delete(f"/directory/deletedItems/{ADMIN}", headers=auth())
    expect(resp, 204)
    assert resp.content == b""
    # "After an item is permanently deleted, it cannot be restored."
    error_of(graph.get(f"/directory/deletedItems/{ADMIN}", headers=auth()), 404)
    error_of(graph.post(f"/directory/deletedItems/{ADMIN}/restore", headers=auth()), 404)
    error_of(graph.get(f"/users/{ADMIN}", headers=auth()), 404)


@page("authentication-list-phonemethods", "200-phone-methods-of-a-user")
def test_phone_methods(graph, doc_page):
    body = expect(graph.get(f"/users/{ADELE}/authentication/phoneMethods", headers=auth()), 200)
    assert body["value"], body
    for method in body["value"]:
        assert set(method) >= {"id", "phoneNumber", "phoneType", "smsSignInState"}, method
        assert method["phoneType"] in {"mobile", "alternateMobile", "office"}
    mobile = next(m for m in body["value"] if m["phoneType"] == "mobile")
    assert mobile["id"] == MOBILE_METHOD                 # the page's id of the mobile method
    assert mobile["phoneNumber"] == "+1 2065555555" and mobile["smsSignInState"] == "ready"


@page("authentication-list-phonemethods", "200-empty-for-a-user-without-phones")
def test_no_phone_methods(graph, doc_page):
    body = expect(graph.get(f"/users/{GRADY}/authentication/phoneMethods", headers=auth()), 200)
    assert body["value"] == []


@page("authentication-list-phonemethods", "404-unknown-user")
def test_phone_methods_unknown_user(graph, doc_page):
    error_of(graph.get("/users/00000000-0000-4000-8000-000000000404/authentication/phoneMethods",
                       headers=auth()), 404)
