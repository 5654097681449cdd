"""user-list, user-get, user-update, user-delete and user-list-memberof, as their pages document.

The product reads users page by page and patches and deletes them; these cases hold the emulator
to the documented default property set, @odata.context, 204s and 404s.
"""

from __future__ import annotations

from tests.contract.doc import Case, auth, cases, context_is, error_of, expect, page, send
from tests.contract.world import ADELE, ADMIN, ALL_USERS, DEFAULT_USER_KEYS, GUEST_UPN, JOHANNA, USERS


def _default_collection(resp) -> None:
    body = resp.json()
    context_is(body, "users")
    assert body["value"], body
    for user in body["value"]:
        assert set(user) == DEFAULT_USER_KEYS, sorted(user)
    admin = next(u for u in body["value"] if u["id"] == ADMIN)
    assert admin["businessPhones"] == ["425-555-0100"]
    assert admin["mail"] is None                        # unset properties come back as null


def _adele_default(resp) -> None:
    body = resp.json()
    assert set(body) - {"@odata.context"} == DEFAULT_USER_KEYS, sorted(body)
    assert body["displayName"] == "Adele Vance"
    assert body["officeLocation"] == "18/2111"
    assert body["businessPhones"] == ["+1 425 555 0109"]


def _adele_select(resp) -> None:
    body = resp.json()
    context_is(body, "users(displayName,givenName,postalCode,identities)/$entity")
    assert body["postalCode"] == "98004"                # not in the default set: only by $select
    assert body["identities"][0]["issuerAssignedId"] == "AdeleV@contoso.com"
    assert "mail" not in body and "jobTitle" not in body


def _guest_by_upn(resp) -> None:
    assert resp.json()["userPrincipalName"] == GUEST_UPN


def _not_found(resp) -> None:
    error_of(resp, 404)


def _member_of(resp) -> None:
    body = resp.json()
    groups = [o for o in body["value"] if o["@odata.type"] == "#microsoft.graph.group"]
    assert [g["id"] for g in groups] == [ALL_USERS], body
    assert groups[0]["displayName"] == "All Users"
    assert groups[0]["mailEnabled"] is False and groups[0]["securityEnabled"] is True


READS = cases(
    Case("user-list", "200-default-property-set", path="/users", check=_default_collection),
    Case("user-get", "200-default-property-set", path=f"/users/{ADELE}", check=_adele_default),
    Case("user-get", "200-by-userPrincipalName", path="/users/AdeleV@contoso.com",
         check=_adele_default),
    # user-get tip: "To query a B2B user using the userPrincipalName, encode the hash (#)".
    Case("user-get", "200-b2b-upn-with-encoded-hash",
         path="/users/AdeleV_adatum.com%23EXT%23@contoso.com", check=_guest_by_upn),
    Case("user-get", "200-select-non-default-properties", path=f"/users/{ADELE}",
         params={"$select": "displayName,givenName,postalCode,identities"},
         check=_adele_select),
    Case("user-get", "404-unknown-id", path="/users/00000000-0000-4000-8000-000000000404",
         status=404, check=_not_found),
    Case("user-list-memberof", "200-direct-groups-of-user", path=f"/users/{JOHANNA}/memberOf",
         check=_member_of),
)


@READS
def test_user_reads(graph, case):
    send(graph, case)


@page("user-update", "204-then-get-shows-new-values")
def test_update_then_get(graph, doc_page):
    # The page's example body, sent to a user by id.
    resp = graph.patch(f"/users/{ADMIN}", headers=auth(),
                       json={"businessPhones": ["+1 425 555 0109"], "officeLocation": "18/2111"})
    expect(resp, 204)
    assert resp.content == b""
    body = expect(graph.get(f"/users/{ADMIN}", headers=auth()), 200)
    assert body["businessPhones"] == ["+1 425 555 0109"]
    assert body["officeLocation"] == "18/2111"
    assert body["displayName"] == "MOD Administrator"   # properties not sent keep their value


@page("user-update", "400-unknown-property")
def test_update_unknown_property(graph, doc_page):
    resp = graph.patch(f"/users/{ADMIN}", headers=auth(), json={"favouriteColour": "blue"})
    error_of(resp, 400)
    body = expect(graph.get(f"/users/{ADMIN}", headers=auth()), 200)
    assert body["displayName"] == "MOD Administrator"


@page("user-update", "404-unknown-user")
def test_update_unknown_user(graph, doc_page):
    resp = graph.patch("/users/00000000-0000-4000-8000-000000000404", headers=auth(),
                       json={"jobTitle": "x"})
    error_of(resp, 404)


@page("user-delete", "204-then-get-404")
def test_delete_user(graph, doc_page):
    resp = graph.delete(f"/users/{ADMIN}", headers=auth())
    expect(resp, 204)
    assert resp.content == b""
    error_of(graph.get(f"/users/{ADMIN}", headers=auth()), 404)
    listed = expect(graph.get("/users", headers=auth(), params={"$top": "999"}), 200)
    assert ADMIN not in {u["id"] for u in listed["value"]}
    assert len(listed["value"]) == len(USERS) - 1
