"""users/delta and groups/delta as user-delta, group-delta, delta-query-overview,
delta-query-users and delta-query-groups document them.

The product's incremental cycles stand on these: a change missed, a removal misread or a
membership dropped is a user wrongly kept or wrongly deleted in the target tenant.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx

from tests.contract.doc import auth, context_is, error_of, expect, follow, page
from tests.contract.world import ADELE, ALL_COMPANY, ALL_USERS, DEFAULT_USER_KEYS, JANE, JOHN, MEGHAN, PAT, SG_HR, USERS

MEMBERS = {"$select": "displayName,description,members"}     # delta-query-groups request


def run_round(graph: httpx.Client, url: str, params: dict | None = None) -> tuple[list, str]:
    """Every item of one round (nextLinks followed) and the round's @odata.deltaLink."""
    pages = list(follow(graph, graph.get(url, params=params, headers=auth())))
    for body in pages[:-1]:
        assert "@odata.deltaLink" not in body
    assert "@odata.deltaLink" in pages[-1], pages[-1]
    return [item for body in pages for item in body["value"]], pages[-1]["@odata.deltaLink"]


def by_id(items: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for item in items:
        out.setdefault(item["id"], []).append(item)
    return out


def members_of(items: list[dict], gid: str) -> list[dict]:
    """members@delta of a group, merged over its repetitions (delta-query-groups paging)."""
    return [m for item in by_id(items).get(gid, []) for m in item.get("members@delta", [])]


def ref(uid: str) -> dict:
    """group-post-members: the @odata.id of the member to add."""
    return {"@odata.id": f"https://graph.microsoft.com/v1.0/directoryObjects/{uid}"}


# -- users/delta --------------------------------------------------------------------------
@page("user-delta", "initial-round-returns-every-user-default-properties")
def test_users_initial_round(graph, doc_page):
    first = graph.get("/users/delta", headers=auth())
    context_is(expect(first, 200), "users")
    items, link = run_round(graph, "/users/delta")
    assert set(by_id(items)) == {u["id"] for u in USERS}
    for item in items:
        assert set(item) <= DEFAULT_USER_KEYS and "id" in item, item
    assert "deltatoken=" in link.lower()


@page("delta-query-users", "select-encoded-in-links-and-changed-user-returned")
def test_users_select_and_change(graph, doc_page):
    items, link = run_round(graph, "/users/delta",
                            {"$select": "displayName,givenName,surname"})
    for item in items:
        assert set(item) <= {"id", "displayName", "givenName", "surname"}, item
    expect(graph.patch(f"/users/{JOHN}", headers=auth(), json={"displayName": "Testuser7"}), 204)
    changed, _ = run_round(graph, link)                  # no $select repeated: it is in the link
    assert [i["id"] for i in changed] == [JOHN]
    # Default behaviour: unchanged selected properties come back with their old values.
    assert changed[0]["displayName"] == "Testuser7"
    assert changed[0]["givenName"] == "John" and changed[0]["surname"] == "Doe"


@page("delta-query-users", "no-changes-empty-value-with-new-deltalink")
def test_users_no_changes(graph, doc_page):
    _, link = run_round(graph, "/users/delta")
    body = expect(graph.get(link, headers=auth()), 200)
    context_is(body, "users")
    assert body["value"] == [] and "@odata.deltaLink" in body


@page("delta-query-users", "removed-reason-changed-then-deleted")
def test_users_removed_reasons(graph, doc_page):
    _, link = run_round(graph, "/users/delta")
    expect(graph.delete(f"/users/{JANE}", headers=auth()), 204)
    items, link = run_round(graph, link)
    # "When the user is deleted, the item contains an annotation: @removed ... changed".
    assert items == [{"id": JANE, "@removed": {"reason": "changed"}}], items
    expect(graph.delete(f"/directory/deletedItems/{JANE}", headers=auth()), 204)
    items, _ = run_round(graph, link)
    # "When the user is permanently deleted ... @removed with value of reason: deleted".
    assert items == [{"id": JANE, "@removed": {"reason": "deleted"}}], items


@page("delta-query-users", "restored-user-without-annotation")
def test_users_restored(graph, doc_page):
    expect(graph.delete(f"/users/{JANE}", headers=auth()), 204)
    _, link = run_round(graph, "/users/delta")
    expect(graph.post(f"/directory/deletedItems/{JANE}/restore", headers=auth()), 200)
    items, _ = run_round(graph, link)
    assert [i["id"] for i in items] == [JANE]
    assert "@removed" not in items[0] and items[0]["displayName"] == "Testuser2"


@page("user-delta", "filter-by-object-ids")
def test_users_filter_ids(graph, doc_page):
    flt = f"id eq '{JOHN}' or id eq '{JANE}'"
    items, link = run_round(graph, "/users/delta", {"$filter": flt})
    assert set(by_id(items)) == {JOHN, JANE}
    expect(graph.patch(f"/users/{ADELE}", headers=auth(), json={"jobTitle": "Buyer"}), 204)
    expect(graph.patch(f"/users/{JOHN}", headers=auth(), json={"jobTitle": "Buyer"}), 204)
    items, _ = run_round(graph, link)
    assert [i["id"] for i in items] == [JOHN]           # the filter is carried in the link


@page("delta-query-overview", "deltatoken-latest-returns-link-and-no-data")
def test_users_latest(graph, doc_page):
    body = expect(graph.get("/users/delta", params={"$deltatoken": "latest"}, headers=auth()),
                  200)
    assert body["value"] == [] and "@odata.deltaLink" in body
    expect(graph.patch(f"/users/{ADELE}", headers=auth(), json={"jobTitle": "Buyer"}), 204)
    items, _ = run_round(graph, body["@odata.deltaLink"])
    assert [i["id"] for i in items] == [ADELE]


# -- groups/delta -------------------------------------------------------------------------
@page("group-delta", "no-select-includes-members-delta")
def test_groups_default_members(graph, doc_page):
    items, _ = run_round(graph, "/groups/delta")
    assert {m["id"] for m in members_of(items, ALL_COMPANY)} == {PAT, MEGHAN}
    for member in members_of(items, ALL_COMPANY):
        assert member["@odata.type"] == "#microsoft.graph.user"


@page("delta-query-groups", "select-members-initial-round")
def test_groups_select_members(graph, doc_page):
    first = expect(graph.get("/groups/delta", params=MEMBERS, headers=auth()), 200)
    assert first["@odata.context"].split("#")[-1].startswith("groups")
    items, _ = run_round(graph, "/groups/delta", MEMBERS)
    groups = by_id(items)
    assert groups[ALL_COMPANY][0]["displayName"] == "All Company"
    assert groups[ALL_COMPANY][0]["description"] == \
        "This is the default group for everyone in the network"
    assert sorted(m["id"] for m in members_of(items, ALL_COMPANY)) == sorted([PAT, MEGHAN])
    assert all(m == {"@odata.type": "#microsoft.graph.user", "id": m["id"]}
               for m in members_of(items, ALL_COMPANY))      # only the id of related objects
    # "sg-HR does not contain that property because the group does not have any members."
    assert all("members@delta" not in g for g in groups[SG_HR])


@page("group-delta", "select-without-members-has-no-members-delta")
def test_groups_select_properties_only(graph, doc_page):
    items, _ = run_round(graph, "/groups/delta",
                         {"$select": "displayName,description,mailNickname"})
    assert items and all("members@delta" not in g for g in items)
    for group in items:
        assert set(group) <= {"id", "displayName", "description", "mailNickname"}, group


@page("delta-query-groups", "member-added-and-removed-in-next-round")
def test_groups_membership_changes(graph, doc_page):
    _, link = run_round(graph, "/groups/delta", MEMBERS)
    expect(graph.post(f"/groups/{ALL_COMPANY}/members/$ref", headers=auth(), json=ref(JOHN)),
           204)
    expect(graph.delete(f"/groups/{ALL_COMPANY}/members/{PAT}/$ref", headers=auth()), 204)
    items, _ = run_round(graph, link)
    delta = {m["id"]: m for m in members_of(items, ALL_COMPANY)}
    assert set(delta) == {JOHN, PAT}, items
    assert "@removed" not in delta[JOHN]                 # "The second user has been added"
    assert delta[PAT]["@removed"] == {"reason": "deleted"}


@page("delta-query-groups", "member-change-returns-selected-properties-too")
def test_groups_membership_change_properties(graph, doc_page):
    # "The objects are returned with the same set of properties originally specified via the
    # $select query parameter. Both changed and unchanged properties are included." (the page's
    # deltaLink response shows displayName and description next to members@delta).
    _, link = run_round(graph, "/groups/delta", MEMBERS)
    expect(graph.post(f"/groups/{SG_HR}/members/$ref", headers=auth(), json=ref(JOHN)), 204)
    items, _ = run_round(graph, link)
    group = by_id(items)[SG_HR][0]
    assert group.get("displayName") == "sg-HR", group
    assert group.get("description") == "All HR personnel", group


@page("delta-query-groups", "soft-deleted-member-kept-until-permanent-delete")
def test_groups_soft_deleted_member(graph, doc_page):
    _, link = run_round(graph, "/groups/delta", MEMBERS)
    expect(graph.delete(f"/users/{PAT}", headers=auth()), 204)
    items, link = run_round(graph, link)
    # "Users that have been temporary deleted keep their group memberships and won't appear in
    # the delta result until they're permanently deleted."
    assert members_of(items, ALL_COMPANY) == [], items
    expect(graph.delete(f"/directory/deletedItems/{PAT}", headers=auth()), 204)
    items, _ = run_round(graph, link)
    assert members_of(items, ALL_COMPANY) == [
        {"@odata.type": "#microsoft.graph.user", "id": PAT, "@removed": {"reason": "deleted"}}]


@page("group-delta", "filter-by-object-ids")
def test_groups_filter_ids(graph, doc_page):
    flt = f"id eq '{ALL_COMPANY}' or id eq '{SG_HR}'"
    items, _ = run_round(graph, "/groups/delta", {**MEMBERS, "$filter": flt})
    assert set(by_id(items)) == {ALL_COMPANY, SG_HR}
    assert ALL_USERS not in by_id(items)


@page("group-delta", "filter-over-50-ids-refused")
def test_groups_filter_limit(graph, doc_page):
    """group-delta: "There is a limit of 50 filtered objects." The page does not say how Graph
    answers a 51st; the emulator refuses it with a 400 (stricter than a silent truncation), so
    a client that sends more learns it at once."""
    ids = [f"00000000-0000-4000-8000-{n:012d}" for n in range(51)]
    flt = " or ".join(f"id eq '{i}'" for i in ids)
    error_of(graph.get("/groups/delta", params={"$filter": flt}, headers=auth()), 400)
    fifty = " or ".join(f"id eq '{i}'" for i in ids[:49] + [ALL_COMPANY])
    items, _ = run_round(graph, "/groups/delta", {"$filter": fifty})
    assert set(by_id(items)) == {ALL_COMPANY}


# -- expired delta links ------------------------------------------------------------------
def _expired(graph: httpx.Client, emu, resource: str) -> None:
    _, link = run_round(graph, f"/{resource}/delta")
    resp = httpx.post(f"{emu.base}/_emulator/expire-delta-tokens", timeout=30)
    assert resp.status_code == 200, resp.text
    gone = graph.get(link, headers=auth())
    # delta-query-overview "Token duration": an expired token answers with a code such as
    # syncStateNotFound; "Synchronization reset": 410 Gone with a Location header holding the
    # initial request (an empty $deltaToken) to restart a full synchronization.
    err = error_of(gone, 410)
    assert err["code"] in {"syncStateNotFound", "resyncRequired"}, err
    location = gone.headers.get("location")
    assert location, dict(gone.headers)
    parts = urlsplit(location)
    assert parts.path.endswith(f"/{resource}/delta"), location
    token = {k.lower(): v for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
    assert token.get("$deltatoken", [""]) == [""] and "$skiptoken" not in token, location
    items, _ = run_round(graph, location)               # restarting gives the full state
    assert items


@page("delta-query-overview", "410-expired-users-deltalink-with-location")
def test_users_expired_link(graph, emu, doc_page):
    _expired(graph, emu, "users")


@page("delta-query-overview", "410-expired-groups-deltalink-with-location")
def test_groups_expired_link(graph, emu, doc_page):
    _expired(graph, emu, "groups")
