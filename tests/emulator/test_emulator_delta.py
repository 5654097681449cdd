"""Delta queries (reference §11) through msgraph-sdk's delta request builders."""

from __future__ import annotations

import time

from conftest import get_raw, graph_client, run
from emulator_world import CONTOSO, CONTOSO_TOKEN, FABRIKAM_TOKEN, FABRIKAM_USERS, _uid
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.groups.delta.delta_request_builder import DeltaRequestBuilder as GDelta
from msgraph.generated.users.delta.delta_request_builder import DeltaRequestBuilder as UDelta

from tenantsync.emulator.app import create_emulator
from tenantsync.emulator.protocol import GraphRequest

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


def test_groups_delta_with_members(emu, http):
    c = http()
    cfg = RequestConfiguration(query_parameters=GDelta.DeltaRequestBuilderGetQueryParameters(
        select=["displayName"], expand=["members"]))

    async def first():
        client = graph_client(emu.url, CONTOSO_TOKEN)
        page = await get_raw(client, client.groups.delta, cfg)
        return page

    page = run(first)
    groups = {g["id"]: g for g in page["value"]}
    assert groups[SALES]["members@delta"] == [
        {"@odata.type": "#microsoft.graph.user", "id": _uid(0xC0, 1)},
        {"@odata.type": "#microsoft.graph.user", "id": _uid(0xC0, 2)}]
    assert {"@odata.type": "#microsoft.graph.group", "id": SALES} in \
        groups[ALL_STAFF]["members@delta"]
    link = page["@odata.deltaLink"]

    u5 = _uid(0xC0, 5)
    ref = {"@odata.id": f"https://graph.microsoft.com/v1.0/directoryObjects/{u5}"}
    assert c.post(f"/groups/{SALES}/members/$ref", json=ref).status_code == 204
    assert c.delete(f"/groups/{SALES}/members/{_uid(0xC0, 2)}/$ref").status_code == 204
    assert c.delete(f"/users/{_uid(0xC0, 3)}").status_code == 204   # leaves "All staff"

    r = c.get(link).json()
    changes = {g["id"]: g for g in r["value"]}
    assert changes[SALES] == {"id": SALES, "members@delta": [
        {"@odata.type": "#microsoft.graph.user", "id": u5},
        {"@odata.type": "#microsoft.graph.user", "id": _uid(0xC0, 2),
         "@removed": {"reason": "deleted"}}]}
    assert changes[ALL_STAFF] == {"id": ALL_STAFF, "members@delta": [
        {"@odata.type": "#microsoft.graph.user", "id": _uid(0xC0, 3),
         "@removed": {"reason": "deleted"}}]}

    # renaming shows the group's selected properties; id filter restricts the groups
    c.patch(f"/groups/{ALL_STAFF}", json={"displayName": "Everyone"})
    r2 = c.get(r["@odata.deltaLink"]).json()
    assert r2["value"] == [{"id": ALL_STAFF, "displayName": "Everyone"}]
    only = c.get("/groups/delta", params={"$filter": f"id eq '{SALES}'",
                                          "$expand": "members"}).json()
    assert [g["id"] for g in only["value"]] == [SALES]


def test_groups_delta_chunks_large_groups(emu, http):
    r = http(FABRIKAM_TOKEN).get("/groups/delta", params={"$expand": "members",
                                                          "$select": "displayName"}).json()
    seen = []
    while True:
        for g in r["value"]:
            seen += [m["id"] for m in g["members@delta"]]
        if "@odata.deltaLink" in r:
            break
        r = http(FABRIKAM_TOKEN).get(r["@odata.nextLink"]).json()
    assert len(seen) == len(set(seen)) == 1500


def test_stale_token_after_reset_is_410(emu, http):
    link = http().get("/users/delta", params={"$deltatoken": "latest"}).json()["@odata.deltaLink"]
    emu.reset()
    r = http().get(link)
    assert r.status_code == 410 and r.json()["error"]["code"] == "resyncRequired"


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
