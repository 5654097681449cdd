"""Delta queries (docs/entra-behaviour.md#delta-queries) through msgraph-sdk's delta request builders.

Held to Microsoft's pages: group-delta, user-delta, delta-query-groups, delta-query-overview.
"""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.groups.delta.delta_request_builder import DeltaRequestBuilder as GDelta
from msgraph.generated.users.delta.delta_request_builder import DeltaRequestBuilder as UDelta

from tenantsync.emulator import delta as delta_module
from tenantsync.emulator.app import create_emulator
from tenantsync.emulator.protocol import GraphRequest
from tenantsync.emulator.server import EmulatorServer

from .conftest import get_raw, graph_client, run
from .emulator_world import CONTOSO, CONTOSO_TOKEN, FABRIKAM_TOKEN, FABRIKAM_USERS, _uid

SALES = _uid(0xC6, 1)
ALL_STAFF = _uid(0xC6, 2)


async def _round(client, builder, first_config=None):
    """All pages of one delta round: (items, deltaLink, page count)."""
    page = await get_raw(client, builder, first_config)
    items, pages = [], 0
    while True:
        pages += 1
        items += page["value"]
        if "@odata.deltaLink" in page:
            return items, page["@odata.deltaLink"], pages
        page = await get_raw(client, client.users.delta.with_url(page["@odata.nextLink"]))


def test_users_delta_round_after_creates_updates_and_deletes(emu, http):
    c = http()
    cfg = RequestConfiguration(query_parameters=UDelta.DeltaRequestBuilderGetQueryParameters(
        select=["displayName", "jobTitle"]))

    async def first():
        client = graph_client(emu.url, CONTOSO_TOKEN)
        return await _round(client, client.users.delta, cfg)

    items, link, _ = run(first)
    assert len(items) == 7 and all(set(i) == {"id", "displayName", "jobTitle"} for i in items)

    u1, u2, u3, u4 = (_uid(0xC0, n) for n in (1, 2, 3, 4))
    created = c.post("/users", json={
        "accountEnabled": True, "displayName": "New Hire", "mailNickname": "newhire",
        "userPrincipalName": "newhire@contoso.com",
        "passwordProfile": {"password": "x", "forceChangePasswordNextSignIn": True}}).json()
    assert c.patch(f"/users/{u1}", json={"displayName": "Renamed"}).status_code == 204
    assert c.patch(f"/users/{u2}", json={"city": "Oslo"}).status_code == 204   # not selected
    assert c.delete(f"/users/{u3}").status_code == 204                          # soft
    assert c.delete(f"/users/{u4}").status_code == 204
    assert c.delete(f"/directory/deletedItems/{u4}").status_code == 204         # hard

    async def second(link=link):
        client = graph_client(emu.url, CONTOSO_TOKEN)
        return await _round(client, client.users.delta.with_url(link))

    items, link2, _ = run(second)
    by_id = {i["id"]: i for i in items}
    assert set(by_id) == {created["id"], u1, u3, u4}
    assert by_id[created["id"]] == {"id": created["id"], "displayName": "New Hire",
                                    "jobTitle": None}
    assert by_id[u1]["displayName"] == "Renamed"
    assert by_id[u3] == {"id": u3, "@removed": {"reason": "changed"}}
    assert by_id[u4] == {"id": u4, "@removed": {"reason": "deleted"}}

    # a restore comes back as a normal object; an empty round is empty with a new deltaLink
    assert c.post(f"/directory/deletedItems/{u3}/restore").status_code == 200
    items, link3, _ = run(lambda: second(link2))
    assert items == [{"id": u3, "displayName": "Contoso User 3", "jobTitle": "Engineer"}]
    items, link4, _ = run(lambda: second(link3))
    assert items == [] and link4


def test_users_delta_typed_and_paged_first_round(emu, sdk_warm):
    cfg = RequestConfiguration(query_parameters=UDelta.DeltaRequestBuilderGetQueryParameters(
        select=["displayName"], top=999))

    async def body():
        client = graph_client(emu.url, FABRIKAM_TOKEN)
        raw_items, link, pages = await _round(client, client.users.delta, cfg)
        typed = await client.users.delta.with_url(link).get()          # typed, empty round
        return raw_items, pages, typed

    items, pages, typed = run(body)
    assert pages == 3 and len({i["id"] for i in items}) == FABRIKAM_USERS
    assert typed.value == [] and typed.odata_delta_link


