"""Every outcome of a batch() call is kept: a $batch that fails fails only its own items.

A dropped connection after the $batch was sent may have run its items: a POST (an invitation) is
then never sent again blindly -- it comes back marked unknown for the caller to look up -- while
the idempotent items of the same $batch are sent again. A $batch refused for good (403) leaves the
answers of the other $batch calls of the same batch() intact, in BatchIncomplete.results.
"""

from __future__ import annotations

import httpx
import pytest

from tenantsync.errors import ErrorKind
from tenantsync.graph.batch import BatchIncomplete

from .graph_fake import error


def answered_then_dropped(fake, *, times: int = 1):
    """A transport that runs the first ``times`` $batch calls, then drops their answers."""
    dropped = {"n": 0}

    async def handle(request: httpx.Request) -> httpx.Response:
        response = await fake.handle(request)
        if request.url.path.endswith("/$batch") and dropped["n"] < times:
            dropped["n"] += 1
            raise httpx.RemoteProtocolError("peer closed connection without sending a response")
        return response

    return httpx.MockTransport(handle)


def test_a_post_whose_answer_was_lost_is_not_resent_and_comes_back_unknown(fake, make_api):
    api = make_api(transport=answered_then_dropped(fake))
    results = api.batch([{"method": "PATCH", "url": "/users/u00001", "body": {"city": "A"}},
                         {"method": "POST", "url": "/users/u00002/restore"},
                         {"method": "PATCH", "url": "/users/u00003", "body": {"city": "C"}}])
    assert [r["status"] for r in results] == [204, 0, 204]
    assert results[1]["unknown"] is True and results[1]["body"]["error"]["code"] == "connectionError"
    assert "unknown" not in results[0] and "unknown" not in results[2]
    assert [p for m, p in fake.log].count("/v1.0/$batch") == 2       # once with all, once without the POST
    assert fake.users["u00001"]["city"] == "A" and fake.users["u00003"]["city"] == "C"


def test_a_refused_batch_keeps_the_answers_of_the_other_batches(fake, make_api):
    api = make_api(max_concurrency=1)            # in order: the first $batch of 20, then the next
    calls = {"n": 0}
    original = fake.dispatch

    def dispatch(method, path, q, body, *, top_level=False):
        if path == "/$batch" and top_level:
            calls["n"] += 1
            if calls["n"] == 2:
                return error(403, "Authorization_RequestDenied", "Insufficient privileges.")
        return original(method, path, q, body, top_level=top_level)

    fake.dispatch = dispatch
    reqs = [{"method": "PATCH", "url": f"/users/u{i:05d}", "body": {"city": "B"}} for i in range(45)]
    with pytest.raises(BatchIncomplete) as caught:
        api.batch(reqs)
    results = caught.value.results
    assert caught.value.kind is ErrorKind.FORBIDDEN and len(results) == 45
    assert [r["status"] for r in results[:20]] == [204] * 20             # done before the refusal
    assert all(r["status"] == 403 for r in results[20:40])                # the refused $batch
    assert all(r["status"] == 403 and r.get("not_sent") for r in results[40:])   # never sent after it
    assert all(fake.users[f"u{i:05d}"]["city"] == "B" for i in range(20))
    assert not any(fake.users[f"u{i:05d}"].get("city") == "B" for i in range(20, 45))
