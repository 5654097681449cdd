"""JSON batching as json-batching documents it: at most 20 requests, unique ids, per-item status,
dependsOn sequencing and 424 Failed Dependency.

The product writes through $batch of 20; it must be able to trust each item's own status and that
a dependent item never runs after its dependency failed.
"""

from __future__ import annotations

from tests.contract.doc import auth, context_is, error_of, expect, page
from tests.contract.world import ADELE, ADMIN, USERS

JSON = {"Content-Type": "application/json"}
MISSING = "00000000-0000-4000-8000-000000000404"


def batch(graph, requests: list[dict]):
    return graph.post("/$batch", headers=auth(**JSON), json={"requests": requests})


def responses(resp) -> dict[str, dict]:
    body = expect(resp, 200)
    assert set(body) == {"responses"}, body
    out = {r["id"]: r for r in body["responses"]}
    assert len(out) == len(body["responses"])
    return out


@page("json-batching", "200-envelope-with-per-item-status")
def test_per_item_status(graph, doc_page):
    got = responses(batch(graph, [
        {"id": "1", "method": "GET", "url": f"/users/{ADELE}"},
        {"id": "3", "method": "GET", "url": f"/users/{MISSING}"},
        {"id": "4", "method": "PATCH", "url": f"/users/{ADMIN}", "body": {"city": "Redmond"},
         "headers": JSON},
        # the page's item 5, relative url without a leading slash, ConsistencyLevel per item
        {"id": "5", "dependsOn": ["4"], "method": "GET",
         "url": "users?$select=id,displayName,userPrincipalName&$filter=city eq null"
                "&$count=true",
         "headers": {"ConsistencyLevel": "eventual"}},
    ]))
    assert set(got) == {"1", "3", "4", "5"}                 # correlate by id, any order
    assert got["1"]["status"] == 200 and got["1"]["body"]["displayName"] == "Adele Vance"
    assert got["3"]["status"] == 404 and got["3"]["body"]["error"]["code"]
    assert got["4"]["status"] == 204 and not got["4"].get("body")
    five = got["5"]["body"]
    assert got["5"]["status"] == 200
    context_is(five, "users(id,displayName,userPrincipalName)")
    assert five["@odata.count"] == len(USERS) - 1          # the PATCH of item 4 ran first
    assert ADMIN not in {u["id"] for u in five["value"]}
    assert expect(graph.get(f"/users/{ADMIN}", headers=auth(),
                            params={"$select": "city"}), 200)["city"] == "Redmond"


@page("json-batching", "dependson-runs-in-the-given-order")
def test_depends_on_order(graph, doc_page):
    # The page's sequence: 1, then 2, then 4, then 3.
    def title(item_id: str, value: str, after: str | None) -> dict:
        item = {"id": item_id, "method": "PATCH", "url": f"/users/{ADMIN}",
                "body": {"jobTitle": value}, "headers": JSON}
        return {**item, "dependsOn": [after]} if after else item
    got = responses(batch(graph, [
        title("1", "first", None), title("2", "second", "1"), title("4", "fourth", "2"),
        {"id": "3", "dependsOn": ["4"], "method": "GET", "url": f"/users/{ADMIN}"}]))
    assert [got[i]["status"] for i in ("1", "2", "4", "3")] == [204, 204, 204, 200]
    assert got["3"]["body"]["jobTitle"] == "fourth"


@page("json-batching", "424-when-a-dependency-failed")
def test_failed_dependency(graph, doc_page):
    got = responses(batch(graph, [
        {"id": "1", "method": "GET", "url": f"/users/{MISSING}"},
        {"id": "2", "dependsOn": ["1"], "method": "PATCH", "url": f"/users/{ADMIN}",
         "body": {"jobTitle": "must not be written"}, "headers": JSON}]))
    assert got["1"]["status"] == 404
    # "If an individual request fails, any request that depends on that request fails with
    # status code 424 (Failed Dependency)."
    assert got["2"]["status"] == 424
    user = expect(graph.get(f"/users/{ADMIN}", headers=auth()), 200)
    assert user["jobTitle"] is None                      # the dependent request never ran


@page("json-batching", "20-requests-accepted")
def test_twenty_requests(graph, doc_page):
    got = responses(batch(graph, [{"id": str(n), "method": "GET", "url": f"/users/{ADELE}"}
                                  for n in range(1, 21)]))
    assert set(got) == {str(n) for n in range(1, 21)}
    assert all(r["status"] == 200 for r in got.values())


@page("json-batching", "400-more-than-20-requests")
def test_twenty_one_requests(graph, doc_page):
    # "JSON batch requests are currently limited to 20 individual requests"; a batch request
    # that is malformed answers 400 as a whole.
    resp = batch(graph, [{"id": str(n), "method": "PATCH", "url": f"/users/{ADMIN}",
                          "body": {"jobTitle": f"t{n}"}, "headers": JSON}
                         for n in range(1, 22)])
    error_of(resp, 400)
    assert expect(graph.get(f"/users/{ADMIN}", headers=auth()), 200)["jobTitle"] is None


@page("json-batching", "400-duplicate-ids")
def test_duplicate_ids(graph, doc_page):
    # dependsOn references ids, "For this reason, the values for id must be unique."
    resp = batch(graph, [{"id": "1", "method": "GET", "url": f"/users/{ADELE}"},
                         {"id": "1", "method": "GET", "url": f"/users/{ADMIN}"}])
    error_of(resp, 400)


@page("json-batching", "400-requests-property-missing")
def test_no_requests(graph, doc_page):
    # "A JSON batch request body consists of a single JSON object with one required property:
    # requests."
    error_of(graph.post("/$batch", headers=auth(**JSON), json={"calls": []}), 400)


@page("json-batching", "body-without-content-type-refused")
def test_body_needs_content_type(graph, doc_page):
    """json-batching: "When a body is included with the request, the headers object must contain
    a value for Content-Type." The page does not say whether Graph refuses the item or the whole
    batch; either way the write must not happen."""
    resp = batch(graph, [{"id": "1", "method": "PATCH", "url": f"/users/{ADMIN}",
                          "body": {"jobTitle": "no content type"}}])
    if resp.status_code == 200:
        assert responses(resp)["1"]["status"] == 400
    else:
        error_of(resp, 400)
    assert expect(graph.get(f"/users/{ADMIN}", headers=auth()), 200)["jobTitle"] is None
