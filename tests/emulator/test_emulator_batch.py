"""JSON batching: limits, per-item results, dependsOn and 424, whole-batch 429.

Held to Microsoft's json-batching, throttling ("Throttling and batching") and throttling-limits
pages.
"""

from __future__ import annotations

import json

import httpx

from tenantsync.emulator.protocol import GraphRequest
from tenantsync.emulator.server import EmulatorServer

from .conftest import graph_client, run
from .emulator_world import CONTOSO, CONTOSO_TOKEN, EXT, FABRIKAM_TOKEN, _uid, build_fixture

JSON = {"Content-Type": "application/json"}


def test_batch_of_20_with_mixed_results_and_failed_dependency(emu, http):
    c = http(FABRIKAM_TOKEN)
    requests = [{"id": str(n), "method": "PATCH", "url": f"/users/{_uid(0xFA, n)}",
                 "headers": JSON, "body": {EXT: f"anchor-{n}", "jobTitle": "Synced"}}
                for n in range(1, 16)]
    requests += [
        {"id": "16", "method": "GET", "url": "/users/00000000-dead-4000-8000-000000000000"},
        {"id": "17", "method": "PATCH", "url": "/users/00000000-dead-4000-8000-000000000000",
         "headers": JSON, "body": {"jobTitle": "x"}, "dependsOn": ["16"]},
        {"id": "18", "method": "GET", "url": f"users/{_uid(0xFA, 1)}?$select=id,{EXT}",
         "dependsOn": ["1"]},
        {"id": "19", "method": "PATCH", "url": f"/users/{_uid(0xFA, 2)}",
         "body": {"jobTitle": "no content type"}},
        {"id": "20", "method": "PATCH", "url": f"/users/{_uid(0xFA, 3)}", "headers": JSON,
         "body": {"notAProperty": 1}},
    ]
    r = c.post("/$batch", json={"requests": requests})
    assert r.status_code == 200
    out = {item["id"]: item for item in r.json()["responses"]}
    assert len(out) == 20
    assert [out[str(n)]["status"] for n in range(1, 16)] == [204] * 15
    assert out["16"]["status"] == 404
    assert out["16"]["body"]["error"]["code"] == "Request_ResourceNotFound"
    assert out["17"]["status"] == 424
    assert out["17"]["body"]["error"]["code"] == "FailedDependency"
    assert out["18"]["status"] == 200 and out["18"]["body"][EXT] == "anchor-1"
    assert out["19"]["status"] == 400
    assert out["20"]["status"] == 400
    assert all("request-id" in item["headers"] for item in out.values())
    assert out["1"]["headers"]["x-ms-resource-unit"] == "1"
    stats = emu.stats()
    assert stats["total_requests"] == 1 and stats["batch_items"] == 20
    assert stats["writes"] == 15 and stats["by_route"]["PATCH /users/{id}"] == 18


def test_batch_through_the_sdk_raw_workaround(emu):
    """msgraph-core's BatchRequestContent serialises; the reply is read raw (docs/graph-sdk-notes.md#batch-replies)."""
    from msgraph_core.requests.batch_request_content import BatchRequestContent
    from msgraph_core.requests.batch_request_item import BatchRequestItem

    async def body():
        client = graph_client(emu.url, CONTOSO_TOKEN)
        batch = BatchRequestContent()
        for n in (1, 2, 3):
            info = client.users.by_user_id(_uid(0xC0, n)).to_get_request_information()
            item = BatchRequestItem(request_information=info)
            batch.add_request(item.id, item)
        info = await client.batch.to_post_request_information(batch)
        raw = await client.request_adapter.send_primitive_async(info, "bytes", {})
        return json.loads(raw)["responses"]

    responses = run(body)
    assert sorted(r["body"]["displayName"] for r in responses) == \
        ["Contoso User 1", "Contoso User 2", "Contoso User 3"]
    assert {r["status"] for r in responses} == {200}


