"""Throttling (429 with Retry-After, also per $batch item) and the error envelope, as the
throttling, errors and json-batching pages document them.

The product retries on these answers and reports Graph's code and message; both only work if the
shape is Graph's: {"error": {"code", "message", "innerError": {...}}} and a Retry-After header.
"""

from __future__ import annotations

from tests.contract.doc import auth, error_of, expect, page
from tests.contract.world import ADELE

JSON = {"Content-Type": "application/json"}


def _retry_after(headers) -> float:
    value = {k.lower(): v for k, v in headers.items()}.get("retry-after")
    assert value is not None, dict(headers)
    seconds = float(value)
    assert seconds >= 0
    return seconds


@page("throttling", "429-too-many-requests-with-retry-after")
def test_throttled_request(graph, emu, doc_page):
    emu.set_faults("rate=1,codes=429,seed=1")
    resp = graph.get("/users", headers=auth())
    # The page's sample response: 429, Retry-After, error.code TooManyRequests.
    err = error_of(resp, 429, "TooManyRequests")
    assert err["message"]
    _retry_after(resp.headers)


@page("errors", "503-service-unavailable-with-retry-after")
def test_service_unavailable(graph, emu, doc_page):
    # errors: 503 "You may repeat the request after a delay, the length of which may be
    # specified in a Retry-After header."
    emu.set_faults("rate=1,codes=503,seed=1")
    resp = graph.get(f"/users/{ADELE}", headers=auth())
    error_of(resp, 503)


@page("throttling", "batch-item-429-with-its-own-retry-after")
def test_throttled_batch_item(graph, emu, doc_page):
    """throttling ("Throttling and batching"): "Requests in a batch are evaluated individually
    against throttling limits and if any request exceeds the limits, it fails with a status of
    429 and an error similar to the one provided above" - retried "using the value provided in
    the retry-after response header from the JSON content". The same page says the batch itself
    then fails with 424 while json-batching says a parseable batch answers 200: both are
    accepted for the envelope, as long as the items carry their own 429s."""
    found = False
    for seed in range(1, 60):
        emu.set_faults(f"rate=0.5,codes=429,seed={seed}")
        resp = graph.post("/$batch", headers=auth(**JSON), json={"requests": [
            {"id": str(n), "method": "GET", "url": f"/users/{ADELE}"} for n in range(1, 11)]})
        body = resp.json()
        if "responses" not in body:
            continue                          # the envelope itself was throttled: try again
        assert resp.status_code in (200, 424), resp.text[:300]
        throttled = [r for r in body["responses"] if r["status"] == 429]
        if not throttled:
            continue
        for item in throttled:
            assert item["body"]["error"]["code"] == "TooManyRequests", item
            _retry_after(item.get("headers") or {})
        assert all(r["status"] in (200, 429) for r in body["responses"]), body
        found = True
        break
    emu.set_faults(None)
    assert found, "no batch reached its items with some of them throttled"


@page("errors", "401-without-access-token")
def test_no_token(graph, doc_page):
    # errors: 401 "Required authentication information is either missing or not valid".
    error_of(graph.get("/users"), 401)


@page("errors", "401-unknown-access-token")
def test_bad_token(graph, doc_page):
    error_of(graph.get("/users", headers=auth("not-a-token-of-this-tenant")), 401)


@page("errors", "404-error-envelope-on-unknown-object")
def test_not_found_envelope(graph, doc_page):
    err = error_of(graph.get("/groups/00000000-0000-4000-8000-000000000404", headers=auth()), 404)
    assert err["code"] and err["message"]
    # A successful call alongside: the same client and token are fine.
    expect(graph.get(f"/users/{ADELE}", headers=auth()), 200)
