"""A user's manager on the emulator, held to the Graph v1.0 pages user-list-manager,
user-post-manager, user-delete-manager and delta-query-overview (manager tracked by users/delta
with `$select=...,manager`, as a `manager@delta` annotation). Every test reads back what a Graph
client would see; the emulator's decisions where the pages are silent are named in
tenantsync/emulator/manager.py.
"""

from __future__ import annotations

import pytest

from tenantsync.emulator.fixture import FixtureError, load_directory
from tenantsync.emulator.tokens import app_token

from .conftest import graph_client, run  # the emulator tests' conftest (as in the other modules)
from .emulator_world import CONTOSO, _uid, build_fixture

U1, U2, U3, U4 = (_uid(0xC0, n) for n in range(1, 5))
GRAPH = "https://graph.microsoft.com/v1.0"
JSON_H = {"Content-Type": "application/json"}
USER = "#microsoft.graph.user"
NO_MANAGER = "Resource 'manager' does not exist or one of its queried reference-property objects are not present."


def _fixture(**extra_tokens) -> dict:
    """Contoso: U1 manages U2, U2 manages U3; U4 has no manager."""
    fixture = build_fixture()
    users = {u["id"]: u for u in fixture["tenants"][0]["users"]}
    users[U2]["manager"] = U1
    users[U3]["manager"] = U2
    for token in extra_tokens.values():
        fixture["tenants"][0]["tokens"].append(token)
    return fixture


@pytest.fixture
def org(emu):
    emu.reset(_fixture())
    return emu


def _put(c, user, manager_url):
    return c.put(f"/users/{user}/manager/$ref", json={"@odata.id": manager_url}, headers=JSON_H)


def test_get_manager_returns_the_manager_user(org, http):
    c = http()
    r = c.get(f"/users/{U2}/manager")
    assert r.status_code == 200
    body = r.json()
    assert body["@odata.type"] == USER and body["id"] == U1
    assert body["displayName"] == "Contoso User 1" and body["userPrincipalName"] == "user1@contoso.com"
    assert {"businessPhones", "jobTitle", "mail", "surname"} <= set(body)      # the default set
    assert body["@odata.context"].endswith("$metadata#directoryObjects/$entity")
    chosen = c.get("/users/user2@contoso.com/manager", params={"$select": "id,displayName"}).json()
    assert {k: v for k, v in chosen.items() if not k.startswith("@")} == {
        "id": U1, "displayName": "Contoso User 1"}


def test_no_manager_is_404_on_get_ref_and_delete(org, http):
    c = http()
    for r in (c.get(f"/users/{U4}/manager"), c.get(f"/users/{U4}/manager/$ref"),
              c.delete(f"/users/{U4}/manager/$ref")):
        assert r.status_code == 404
        assert r.json()["error"]["code"] == "Request_ResourceNotFound"
        assert r.json()["error"]["message"] == NO_MANAGER
    assert c.get(f"/users/{_uid(0xC0, 999)}/manager").status_code == 404     # no such user


def test_put_manager_ref_in_the_pages_form_assigns_it(org, http):
    c = http()
    r = _put(c, U4, f"{GRAPH}/users/{U3}")
    assert r.status_code == 204 and r.content == b""
    assert c.get(f"/users/{U4}/manager").json()["id"] == U3
    ref = c.get(f"/users/{U4}/manager/$ref").json()
    assert ref["@odata.id"].endswith(f"/users/{U3}") and ref["@odata.context"].endswith("$metadata#$ref")
    # the reference GET answers can be PUT back; a directoryObject URL and a UPN work too
    assert _put(c, U4, ref["@odata.id"]).status_code == 204
    assert _put(c, U4, f"{GRAPH}/directoryObjects/{U1}").status_code == 204
    assert c.get(f"/users/{U4}/manager").json()["id"] == U1
    assert _put(c, U4, f"{org.url}/users/user2@contoso.com").status_code == 204
    assert c.get(f"/users/{U4}/manager").json()["id"] == U2


def test_put_manager_ref_refuses_what_is_not_a_user_of_the_tenant(org, http):
    c = http()
    missing = c.put(f"/users/{U4}/manager/$ref", json={"id": U1}, headers=JSON_H)
    assert missing.status_code == 400 and "@odata.id" in missing.json()["error"]["message"]
    assert _put(c, U4, f"{GRAPH}/groups/{_uid(0xC6, 1)}").status_code == 400
    assert _put(c, U4, f"{GRAPH}/users/{_uid(0xC0, 999)}").status_code == 404
    assert _put(c, U4, f"{GRAPH}/users/{_uid(0xFA, 1)}").status_code == 404    # a Fabrikam user
    assert _put(c, U4, f"{GRAPH}/users/{U4}").status_code == 400               # itself
    assert c.get(f"/users/{U4}/manager").status_code == 404                    # nothing changed