def test_delta_filter_by_ids_and_prefer_page_size(emu, http):
    c = http()
    ids = [_uid(0xC0, 1), _uid(0xC0, 2), _uid(0xC0, 3)]
    flt = " or ".join(f"id eq '{i}'" for i in ids)
    r = c.get("/users/delta", params={"$filter": flt, "$select": "displayName"},
              headers={"Prefer": "odata.maxpagesize=2"}).json()
    assert [u["id"] for u in r["value"]] == ids[:2] and "@odata.nextLink" in r
    r = c.get(r["@odata.nextLink"]).json()
    assert [u["id"] for u in r["value"]] == ids[2:] and "@odata.deltaLink" in r
    c.patch(f"/users/{ids[0]}", json={"displayName": "x"})
    c.patch(f"/users/{_uid(0xC0, 5)}", json={"displayName": "y"})              # not in filter
    r = c.get(r["@odata.deltaLink"]).json()
    assert r["value"] == [{"id": ids[0], "displayName": "x"}]
    bad = c.get("/users/delta", params={"$filter": "displayName eq 'x'"})
    assert bad.status_code == 400


def test_groups_delta_with_select_members(emu, http):
    """delta-query-groups: `$select=displayName,description,members`; members@delta per group."""
    c = http()
    cfg = RequestConfiguration(query_parameters=GDelta.DeltaRequestBuilderGetQueryParameters(
        select=["displayName", "members"]))

    async def first():
        client = graph_client(emu.url, CONTOSO_TOKEN)
        page = await get_raw(client, client.groups.delta, cfg)
        return page

    page = run(first)
    assert page["@odata.context"].endswith("$metadata#groups(displayName)")
    groups = {g["id"]: g for g in page["value"]}
    assert groups[SALES] == {"id": SALES, "displayName": "Sales", "members@delta": [
        {"@odata.type": "#microsoft.graph.user", "id": _uid(0xC0, 1)},
        {"@odata.type": "#microsoft.graph.user", "id": _uid(0xC0, 2)}]}
    assert {"@odata.type": "#microsoft.graph.group", "id": SALES} in \
        groups[ALL_STAFF]["members@delta"]
    link = page["@odata.deltaLink"]

    u5 = _uid(0xC0, 5)
    ref = {"@odata.id": f"https://graph.microsoft.com/v1.0/directoryObjects/{u5}"}
    assert c.post(f"/groups/{SALES}/members/$ref", json=ref).status_code == 204
    assert c.delete(f"/groups/{SALES}/members/{_uid(0xC0, 2)}/$ref").status_code == 204
    r = c.get(link).json()
    changes = {g["id"]: g for g in r["value"]}
    # delta-query-groups: the selected properties come too, changed or not
    assert changes == {SALES: {"id": SALES, "displayName": "Sales", "members@delta": [
        {"@odata.type": "#microsoft.graph.user", "id": u5},
        {"@odata.type": "#microsoft.graph.user", "id": _uid(0xC0, 2),
         "@removed": {"reason": "deleted"}}]}}

    # renaming shows the group's selected properties; id filter restricts the groups
    c.patch(f"/groups/{ALL_STAFF}", json={"displayName": "Everyone"})
    r2 = c.get(r["@odata.deltaLink"]).json()
    assert r2["value"] == [{"id": ALL_STAFF, "displayName": "Everyone"}]
    only = c.get("/groups/delta", params={"$filter": f"id eq '{SALES}'",
                                          "$select": "id,displayName,members"}).json()
    assert [g["id"] for g in only["value"]] == [SALES]
    assert len(only["value"][0]["members@delta"]) == 2


def test_soft_deleted_member_keeps_its_membership_until_permanent_deletion(emu, http):
    """delta-query-groups: "Users that have been temporary deleted keep their group memberships
    and won't appear in the delta result until they're permanently deleted"."""
    c = http()
    u3 = _uid(0xC0, 3)                                   # a direct member of "All staff"
    link = c.get("/groups/delta", params={"$select": "displayName,members",
                                          "$deltatoken": "latest"}).json()["@odata.deltaLink"]
    assert c.delete(f"/users/{u3}").status_code == 204                      # soft
    r = c.get(link).json()
    assert r["value"] == []
    # a new round still reports the membership
    first = c.get("/groups/delta", params={"$select": "members"}).json()
    assert {"@odata.type": "#microsoft.graph.user", "id": u3} in \
        {g["id"]: g for g in first["value"]}[ALL_STAFF]["members@delta"]
    assert c.delete(f"/directory/deletedItems/{u3}").status_code == 204     # permanent
    r = c.get(r["@odata.deltaLink"]).json()
    assert r["value"] == [{"id": ALL_STAFF, "displayName": "All staff", "members@delta": [
        {"@odata.type": "#microsoft.graph.user", "id": u3, "@removed": {"reason": "deleted"}}]}]


