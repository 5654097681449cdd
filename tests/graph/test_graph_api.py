"""GraphApi's own logic (retries, batching, dry run) against the in-memory fake at the HTTP
boundary (httpx.MockTransport), so each failure mode can be scripted exactly."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from tenantsync.errors import DryRunViolation, ErrorKind, GraphError
from tenantsync.graph import GraphApi

from .graph_fake import FAST, TOKEN, error


def test_pages_follow_next_links_and_send_the_query(fake, make_api):
    fake.users = {f"u{i:05d}": {"id": f"u{i:05d}", "version": 0} for i in range(2500)}
    pages = list(make_api().iter_pages("users", select=["id", "displayName"],
                                       filter="accountEnabled eq true"))
    assert [len(p) for p in pages] == [999, 999, 502]
    first = fake.log[0][1]
    assert first.startswith("/v1.0/users?") and "$top=999" in first
    assert "$select=id,displayName" in first and "$filter=accountEnabled%20eq%20true" in first


def test_a_throttled_read_waits_for_retry_after_then_succeeds(fake, make_api):
    fake.script("GET", "/organization",
                error(429, "TooManyRequests", headers={"Retry-After": "0.3"}),
                error(503, "serviceNotAvailable"))
    api = make_api()
    started = time.monotonic()
    assert api.get_json("/organization")["value"][0]["id"] == "tenant-1"
    assert time.monotonic() - started >= 0.3
    assert (api.stats.retries, api.stats.throttled, api.stats.requests) == (2, 1, 3)


def test_transient_failures_are_retried_a_bounded_number_of_times(fake, make_api):
    fake.script("GET", "/organization", *[error(503, "serviceNotAvailable")] * 10)
    api = make_api()
    with pytest.raises(GraphError) as caught:
        api.get_json("/organization")
    assert caught.value.kind is ErrorKind.TRANSIENT and caught.value.status == 503
    assert api.stats.requests == 1 + FAST.max_retries
    assert len(fake.log) == 1 + FAST.max_retries        # kiota's own RetryHandler is off


def test_a_retry_after_beyond_the_bound_is_raised_not_slept(fake, make_api):
    fake.script("GET", "/organization", error(429, "TooManyRequests",
                                              headers={"Retry-After": "3600"}))
    api = make_api()
    started = time.monotonic()
    with pytest.raises(GraphError) as caught:
        api.get_json("/organization")
    assert caught.value.retry_after == 3600 and time.monotonic() - started < 1


def test_a_throttled_batch_envelope_holds_every_write_for_its_retry_after(fake, make_api):
    # The app's request-rate budget (throttling-limits: 2,000 requests/s per app), as Graph names it.
    fake.script("POST", "/$batch", error(429, "TooManyRequests", headers={
        "Retry-After": "0.4", "x-ms-throttle-scope": "Application/ReadWrite/app/tenant",
        "x-ms-throttle-information": "RequestRateLimitExceeded"}))
    api = make_api()
    started = time.monotonic()
    results = api.batch([{"method": "PATCH", "url": f"/users/u{i:05d}", "body": {"city": "Z"}}
                         for i in range(30)])
    assert [r["status"] for r in results] == [204] * 30
    assert time.monotonic() - started >= 0.4
    assert api.limiter.state.throttle_events == 1 and api.stats.throttled == 1


def test_debug_logs_never_carry_the_token(fake, make_api, caplog):
    import logging
    caplog.set_level(logging.DEBUG, logger="tenantsync")   # flows/_logs.py sets it to INFO once flows are imported
    fake.script("GET", "/organization", error(503, "serviceNotAvailable"))
    api = make_api()
    api.get_json("/organization")
    api.batch([{"method": "PATCH", "url": "/users/u00001", "body": {"city": "L"}}])
    assert any("graph GET" in r.getMessage() for r in caplog.records)
    assert all(TOKEN not in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("status, code, kind", [
    (400, "Request_BadRequest", ErrorKind.BAD_REQUEST), (403, "Authorization_RequestDenied",
                                                         ErrorKind.FORBIDDEN),
    (404, "Request_ResourceNotFound", ErrorKind.NOT_FOUND), (409, "Conflict", ErrorKind.CONFLICT)])
def test_non_transient_failures_are_raised_at_once(fake, make_api, status, code, kind):
    fake.script("PATCH", "/users/u00001", error(status, code, "no"))
    api = make_api()
    with pytest.raises(GraphError) as caught:
        api.request("PATCH", "/users/u00001", {"displayName": "x"})
    assert (caught.value.status, caught.value.code, caught.value.kind) == (status, code, kind)
    assert api.stats.requests == 1 and api.stats.retries == 0


def test_wrong_token_is_an_auth_error_without_the_token(fake, make_api, monkeypatch):
    monkeypatch.setenv("FAKE_TOKEN", "wrong-secret-token-value")
    api = make_api()
    with pytest.raises(GraphError) as caught:
        list(api.iter_pages("users"))
    assert caught.value.kind is ErrorKind.AUTH and caught.value.status == 401
    assert "wrong-secret-token-value" not in str(caught.value) + repr(caught.value.__dict__)
    assert api.stats.requests == 1


def test_a_dropped_connection_is_retried_but_a_post_that_timed_out_is_not(fake, make_api):
    calls = {"n": 0}

    async def flaky(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] == 1:
            raise httpx.RemoteProtocolError("peer closed connection")
        if request.method == "POST":
            raise httpx.ReadTimeout("no answer")
        return await fake.handle(request)

    api = make_api(transport=httpx.MockTransport(flaky))
    assert api.get_json("/organization")["value"]
    with pytest.raises(GraphError) as caught:
        api.request("POST", "/invitations", {"invitedUserEmailAddress": "a@b.c"})
    assert caught.value.code == "timeout" and calls["n"] == 3     # sent once: may have applied


def test_batch_of_45_mixed_requests_returns_in_order_with_statuses(fake, make_api):
    api = make_api()
    reqs = []
    for i in range(45):
        if i % 3 == 0:
            reqs.append({"method": "GET", "url": f"/users/u{i:05d}"})
        elif i % 3 == 1:
            reqs.append({"method": "PATCH", "url": f"/users/u{i:05d}",
                         "body": {"displayName": f"n{i}"}})
        else:
            reqs.append({"method": "GET", "url": f"/users/missing{i}"})
    results = api.batch(reqs)
    assert len(results) == 45
    for i, res in enumerate(results):
        assert res["status"] == {0: 200, 1: 204, 2: 404}[i % 3]
        if i % 3 == 0:
            assert res["body"]["id"] == f"u{i:05d}"
        if i % 3 == 2:
            assert res["body"]["error"]["code"] == "Request_ResourceNotFound"
    assert sum(1 for m, p in fake.log if p == "/v1.0/$batch") == 3
    assert fake.users["u00001"]["displayName"] == "n1"
    assert api.stats.writes == 15


def test_batch_items_answered_429_are_retried_after_their_retry_after(fake, make_api):
    api = make_api()
    fake.item_faults.extend([(429, {"Retry-After": "0.2"}), (503, {}), (504, {})])
    started = time.monotonic()
    results = api.batch([{"method": "PATCH", "url": f"/users/u{i:05d}", "body": {"city": "X"}}
                         for i in range(5)])
    assert [r["status"] for r in results] == [204] * 5
    assert time.monotonic() - started >= 0.2
    assert api.stats.throttled == 1 and api.stats.retries == 3
    assert all(u["city"] == "X" for u in list(fake.users.values())[:5])


def test_batch_item_retries_are_bounded_and_the_last_answer_returned(fake, make_api):
    api = make_api()
    fake.item_faults.extend([(429, {"Retry-After": "0"})] * (FAST.max_retries + 1))
    results = api.batch([{"method": "PATCH", "url": "/users/u00001", "body": {"city": "Y"}}])
    assert results[0]["status"] == 429 and results[0]["body"]["error"]["code"] == "fault"


def test_a_whole_batch_failure_is_retried_or_raised(fake, make_api):
    api = make_api()
    fake.script("POST", "/$batch", error(503, "serviceNotAvailable"))
    assert api.batch([{"method": "GET", "url": "/users/u00001"}])[0]["status"] == 200
    fake.script("POST", "/$batch", error(403, "Authorization_RequestDenied"))
    with pytest.raises(GraphError) as caught:
        api.batch([{"method": "GET", "url": "/users/u00001"}])
    assert caught.value.kind is ErrorKind.FORBIDDEN


def test_read_only_refuses_writes_before_sending(fake, make_api):
    api = make_api(read_only=True)
    with pytest.raises(DryRunViolation):
        api.request("PATCH", "/users/u00001", {"displayName": "x"})
    with pytest.raises(DryRunViolation):
        api.batch([{"method": "GET", "url": "/users/u00001"},
                   {"method": "DELETE", "url": "/users/u00002"}])
    assert fake.log == []
    assert api.batch([{"method": "GET", "url": "/users/u00001"}])[0]["status"] == 200
    assert list(api.iter_pages("users"))


def test_read_only_also_guards_typed_sdk_calls(fake, make_api):
    from msgraph.generated.models.user import User
    api = make_api(read_only=True)
    with pytest.raises(DryRunViolation):
        api.typed(lambda c: c.users.by_user_id("u00001").patch(User(display_name="x")))
    assert not any(m == "PATCH" for m, _ in fake.log)


def test_typed_models_work_for_single_objects(make_api):
    org = make_api().get_organization()
    assert org.id == "tenant-1" and org.display_name == "Fake Org"


def test_delta_round_then_a_later_round_with_only_the_changes(fake, make_api):
    api = make_api()
    first = api.delta("users", select=["id", "displayName"])
    assert sum(len(p) for p in first.pages()) == 50 and first.delta_link
    assert "/users/delta()?" in fake.log[0][1] and "$select=id,displayName" in fake.log[0][1]
    api.request("PATCH", "/users/u00007", {"displayName": "Changed"})
    later = api.delta("users", link=first.delta_link)
    changed = [u for p in later.pages() for u in p]
    assert [u["id"] for u in changed] == ["u00007"] and later.delta_link != first.delta_link


def test_one_api_serves_many_threads(fake, make_api):
    api = make_api()
    out: list[int] = []

    def work() -> None:
        for _ in range(5):
            out.append(sum(len(p) for p in api.iter_pages("users", top=10)))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert out == [50] * 20


def test_close_stops_the_loop_and_refuses_further_calls(make_api):
    api = make_api()
    api.close()
    api.close()
    with pytest.raises(RuntimeError, match="closed"):
        api.get_json("/organization")


def test_pickles_as_a_recipe_without_the_block_secret(fake, make_api, monkeypatch):
    import pickle

    from pydantic import SecretStr
    api = make_api(read_only=True)
    api.connection.auth.secret = SecretStr("block-secret-value")
    data = pickle.dumps(api)
    assert b"block-secret-value" not in data and TOKEN.encode() not in data
    copy = pickle.loads(data)
    try:
        assert copy.read_only and copy.connection.name == "fake" and copy is not api
    finally:
        copy.close()


def test_a_bad_graph_url_is_a_config_error_and_leaves_no_thread(monkeypatch):
    import threading

    from tenantsync.errors import ConfigError
    monkeypatch.setenv("HQ_SECRET", "s")
    before = threading.active_count()
    with pytest.raises(ConfigError, match="graph_url"):
        GraphApi({"name": "hq", "tenant_id": "t", "graph_url": "ftp://graph",
                  "auth": {"kind": "client_secret", "client_id": "c",
                           "client_secret_env": "HQ_SECRET"}})
    assert threading.active_count() == before
