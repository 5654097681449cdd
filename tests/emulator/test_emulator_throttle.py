"""The 'graph' throttling profile: costs, buckets, time scaling, 429s inside $batch."""

from __future__ import annotations

import pytest

from tenantsync.emulator.server import EmulatorServer
from tenantsync.emulator.throttle import Throttle, request_cost, size_limit

from .emulator_world import CONTOSO, CONTOSO_TOKEN, CONTOSO_TOKEN_2, EXT, build_fixture, contoso_users

JSON = {"Content-Type": "application/json"}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("method,template,query,cost", [
    ("GET", "/users", {}, (2, 0)),
    ("GET", "/users", {"$select": "id"}, (1, 0)),
    ("GET", "/users/{id}", {"$select": "id", "$top": "5"}, (1, 0)),
    ("GET", "/groups/{id}/members", {}, (3, 0)),
    ("GET", "/groups", {"$expand": "members"}, (2, 0)),
    ("GET", "/domains", {}, (1, 0)),
    ("PATCH", "/users/{id}", {}, (1, 1)),
    ("POST", "/invitations", {}, (1, 1)),
    ("POST", "/directoryObjects/getByIds", {}, (3, 0)),
    ("POST", "/$batch", {}, (0, 0)),
])
def test_request_costs(method, template, query, cost):
    assert request_cost(method, template, query) == cost


def test_size_classes():
    assert [size_limit(n) for n in (0, 49, 50, 500, 501)] == [3500, 3500, 5000, 5000, 8000]


def test_write_quota_window_is_divided_by_time_scale():
    clock = Clock()
    throttle = Throttle("graph", time_scale=60, clock=clock)
    for _ in range(3000):
        assert throttle.check("app", "t", 10, 1, 1).allowed
    verdict = throttle.check("app", "t", 10, 1, 1)
    assert not verdict.allowed
    assert verdict.information == "WriteLimitExceeded" and verdict.retry_after == 1
    assert verdict.headers["x-ms-throttle-scope"] == "Tenant_Application/Write/app/t"
    assert throttle.check("other-app", "t", 10, 1, 1).allowed     # per app+tenant
    clock.now += 2.5                                   # 150 s / 60: the window has refilled
    assert all(throttle.check("app", "t", 10, 1, 1).allowed for _ in range(2999))


def test_resource_units_and_retry_after_unscaled():
    clock = Clock()
    throttle = Throttle("graph", clock=clock)
    for _ in range(1750):
        assert throttle.check("app", "t", 10, 2, 0).allowed     # 3,500 RU of a small tenant
    verdict = throttle.check("app", "t", 10, 2, 0)
    assert not verdict.allowed and verdict.information == "ResourceUnitLimitExceeded"
    assert verdict.retry_after == 1                           # 2 RU at 350 RU/s
    assert verdict.headers["x-ms-throttle-scope"].startswith("Tenant_Application/ReadWrite/")
    clock.now += 1.0
    ok = throttle.check("app", "t", 10, 2, 0)
    assert ok.allowed and ok.headers["x-ms-throttle-limit-percentage"] == "0.9"
    assert throttle.check("app", "t", 600, 2, 0).allowed      # tenant grew: L budget


def test_global_request_rate_per_app_across_tenants():
    """throttling-limits: "Any" request, "2000 requests per second" per app across all tenants;
    only HTTP requests count (requests=1), $batch items do not."""
    clock = Clock()
    throttle = Throttle("graph", clock=clock)
    for n in range(2000):
        assert throttle.check("app", f"t{n % 3}", 10, 0, 0, requests=1).allowed
    verdict = throttle.check("app", "t9", 10, 0, 0, requests=1)
    assert not verdict.allowed and verdict.retry_after == 1
    assert verdict.headers["x-ms-throttle-scope"] == "Application/ReadWrite/app/t9"
    assert throttle.check("app", "t9", 10, 1, 0).allowed          # a $batch item: not counted
    assert throttle.check("other", "t9", 10, 0, 0, requests=1).allowed
    clock.now += 0.001                                             # 2 requests earned
    assert throttle.check("app", "t9", 10, 0, 0, requests=1).allowed


def test_tenant_write_quota_spans_apps():
    clock = Clock()
    throttle = Throttle("graph", clock=clock)
    for app in range(6):
        for _ in range(3000):
            assert throttle.check(f"app{app}", "t", 10_000, 1, 1).allowed
    verdict = throttle.check("app9", "t", 10_000, 1, 1)
    assert not verdict.allowed
    assert verdict.headers["x-ms-throttle-scope"].startswith("Tenant/Write/")


def test_write_quota_exceeded_through_batch_items():
    """3,000 writes per app+tenant, then 429 per item; time_scale 0.001 keeps the window shut."""
    fixture = build_fixture()
    with EmulatorServer(fixture, throttle="graph", time_scale=0.001) as srv:
        import httpx
        users = [u["id"] for u in contoso_users()]
        statuses: list[int] = []
        throttled: list[dict] = []
        with httpx.Client(base_url=srv.url, timeout=30,
                          headers={"Authorization": f"Bearer {CONTOSO_TOKEN}"}) as c:
            for b in range(151):
                requests = [{"id": str(i), "method": "PATCH", "url": f"/users/{users[i % 7]}",
                             "headers": JSON, "body": {EXT: f"{b}-{i}"}} for i in range(20)]
                r = c.post("/$batch", json={"requests": requests})
                assert r.status_code == 200
                for item in r.json()["responses"]:
                    statuses.append(item["status"])
                    if item["status"] == 429:
                        throttled.append(item)
            r = c.get("/users", params={"$select": "id"})
            assert r.status_code == 200 and r.headers["x-ms-resource-unit"] == "1"
        assert statuses.count(204) == 3000 and statuses.count(429) == 20
        headers = throttled[0]["headers"]
        assert headers["x-ms-throttle-information"] == "WriteLimitExceeded"
        assert headers["x-ms-throttle-scope"].startswith("Tenant_Application/Write/")
        assert int(headers["Retry-After"]) >= 1
        assert throttled[0]["body"]["error"]["code"] == "TooManyRequests"
        # another app of the same tenant has its own app+tenant write budget
        with httpx.Client(base_url=srv.url, headers={
                "Authorization": f"Bearer {CONTOSO_TOKEN_2}"}) as c2:
            r = c2.patch(f"/users/{users[0]}", json={"jobTitle": "x"})
            assert r.status_code == 204
        stats = srv.stats()
        assert stats["throttled"] == 20 and stats["429"] == 20 and stats["writes"] == 3001
        assert CONTOSO in srv.dump(CONTOSO)["tenant"]["id"]