def test_groups_delta_tracks_members_by_default(emu, http):
    """delta-query-groups: members@delta "by default, when the $select query parameter hasn't
    been specified"; a group without members has no members@delta."""
    c = http()
    empty = c.post("/groups", json={"displayName": "Empty", "mailEnabled": False,
                                    "mailNickname": "empty", "securityEnabled": True}).json()
    page = c.get("/groups/delta").json()
    groups = {g["id"]: g for g in page["value"]}
    assert [m["id"] for m in groups[SALES]["members@delta"]] == [_uid(0xC0, 1), _uid(0xC0, 2)]
    assert groups[SALES]["displayName"] == "Sales"
    assert "members@delta" not in groups[empty["id"]]
    assert c.delete(f"/groups/{SALES}/members/{_uid(0xC0, 1)}/$ref").status_code == 204
    r = c.get(page["@odata.deltaLink"]).json()
    assert [g["id"] for g in r["value"]] == [SALES]
    assert r["value"][0]["displayName"] == "Sales" and r["value"][0]["members@delta"] == [
        {"@odata.type": "#microsoft.graph.user", "id": _uid(0xC0, 1),
         "@removed": {"reason": "deleted"}}]
    # only `members` selected: the id and the membership, nothing else
    only = c.get("/groups/delta", params={"$select": "members"}).json()
    assert {g["id"]: g for g in only["value"]}[SALES] == {
        "id": SALES, "members@delta": [{"@odata.type": "#microsoft.graph.user",
                                        "id": _uid(0xC0, 2)}]}


@pytest.mark.parametrize("path", ["/groups/delta", "/users/delta"])
def test_expand_is_refused_on_delta(emu, http, path):
    """delta-query-overview: for users and groups "$expand is not supported". The docs do not
    say what Graph answers: the emulator is deliberately stricter and refuses."""
    r = http().get(path, params={"$expand": "members" if "groups" in path else "manager",
                                 "$select": "displayName"})
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["code"] == "Request_UnsupportedQuery"
    assert "$expand is not supported" in error["message"]
    assert "deliberately" in error["message"]


def test_delta_filter_takes_at_most_50_ids(emu, http):
    """user-delta, group-delta: "There is a limit of 50 filtered objects"."""
    c = http()
    ids = [_uid(0xC0, n) for n in range(1, 51)]
    ok = c.get("/users/delta", params={"$filter": " or ".join(f"id eq '{i}'" for i in ids)})
    assert ok.status_code == 200
    assert {u["id"] for u in ok.json()["value"]} == {_uid(0xC0, n) for n in range(1, 6)}
    for path in ("/users/delta", "/groups/delta"):
        flt = " or ".join(f"id eq '{i}'" for i in ids + [_uid(0xC0, 99)])
        r = c.get(path, params={"$filter": flt})
        assert r.status_code == 400, path
        assert r.json()["error"]["code"] == "Request_UnsupportedQuery"
        assert "the limit is 50" in r.json()["error"]["message"]


def test_groups_delta_chunks_large_groups(emu, http):
    r = http(FABRIKAM_TOKEN).get("/groups/delta", params={"$select": "displayName,members"}).json()
    seen = []
    while True:
        for g in r["value"]:
            seen += [m["id"] for m in g["members@delta"]]
        if "@odata.deltaLink" in r:
            break
        r = http(FABRIKAM_TOKEN).get(r["@odata.nextLink"]).json()
    assert len(seen) == len(set(seen)) == 1500


def _assert_gone(r, code: str, url: str) -> dict:
    """410 with the code and a Location holding the initial request and an empty $deltatoken
    (delta-query-overview, "Synchronization reset"; errors: resyncRequired, syncStateNotFound)."""
    assert r.status_code == 410, r.text
    assert r.json()["error"]["code"] == code
    location = r.headers["Location"]
    parts = urlsplit(location)
    assert location.startswith(url) and parts.path.endswith("/delta")
    query = parse_qs(parts.query, keep_blank_values=True)
    assert query["$deltatoken"] == [""]
    return query