def test_batch_envelope_errors(emu, http):
    c = http()
    item = {"method": "GET", "url": "/users"}
    r = c.post("/$batch", json={"requests": [{"id": str(n), **item} for n in range(21)]})
    assert r.status_code == 400 and "20" in r.json()["error"]["message"]
    r = c.post("/$batch", json={"requests": [{"id": "1", **item}, {"id": "1", **item}]})
    assert r.status_code == 400 and "unique" in r.json()["error"]["message"]
    r = c.post("/$batch", json={"requests": [{"id": "1", "method": "GET",
                                              "url": "https://graph.microsoft.com/v1.0/users"}]})
    assert r.status_code == 400
    r = c.post("/$batch", json={"requests": [{"id": "1", "dependsOn": ["9"], **item}]})
    assert r.status_code == 400
    r = c.post("/$batch", content=b"not json", headers=JSON)
    assert r.status_code == 400
    r = http("wrong").post("/$batch", json={"requests": [{"id": "1", **item}]})
    assert r.status_code == 401


def test_batch_items_use_the_batch_token_and_keep_creation_order(emu, http):
    c = http()
    requests = [{"id": "a", "method": "POST", "url": "/users", "headers": JSON, "body": {
        "accountEnabled": True, "displayName": "Batch made", "mailNickname": "bm",
        "userPrincipalName": "bm@contoso.com", "passwordProfile": {"password": "p"}}},
        {"id": "b", "method": "GET", "url": "/users/bm@contoso.com?$select=displayName",
         "dependsOn": ["a"]}]
    out = {i["id"]: i for i in c.post("/$batch", json={"requests": requests}).json()["responses"]}
    assert out["a"]["status"] == 201
    assert out["b"]["body"]["displayName"] == "Batch made"


def test_throttled_items_and_a_throttled_batch():
    """Items are evaluated individually: a throttled item answers 429, its dependents 424, the
    batch itself 200 (throttling: "The batch itself succeeds with a status code of 200 (OK)").
    The $batch request itself counts against the app's global request rate (throttling-limits:
    2000 requests per second per app); past it the whole batch answers 429 and no item runs."""
    u1 = _uid(0xC0, 1)
    with EmulatorServer(build_fixture(), throttle="graph", time_scale=0.00001) as srv:
        emulator = srv.emulator
        probe = GraphRequest(method="GET", path="/organization", query={},
                             headers={"authorization": f"Bearer {CONTOSO_TOKEN}"})
        assert emulator.handle(probe).status == 200
        throttle, users = emulator.throttle, len(emulator.directory.tenant(CONTOSO).users)
        for _ in range(2999):                              # the app+tenant write quota: 3,000
            assert throttle.check(probe.app_id, CONTOSO, users, 1, 1).allowed
        requests = [
            {"id": "w1", "method": "PATCH", "url": f"/users/{u1}", "headers": JSON,
             "body": {"jobTitle": "first"}},
            {"id": "w2", "method": "PATCH", "url": f"/users/{u1}", "headers": JSON,
             "body": {"jobTitle": "second"}, "dependsOn": ["w1"]},
            {"id": "w3", "method": "PATCH", "url": f"/users/{u1}", "headers": JSON,
             "body": {"jobTitle": "third"}, "dependsOn": ["w2"]},
            {"id": "r1", "method": "GET", "url": f"/users/{u1}?$select=jobTitle",
             "dependsOn": ["w3"]}]
        with httpx.Client(base_url=srv.url, timeout=30,
                          headers={"Authorization": f"Bearer {CONTOSO_TOKEN}"}) as c:
            r = c.post("/$batch", json={"requests": requests})
            assert r.status_code == 200
            out = {i["id"]: i for i in r.json()["responses"]}
            assert [out[k]["status"] for k in ("w1", "w2", "w3", "r1")] == [204, 429, 424, 424]
            assert int(out["w2"]["headers"]["Retry-After"]) >= 1
            assert out["w2"]["body"]["error"]["code"] == "TooManyRequests"
            assert out["w3"]["body"]["error"]["code"] == "FailedDependency"

            while throttle.check(probe.app_id, CONTOSO, users, 0, 0, requests=1).allowed:
                pass                                       # 2,000 requests spent
            r = c.post("/$batch", json={"requests": [
                {"id": "1", "method": "PATCH", "url": f"/users/{u1}", "headers": JSON,
                 "body": {"department": "never"}}]})
            assert r.status_code == 429
            assert int(r.headers["Retry-After"]) >= 1
            assert r.headers["x-ms-throttle-scope"].startswith("Application/")
            assert r.json()["error"]["code"] == "TooManyRequests"
            assert "responses" not in r.json()
        user = [u for u in srv.dump(CONTOSO)["users"] if u["id"] == u1][0]
        assert user["jobTitle"] == "first" and user.get("department") != "never"
        assert srv.stats()["throttled"] >= 2