def test_delete_manager_ref_removes_it(org, http):
    c = http()
    r = c.delete(f"/users/{U2}/manager/$ref")
    assert r.status_code == 204 and r.content == b""
    assert c.get(f"/users/{U2}/manager").status_code == 404
    assert "manager" not in next(u for u in org.dump(CONTOSO)["users"] if u["id"] == U2)


def test_expand_manager_on_the_list_and_on_one_user(org, http):
    c = http()
    page = c.get("/users", params={"$select": "id,displayName",
                                   "$expand": "manager($select=id,displayName)"}).json()["value"]
    by_id = {u["id"]: u for u in page}
    assert by_id[U2]["manager"] == {"@odata.type": USER, "id": U1, "displayName": "Contoso User 1"}
    assert by_id[U3]["manager"]["id"] == U2 and "manager" not in by_id[U4]
    assert set(by_id[U4]) == {"id", "displayName"}
    one = c.get(f"/users/{U3}", params={"$expand": "manager"}).json()
    assert one["manager"]["id"] == U2 and one["manager"]["userPrincipalName"] == "user2@contoso.com"
    assert "manager" not in one["manager"]                  # only the immediate manager


def test_expand_manager_levels_only_on_one_user_with_consistency_level(org, http):
    c = http()
    chain = c.get(f"/users/{U3}", params={"$select": "id,displayName",
                                          "$expand": "manager($levels=max;$select=id,displayName)"},
                  headers={"ConsistencyLevel": "eventual"}).json()
    assert chain["manager"]["id"] == U2 and chain["manager"]["manager"]["id"] == U1
    assert "manager" not in chain["manager"]["manager"]
    no_header = c.get(f"/users/{U3}", params={"$expand": "manager($levels=max)"})
    assert no_header.status_code == 400
    on_list = c.get("/users", params={"$expand": "manager($levels=2)"},
                    headers={"ConsistencyLevel": "eventual"})
    assert on_list.status_code == 400 and on_list.json()["error"]["code"] == "Request_UnsupportedQuery"
    other = c.get("/users", params={"$expand": "memberOf"})
    assert other.status_code == 400 and other.json()["error"]["code"] == "Request_UnsupportedQuery"


def _round(c, link=None, **params):
    url, items = link or "/users/delta", []
    query = params or None
    while True:
        body = c.get(url, params=query).json()
        items += body["value"]
        query = None
        if "@odata.deltaLink" in body:
            return {i["id"]: i for i in items}, body["@odata.deltaLink"]
        url = body["@odata.nextLink"]


def test_delta_with_manager_selected_tracks_manager_changes(org, http):
    c = http()
    first, link = _round(c, **{"$select": "displayName,manager"})
    assert first[U2]["manager@delta"] == [{"@odata.type": USER, "id": U1}]
    assert "manager@delta" not in first[U4] and first[U4]["displayName"] == "Contoso User 4"
    _put(c, U4, f"{GRAPH}/users/{U1}")                 # new manager
    _put(c, U3, f"{GRAPH}/users/{U1}")                 # changed manager
    c.delete(f"/users/{U2}/manager/$ref")               # removed manager
    changes, link = _round(c, link)
    assert set(changes) == {U2, U3, U4}                # reported although nothing else changed
    assert changes[U4]["manager@delta"] == [{"@odata.type": USER, "id": U1}]
    assert changes[U3]["manager@delta"] == [{"@odata.type": USER, "id": U1},
                                            {"@odata.type": USER, "id": U2, "@removed": {"reason": "deleted"}}]
    assert changes[U2]["manager@delta"] == [{"@odata.type": USER, "id": U1, "@removed": {"reason": "deleted"}}]
    assert changes[U2]["displayName"] == "Contoso User 2"           # the selected properties too
    c.patch(f"/users/{U4}", json={"displayName": "Renamed"}, headers=JSON_H)
    later, _ = _round(c, link)
    assert later[U4]["displayName"] == "Renamed" and "manager@delta" not in later[U4]


def test_delta_tracks_the_manager_without_select_but_not_when_unselected(org, http):
    c = http()
    full, full_link = _round(c)
    assert full[U3]["manager@delta"] == [{"@odata.type": USER, "id": U2}]
    _, narrow_link = _round(c, **{"$select": "displayName"})
    _put(c, U4, f"{GRAPH}/users/{U2}")
    assert _round(c, full_link)[0][U4]["manager@delta"] == [{"@odata.type": USER, "id": U2}]
    assert U4 not in _round(c, narrow_link)[0]        # manager not selected: not tracked


