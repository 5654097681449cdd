"""GraphApi against the project's Graph emulator, through the real msgraph-sdk stack."""

from __future__ import annotations

import time
import uuid

import pytest

from tenantsync.emulator.server import EmulatorServer
from tenantsync.errors import DryRunViolation, ErrorKind, GraphError
from tenantsync.graph import GraphApi, RetryPolicy

TENANT = "33333333-3333-4333-8333-333333333333"
TOKEN = "graph-test-token-7f3a9c"
GROUP = "44444444-4444-4444-8444-444444444444"
N_USERS = 2500


def uid(n: int) -> str:
    return str(uuid.UUID(int=n + 1))


def fixture() -> dict:
    users = [{"id": uid(i), "userPrincipalName": f"user{i}@contoso.com",
              "mail": f"user{i}@contoso.com",
              "displayName": f"User {i:04d}", "givenName": "User", "surname": f"{i:04d}",
              "userType": "Member", "accountEnabled": True, "department": "Sales"}
             for i in range(N_USERS)]
    return {"tenants": [{
        "id": TENANT, "displayName": "Contoso Test", "defaultDomain": "contosotest.onmicrosoft.com",
        "domains": [{"id": "contoso.com", "isVerified": True}], "tokens": [TOKEN],
        "users": users,
        "groups": [{"id": GROUP, "displayName": "Sync", "members": [uid(i) for i in range(30)]}]}]}


@pytest.fixture(scope="module")
def emulator():
    with EmulatorServer(fixture()) as server:
        yield server


@pytest.fixture
def api(emulator, monkeypatch):
    emulator.reset(fixture())
    emulator.set_faults(None)
    monkeypatch.setenv("GRAPH_TEST_TOKEN", TOKEN)
    made: list[GraphApi] = []

    def make(**kw) -> GraphApi:
        conn = {"name": "test", "tenant_id": TENANT, "graph_url": emulator.url,
                "auth": {"kind": "static_token", "token_env": "GRAPH_TEST_TOKEN"}}
        made.append(GraphApi(conn, **kw))
        return made[-1]

    yield make
    for a in made:
        a.close()


def test_2500_users_come_in_three_pages_of_at_most_999(api):
    pages = list(api().iter_pages("users", select=["id", "displayName"]))
    assert [len(p) for p in pages] == [999, 999, 502]
    ids = [u["id"] for p in pages for u in p]
    assert len(set(ids)) == N_USERS
    assert set(pages[0][0]) <= {"id", "displayName", "@odata.type"}


def test_filter_and_count_pass_through_the_sdk_builders(api):
    pages = list(api().iter_pages("users", select=["id"], filter="displayName eq 'User 0007'",
                                  count=True))
    assert [u["id"] for p in pages for u in p] == [uid(7)]


def test_delta_round_then_a_later_round_returns_only_the_changes(api, emulator):
    graph = api()
    first = graph.delta("users", select=["id", "displayName", "department"])
    pages = list(first.pages())
    assert sum(len(p) for p in pages) == N_USERS and len(pages) == 3
    assert first.delta_link and "deltatoken" in first.delta_link.lower()

    graph.request("PATCH", f"/users/{uid(5)}", {"department": "Legal"})
    graph.request("DELETE", f"/users/{uid(6)}")
    later = graph.delta("users", link=first.delta_link)
    changes = {u["id"]: u for p in later.pages() for u in p}
    assert changes[uid(5)]["department"] == "Legal"
    assert changes[uid(6)]["@removed"] == {"reason": "changed"}
    assert len(changes) == 2 and later.delta_link != first.delta_link

    quiet = graph.delta("users", link=later.delta_link)
    assert [u for p in quiet.pages() for u in p] == [] and quiet.delta_link


def test_group_delta_with_members_and_group_members(api):
    graph = api()
    round_ = graph.delta("groups", select=["id", "displayName"], members=True)
    groups = [g for p in round_.pages() for g in p]
    assert groups[0]["id"] == GROUP and len(groups[0]["members@delta"]) == 30
    members = graph.group_members(GROUP, select=["id"])
    assert {m["id"] for m in members} == {uid(i) for i in range(30)}


