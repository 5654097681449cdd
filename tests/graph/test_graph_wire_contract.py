"""Wire details Graph documents and the connector must honour: percent-encoded query values in
hand-built URLs ("Use query parameters", Encoding query parameters), groups/delta asked with
$select=...,members and never $expand (delta-query-overview, group-delta), and a $batch answered
424 or 429 as a whole retried after Retry-After (throttling, "Throttling and batching")."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest

from tenantsync.connectors.entra_source import MAX_FILTER_IDS, EntraSource, odata_quote
from tenantsync.errors import ErrorKind, GraphError
from tenantsync.graph.urls import path, relative, segment

from .graph_fake import FAST, error

# -- percent-encoding -----------------------------------------------------------------------------

@pytest.mark.parametrize("value", [
    "o'brien+test@example.com", "r&d@example.com", "hash#tag@example.com", "50%off@example.com",
    "a b=c?d/e@example.com", "zoë.müller@example.com",
])
def test_a_filter_value_arrives_exactly_as_written(value):
    flt = f"mail eq {odata_quote(value)}"
    url = relative("/users", {"$filter": flt, "$select": ["id", "mail"]})
    parts = urlsplit(url)
    assert parts.fragment == "" and parts.path == "/users"          # '#' no longer cuts the URL
    assert parse_qs(parts.query) == {"$filter": [flt], "$select": ["id,mail"]}   # '+', '&' kept


def test_a_b2b_upn_is_encoded_in_a_path():
    upn = "o'brien_emea.contoso.com#EXT#@contosohq.onmicrosoft.com"
    assert segment(upn) == "o'brien_emea.contoso.com%23EXT%23@contosohq.onmicrosoft.com"
    assert path("users", upn, "memberOf") == f"/users/{segment(upn)}/memberOf"
    assert urlsplit(relative(path("users", upn), {"$select": "id"})).fragment == ""


def test_a_raw_plus_in_a_query_reads_back_as_a_space_which_is_why_values_are_encoded():
    raw = "/users?$filter=mail eq 'a+b@example.com'"
    assert parse_qs(urlsplit(raw).query)["$filter"] == ["mail eq 'a b@example.com'"]


def test_batch_items_carry_the_encoded_url_and_the_server_reads_the_value_back(fake, make_api):
    seen: list[str] = []
    original = fake.batch_item

    def record(req):
        seen.append(req["url"])
        return original(req)

    fake.batch_item = record
    api = make_api()
    source = EntraSource(api, ["mail"])
    source.get_users(["u00001"])
    source.member_of(["a_b#EXT#@t.onmicrosoft.com"])
    assert seen[0].startswith("/users/u00001?$select=") and "#" not in "".join(seen)
    assert seen[1].startswith("/users/a_b%23EXT%23@t.onmicrosoft.com/memberOf?")


# -- groups/delta ---------------------------------------------------------------------------------

class _Recorder:
    """A GraphApi stand-in that records delta() calls and answers one empty round."""

    def __init__(self):
        self.calls: list[dict] = []

    def delta(self, resource, **kw):
        self.calls.append({"resource": resource, **kw})
        return _EmptyRound()


class _EmptyRound:
    delta_link = "https://graph.test/v1.0/groups/delta?$deltatoken=x"

    def pages(self):
        yield []


def test_group_memberships_select_members_and_filter_at_most_fifty_ids():
    api = _Recorder()
    source = EntraSource(api, [])
    few = [f"g{i}" for i in range(MAX_FILTER_IDS)]
    source.memberships(few, None)
    source.memberships(few + ["g-extra"], None)
    first, second = api.calls
    assert first["members"] is True and "expand" not in str(first)
    assert first["filter"].count(" or ") == MAX_FILTER_IDS - 1
    assert second["filter"] is None                     # 51 groups: the unfiltered round


def test_group_delta_sends_members_in_select_and_no_expand(fake, make_api):
    fake.script("GET", "/groups/delta()", (200, {}, {"value": [], "@odata.deltaLink": "x"}))
    fake.script("GET", "/groups/delta", (200, {}, {"value": [], "@odata.deltaLink": "x"}))
    api = make_api()
    list(api.delta("groups", select=["id", "displayName"], members=True, filter="id eq 'g1'").pages())
    sent = fake.log[0][1]
    assert "$select=id,displayName,members" in sent and "expand" not in sent
    assert "$filter=id%20eq%20%27g1%27" in sent


# -- whole-batch 424 and 429 ----------------------------------------------------------------------

def test_a_whole_batch_424_without_items_waits_for_retry_after_then_succeeds(fake, make_api):
    fake.script("POST", "/$batch", error(424, "FailedDependency", headers={"Retry-After": "0.3"}))
    api = make_api()
    started = time.monotonic()
    results = api.batch([{"method": "PATCH", "url": f"/users/u{i:05d}", "body": {"city": "Q"}}
                         for i in range(5)])
    assert [r["status"] for r in results] == [204] * 5
    assert time.monotonic() - started >= 0.3 and api.stats.retries == 5
    assert all(fake.users[f"u{i:05d}"]["city"] == "Q" for i in range(5))


@pytest.mark.parametrize("status", [424, 429])
def test_a_whole_batch_failure_that_lists_its_items_resends_only_the_throttled_ones(fake, make_api, status):
    sent: list[str] = []
    original = fake.batch_item
    first = {"done": False}

    def item(req):
        sent.append(req["id"])
        return original(req)

    def dispatch(method, p, q, body, *, top_level=False, _dispatch=fake.dispatch):
        if p == "/$batch" and top_level and not first["done"]:
            first["done"] = True
            answers = []
            for req in body["requests"]:
                if req["id"] in ("1", "3"):               # throttled: not run, own Retry-After
                    sent.append(req["id"])
                    answers.append({"id": req["id"], "status": 429, "headers": {"Retry-After": "0.2"},
                                    "body": error(429, "TooManyRequests")[2]})
                else:
                    answers.append(item(req))
            return status, {}, {"responses": answers}
        return _dispatch(method, p, q, body, top_level=top_level)

    fake.batch_item = item
    fake.dispatch = dispatch
    api = make_api()
    started = time.monotonic()
    results = api.batch([{"method": "PATCH", "url": f"/users/u{i:05d}", "body": {"city": "W"}}
                         for i in range(5)])
    assert [r["status"] for r in results] == [204] * 5
    assert sorted(sent) == ["0", "1", "1", "2", "3", "3", "4"]        # done items never sent twice
    assert time.monotonic() - started >= 0.2
    assert api.stats.throttled == 2


def test_a_whole_batch_424_that_never_clears_raises_a_transient_error_not_other(fake, make_api):
    fake.script("POST", "/$batch", *[error(424, "FailedDependency", headers={"Retry-After": "0"})] * 10)
    api = make_api()
    with pytest.raises(GraphError) as caught:
        api.batch([{"method": "PATCH", "url": "/users/u00001", "body": {"city": "Z"}}])
    assert caught.value.status == 424 and caught.value.kind is ErrorKind.TRANSIENT
    assert api.stats.requests == 1 + FAST.max_retries


def test_an_expired_delta_link_surfaces_as_a_resync_error(fake, make_api):
    link = f"{fake.base}/users/delta()?$deltatoken=old"
    fake.script("GET", "/users/delta()", error(410, "syncStateNotFound",
                                                headers={"Location": f"{fake.base}/users/delta?$deltatoken="}))
    api = make_api()
    with pytest.raises(GraphError) as caught:
        list(api.delta("users", link=link).pages())
    assert caught.value.needs_resync and caught.value.kind is ErrorKind.RESYNC
    assert api.stats.retries == 0                                      # not retried: read again in full