def test_expired_delta_links_answer_410_with_location(emu, http):
    c = http()
    users = c.get("/users/delta", params={"$select": "displayName"},
                  headers={"Prefer": "odata.maxpagesize=3"}).json()
    next_link = users["@odata.nextLink"]
    flt = f"id eq '{SALES}' or id eq '{ALL_STAFF}'"
    groups = c.get("/groups/delta", params={"$select": "displayName,members",
                                            "$filter": flt}).json()
    group_link = groups["@odata.deltaLink"]
    assert emu.expire_delta_tokens()["deltaEpoch"] == 1
    # a nextLink of a round in progress and a deltaLink, users and groups alike
    query = _assert_gone(c.get(next_link), "syncStateNotFound", emu.url)
    assert query["$select"] == ["displayName"]
    r = c.get(group_link)
    query = _assert_gone(r, "syncStateNotFound", emu.url)
    assert query["$select"] == ["displayName,members"] and query["$filter"] == [flt]
    # the Location starts a new round with the same options, whose links are valid again
    again = c.get(r.headers["Location"]).json()
    assert {g["id"] for g in again["value"]} == {SALES, ALL_STAFF}
    assert all("members@delta" in g for g in again["value"])
    assert c.get(again["@odata.deltaLink"]).status_code == 200


def test_delta_links_older_than_the_ttl_answer_410(monkeypatch):
    """`--delta-token-ttl SECONDS`: Graph keeps directory delta tokens seven days
    (delta-query-overview, "Token duration"); the emulator, as long as it is told."""
    now = [1_000_000.0]
    monkeypatch.setattr(delta_module, "clock", lambda: now[0])
    fixture = {"tenants": [{"id": CONTOSO, "defaultDomain": "c.onmicrosoft.com",
                            "tokens": ["t"], "users": [
                                {"id": _uid(0xC0, 1), "userPrincipalName": "a@c.onmicrosoft.com",
                                 "displayName": "A"}]}]}
    with EmulatorServer(fixture, delta_token_ttl=60) as srv:
        import httpx
        with httpx.Client(base_url=srv.url, headers={"Authorization": "Bearer t"}) as c:
            link = c.get("/users/delta").json()["@odata.deltaLink"]
            now[0] += 59
            fresh = c.get(link)
            assert fresh.status_code == 200
            now[0] += 59                     # the first link is 118 s old, the second 59 s
            _assert_gone(c.get(link), "syncStateNotFound", srv.url)
            assert c.get(fresh.json()["@odata.deltaLink"]).status_code == 200


def test_stale_token_after_reset_is_410(emu, http):
    link = http().get("/users/delta", params={"$deltatoken": "latest"}).json()["@odata.deltaLink"]
    emu.reset()
    _assert_gone(http().get(link), "resyncRequired", emu.url)


def test_incremental_round_cost_does_not_grow_with_tenant_size():
    """100,000 users: a round after 5 changes must walk the log, not the tenant."""
    users = [{"id": f"{n:08x}-1111-4111-8111-111111111111", "userPrincipalName": f"u{n}@big.com",
              "displayName": f"U{n}"} for n in range(100_000)]
    fixture = {"tenants": [{"id": CONTOSO, "defaultDomain": "big.onmicrosoft.com",
                            "domains": [{"id": "big.com"}], "tokens": ["t"], "users": users}]}
    emulator = create_emulator(fixture)

    def get(path: str, query: dict) -> dict:
        req = GraphRequest(method="GET", path=path, query=query,
                           headers={"authorization": "Bearer t"})
        resp = emulator.handle(req)
        assert resp.status == 200, resp.body
        return resp.body

    link = get("/users/delta", {"$deltatoken": "latest", "$select": "displayName"})
    token = link["@odata.deltaLink"].split("$deltatoken=")[1]
    tenant = emulator.directory.tenant(CONTOSO)
    for n in (1, 50_000, 99_999, 7, 8):
        tenant.update_user(users[n]["id"], {"displayName": f"changed {n}"})
    started = time.perf_counter()
    body = get("/users/delta", {"$deltatoken": token})
    elapsed = time.perf_counter() - started
    assert len(body["value"]) == 5
    assert elapsed < 0.02, f"incremental round took {elapsed * 1000:.1f} ms"