def test_soft_deleted_manager_is_hidden_kept_and_permanently_removed(org, http):
    c = http()
    _, link = _round(c, **{"$select": "displayName,manager"})
    assert c.delete(f"/users/{U1}").status_code == 204                 # soft delete
    assert c.get(f"/users/{U2}/manager").status_code == 404
    assert "manager" not in c.get(f"/users/{U2}", params={"$expand": "manager"}).json()
    assert c.post(f"/directory/deletedItems/{U1}/restore").status_code == 200
    assert c.get(f"/users/{U2}/manager").json()["id"] == U1           # kept through the delete
    c.delete(f"/users/{U1}")
    assert c.delete(f"/directory/deletedItems/{U1}").status_code == 204   # permanent
    changes, _ = _round(c, link)
    assert changes[U1]["@removed"] == {"reason": "deleted"}
    assert changes[U2]["manager@delta"] == [{"@odata.type": USER, "id": U1, "@removed": {"reason": "deleted"}}]
    c.post(f"/directory/deletedItems/{U1}/restore")
    assert c.get(f"/users/{U2}/manager").status_code == 404


def test_manager_routes_work_inside_batch(org, http):
    c = http()
    requests = [
        {"id": "1", "method": "PUT", "url": f"/users/{U4}/manager/$ref", "headers": JSON_H,
         "body": {"@odata.id": f"{GRAPH}/users/{U2}"}},
        {"id": "2", "method": "GET", "url": f"/users/{U4}/manager?$select=id", "dependsOn": ["1"]},
        {"id": "3", "method": "GET", "dependsOn": ["2"],
         "url": f"/users?$select=id&$expand=manager($select=id)&$filter=id eq '{U4}'"},
        {"id": "4", "method": "DELETE", "url": f"/users/{U3}/manager/$ref"},
    ]
    out = {r["id"]: r for r in c.post("/$batch", json={"requests": requests}).json()["responses"]}
    assert out["1"]["status"] == 204 and out["4"]["status"] == 204
    assert out["2"]["status"] == 200 and out["2"]["body"]["id"] == U2
    assert out["3"]["status"] == 200
    assert out["3"]["body"]["value"] == [{"id": U4, "manager": {"@odata.type": USER, "id": U2}}]
    assert c.get(f"/users/{U3}/manager").status_code == 404


def test_manager_routes_need_the_documented_permissions(emu, http):
    reader = app_token(CONTOSO, "5d2c0a3e-1111-4aaa-8bbb-00000000000a", ["User.Read.All"])
    writer = app_token(CONTOSO, "5d2c0a3e-1111-4aaa-8bbb-00000000000b", ["User.ReadWrite.All"])
    directory = app_token(CONTOSO, "5d2c0a3e-1111-4aaa-8bbb-00000000000c", ["Directory.ReadWrite.All"])
    emu.reset(_fixture(reader=reader, writer=writer, directory=directory))
    assert http(reader).get(f"/users/{U2}/manager").status_code == 200      # user-list-manager
    denied = _put(http(reader), U4, f"{GRAPH}/users/{U1}")
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "Authorization_RequestDenied"
    assert http(reader).delete(f"/users/{U2}/manager/$ref").status_code == 403
    assert _put(http(writer), U4, f"{GRAPH}/users/{U1}").status_code == 204  # user-post-manager
    assert http(directory).delete(f"/users/{U4}/manager/$ref").status_code == 204  # user-delete-manager


def test_fixture_manager_is_validated_and_dumped(org):
    dumped = {u["id"]: u for u in org.dump(CONTOSO)["users"]}
    assert dumped[U2]["manager"] == U1 and "manager" not in dumped[U4]
    for bad in (_uid(0xC0, 999), _uid(0xFA, 1), U4, 42):
        fixture = build_fixture()
        fixture["tenants"][0]["users"][3]["manager"] = bad          # U4
        with pytest.raises(FixtureError, match=r"users\[3\]: 'manager' must be the id of another user"):
            load_directory(fixture)


def test_the_sdk_reads_and_assigns_the_manager(org):
    """msgraph-sdk's own request builders: manager.get() parses the user, manager.ref.put()
    sends the page's body."""
    from msgraph.generated.models.reference_update import ReferenceUpdate
    from msgraph.generated.models.user import User

    async def body():
        client = graph_client(org.url, "token-contoso-app1")
        await client.users.by_user_id(U4).manager.ref.put(ReferenceUpdate(odata_id=f"{GRAPH}/users/{U2}"))
        return await client.users.by_user_id(U4).manager.get()

    manager = run(body)
    assert isinstance(manager, User) and manager.id == U2 and manager.display_name == "Contoso User 2"
