"""Reads through the real msgraph-sdk: paging, $filter, $count, auth errors, path tolerance."""

from __future__ import annotations

import pytest
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.users.users_request_builder import UsersRequestBuilder

from .conftest import get_raw, graph_client, run
from .emulator_world import CONTOSO_TOKEN, EXT, FABRIKAM_TOKEN, FABRIKAM_USERS, NORTHWIND_TOKEN

Params = UsersRequestBuilder.UsersRequestBuilderGetQueryParameters


def test_paging_2500_users_at_top_999(emu):
    async def body():
        client = graph_client(emu.url, FABRIKAM_TOKEN)
        cfg = RequestConfiguration(query_parameters=Params(top=999, select=["id", "displayName"]))
        page = await get_raw(client, client.users, cfg)
        sizes, ids = [], []
        while True:
            sizes.append(len(page["value"]))
            ids += [u["id"] for u in page["value"]]
            assert set(page["value"][0]) == {"id", "displayName"}
            link = page.get("@odata.nextLink")
            if not link:
                break
            assert "$skiptoken=" in link and "$select=id,displayName" in link
            page = await get_raw(client, client.users.with_url(link))
        return sizes, ids

    sizes, ids = run(body)
    assert sizes == [999, 999, FABRIKAM_USERS - 2 * 999]
    assert len(set(ids)) == FABRIKAM_USERS


def test_paging_cursor_survives_deletes_between_pages(emu, http):
    c = http(FABRIKAM_TOKEN)
    first = c.get("/users", params={"$top": "10", "$select": "id"}).json()
    served = [u["id"] for u in first["value"]]
    c.delete(f"/users/{served[3]}")                  # an already-served user goes away
    second = c.get(first["@odata.nextLink"]).json()
    assert [u["id"] for u in second["value"]][0] not in served
    assert len(second["value"]) == 10


def test_filter_guests_pending_acceptance_typed(emu, sdk_warm):
    async def body():
        client = graph_client(emu.url, CONTOSO_TOKEN)
        cfg = RequestConfiguration(query_parameters=Params(
            filter="userType eq 'Guest' and externalUserState eq 'PendingAcceptance'",
            select=["id", "displayName", "userPrincipalName", "externalUserState",
                    "createdDateTime"]))
        return await client.users.get(request_configuration=cfg)

    page = run(body)
    assert [u.display_name for u in page.value] == ["Pending Guest"]
    assert page.value[0].external_user_state == "PendingAcceptance"
    assert page.value[0].user_principal_name.endswith("#EXT#@contoso.onmicrosoft.com")


@pytest.mark.parametrize("flt,expected", [
    (f"{EXT} eq 'a/b'", ["Accepted Guest"]),
    ("id in ('000000c0-0000-4000-8000-000000000001','000000c0-0000-4000-8000-000000000003')",
     ["Contoso User 1", "Contoso User 3"]),
    ("mail eq 'USER2@contoso.com'", ["Contoso User 2"]),        # case-insensitive like Entra
    ("startswith(displayName,'contoso user') and jobTitle eq 'Manager'",
     ["Contoso User 2", "Contoso User 4"]),
    ("(department eq 'Sales' or department eq 'R&D') and accountEnabled eq true "
     "and userType eq 'Member'", [f"Contoso User {n}" for n in range(1, 6)]),
    ("externalUserState eq null and userType eq 'Guest'", []),
    ("displayName eq 'O''Brien'", []),
])
def test_filter_expressions(emu, http, flt, expected):
    r = http().get("/users", params={"$filter": flt, "$select": "displayName"})
    assert r.status_code == 200, r.text
    assert [u["displayName"] for u in r.json()["value"]] == expected


def test_advanced_queries_need_consistency_level(emu, http):
    c = http()
    r = c.get("/users", params={"$filter": "userType ne 'Guest'"})
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "Request_UnsupportedQuery"
    r = c.get("/users", params={"$count": "true"})
    assert r.status_code == 400
    r = c.get("/users", params={"$filter": "userType ne 'Guest'", "$count": "true",
                                "$select": "id"}, headers={"ConsistencyLevel": "eventual"})
    assert r.status_code == 200
    assert r.json()["@odata.count"] == 5 == len(r.json()["value"])
    r = c.get("/users/$count", headers={"ConsistencyLevel": "eventual"})
    assert r.text == "7"


def test_count_typed_with_consistency_header(emu, sdk_warm):
    async def body():
        client = graph_client(emu.url, FABRIKAM_TOKEN)
        cfg = RequestConfiguration(query_parameters=Params(
            count=True, top=5, select=["id"], filter="accountEnabled eq false"))
        cfg.headers.add("ConsistencyLevel", "eventual")
        return await client.users.get(request_configuration=cfg)

    page = run(body)
    assert page.odata_count == FABRIKAM_USERS // 10
    assert len(page.value) == 5 and page.odata_next_link


def test_unsupported_options_are_refused_not_ignored(emu, http):
    for params in ({"$expand": "memberOf"}, {"$skip": "5"}, {"$search": '"displayName:a"'}):
        r = http().get("/users", params=params)
        assert r.status_code == 400 and r.json()["error"]["code"] == "Request_UnsupportedQuery"


def test_top_over_999_is_refused(emu, http):
    r = http().get("/users", params={"$top": "1000"})
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["code"] == "Request_UnsupportedQuery"
    assert "between 1 and 999" in err["message"]
    assert set(err["innerError"]) >= {"date", "request-id"}


def test_default_and_selected_property_sets(emu, http):
    c = http()
    user = c.get("/users/user1@contoso.com").json()
    assert list(user) == ["@odata.context", "businessPhones", "displayName", "givenName",
                          "jobTitle", "mail", "mobilePhone", "officeLocation",
                          "preferredLanguage", "surname", "userPrincipalName", "id"]
    sel = c.get("/users/user1@contoso.com",
                params={"$select": "department,city,otherMails"}).json()
    assert {k: v for k, v in sel.items() if k != "@odata.context"} == \
        {"department": "Sales", "city": None, "otherMails": []}
    r = c.get("/users/user1@contoso.com", params={"$select": "smsSignInState"})
    assert r.status_code == 400                       # fixture-only, never a user property


def test_wrong_token_is_401(emu, sdk_warm):
    async def body():
        client = graph_client(emu.url, "not-a-known-token")
        with pytest.raises(ODataError) as info:
            await client.users.get()
        return info.value

    err = run(body)
    assert err.response_status_code == 401
    assert err.error.code == "InvalidAuthenticationToken"


def test_missing_token_and_error_headers(emu, http):
    r = http(None).get("/users", headers={"client-request-id": "abc-123"})
    assert r.status_code == 401
    assert r.headers["client-request-id"] == "abc-123"
    assert r.headers["request-id"] == r.json()["error"]["innerError"]["request-id"]


def test_tokens_select_their_tenant(emu, http):
    assert http(NORTHWIND_TOKEN).get("/users").json()["value"][0]["displayName"] == "Ann"
    assert http(CONTOSO_TOKEN).get("/organization").json()["value"][0]["displayName"] == \
        "Contoso HQ"


def test_double_slash_from_trailing_slash_base_url(emu, sdk_warm):
    async def body():
        client = graph_client(emu.url + "/", NORTHWIND_TOKEN)     # -> /v1.0//users
        return await client.users.get()

    assert [u.display_name for u in run(body).value] == ["Ann"]