def test_batch_of_45_mixed_requests_answers_in_input_order(api, emulator):
    graph = api()
    requests, expected = [], []
    for i in range(45):
        kind = i % 3
        if kind == 0:
            requests.append({"method": "GET", "url": f"/users/{uid(i)}?$select=id,displayName"})
            expected.append(200)
        elif kind == 1:
            requests.append({"method": "PATCH", "url": f"/users/{uid(i)}",
                             "body": {"jobTitle": f"Title {i}"}})
            expected.append(204)
        else:
            requests.append({"method": "GET", "url": f"/users/{uuid.UUID(int=10**9 + i)}"})
            expected.append(404)
    results = graph.batch(requests)
    assert [r["status"] for r in results] == expected
    for i in range(0, 45, 3):
        assert results[i]["body"]["id"] == uid(i)
    assert results[2]["body"]["error"]["code"] == "Request_ResourceNotFound"
    assert emulator.stats()["by_route"]["POST /$batch"] == 3
    assert graph.get_json(f"/users/{uid(1)}", {"$select": "jobTitle"})["jobTitle"] == "Title 1"


def test_injected_429s_are_retried_after_retry_after(api, emulator):
    graph = api(retry_policy=RetryPolicy(max_retries=8, base_delay=0.05))
    emulator.set_faults("rate=0.25,codes=429,seed=3")
    started = time.monotonic()
    pages = list(graph.iter_pages("users", select=["id"]))
    results = graph.batch([{"method": "PATCH", "url": f"/users/{uid(i)}", "body": {"city": "Oslo"}}
                           for i in range(10)])
    assert sum(len(p) for p in pages) == N_USERS
    assert [r["status"] for r in results] == [204] * 10
    assert graph.stats.throttled > 0 and graph.stats.retries >= graph.stats.throttled
    assert time.monotonic() - started >= 1.0          # the emulator's Retry-After: 1


def test_transient_5xx_and_dropped_connections_are_retried(api, emulator):
    graph = api(retry_policy=RetryPolicy(max_retries=10, base_delay=0.02, max_delay=0.1))
    emulator.set_faults("rate=0.4,codes=502:504:drop,seed=11")
    assert sum(len(p) for p in graph.iter_pages("users", select=["id"])) == N_USERS
    assert graph.get_json("/organization")["value"][0]["id"] == TENANT


def test_wrong_token_is_an_auth_error_that_never_shows_the_token(api, monkeypatch):
    monkeypatch.setenv("GRAPH_TEST_TOKEN", "not-the-right-token-5e1f")
    graph = api()
    with pytest.raises(GraphError) as caught:
        graph.get_json("/organization")
    err = caught.value
    assert err.kind is ErrorKind.AUTH and err.status == 401 and err.stops_job
    assert "not-the-right-token" not in f"{err} {err.message} {err.code} {err.request_id}"
    assert graph.stats.requests == 1                  # never retried


def test_read_only_refuses_a_patch_and_sends_nothing(api, emulator):
    graph = api(read_only=True)
    before = emulator.stats()["total_requests"]
    with pytest.raises(DryRunViolation):
        graph.request("PATCH", f"/users/{uid(1)}", {"displayName": "Nope"})
    with pytest.raises(DryRunViolation):
        graph.batch([{"method": "GET", "url": f"/users/{uid(1)}"},
                     {"method": "PATCH", "url": f"/users/{uid(1)}", "body": {"city": "X"}}])
    assert emulator.stats()["total_requests"] == before
    assert graph.batch([{"method": "GET", "url": f"/users/{uid(1)}"}])[0]["status"] == 200


def test_not_found_and_bad_request_are_classified(api):
    graph = api()
    with pytest.raises(GraphError) as caught:
        graph.request("PATCH", f"/users/{uuid.UUID(int=10**9)}", {"city": "X"})
    assert caught.value.kind is ErrorKind.NOT_FOUND
    with pytest.raises(GraphError) as caught:
        list(graph.iter_pages("users", top=1000))
    assert caught.value.kind is ErrorKind.BAD_REQUEST


def test_typed_organization_through_the_sdk_models(api):
    org = api().get_organization()
    assert org.id == TENANT and org.display_name == "Contoso Test"
