"""Query parameters on /users: $select, $filter, $orderby, $top, $count, advanced queries
(ConsistencyLevel: eventual + $count=true), percent-encoding and paging with @odata.nextLink.

Pages: query-parameters, aad-advanced-queries, paging, user-list. The product finds users by
mail with $filter and reads whole tenants page by page; a wrong answer here is a duplicate or a
missed user.
"""

from __future__ import annotations

from tests.contract.doc import Case, auth, cases, context_is, error_of, expect, follow, page, send
from tests.contract.world import ADAMS, ADELE_GUEST, GRADY, OBRIEN, OBRIEN_MAIL, SG_HR, USERS

EVENTUAL = {"ConsistencyLevel": "eventual"}


def _ids(resp) -> set[str]:
    return {u["id"] for u in resp.json()["value"]}


def _only_disabled(resp) -> None:
    assert _ids(resp) == {ADAMS}, resp.json()


def _endswith_grady(resp) -> None:
    body = resp.json()
    context_is(body, "users")
    assert body["@odata.count"] == 1, body
    assert [u["id"] for u in body["value"]] == [GRADY]


def _startswith_a_top1(resp) -> None:
    body = resp.json()
    names = sorted(u["displayName"] for u in USERS if u["displayName"].lower().startswith("a"))
    assert body["@odata.count"] == len(names), body
    assert [u["displayName"] for u in body["value"]] == names[:1]
    assert "@odata.nextLink" in body                    # more than $top=1 matched


def _b2b_guests(resp) -> None:
    body = resp.json()
    context_is(body, "users(id,displayName,mail,identities)")
    expected = {u["id"] for u in USERS if u["userPrincipalName"].endswith("#EXT#@contoso.com")}
    assert _ids(resp) == expected and ADELE_GUEST in expected, body
    assert body["@odata.count"] == len(expected)
    guest = next(u for u in body["value"] if u["id"] == ADELE_GUEST)
    assert set(guest) == {"id", "displayName", "mail", "identities"}, guest


def _select_only(resp) -> None:
    body = resp.json()
    context_is(body, "users(givenName,surname)")
    for user in body["value"]:
        assert set(user) == {"givenName", "surname"}, user   # exactly what $select named


def _quoted_mail(resp) -> None:
    assert _ids(resp) == {OBRIEN}, resp.json()


def _count_text(resp) -> None:
    assert resp.headers["content-type"].startswith("text/plain")
    assert int(resp.text) == len(USERS)


def _in_operator(resp) -> None:
    assert _ids(resp) == {u["id"] for u in USERS if u.get("jobTitle") in ("Designer",
                                                                          "Retail Manager")}


def _orderby_desc(resp) -> None:
    names = [u["displayName"] for u in resp.json()["value"]]
    assert names == sorted((u["displayName"] for u in USERS), key=str.lower, reverse=True)


def _unsupported(resp) -> None:
    error_of(resp, 400, "Request_UnsupportedQuery")


def _count_refused(resp) -> None:
    error_of(resp, 400, "Request_BadRequest")


QUERIES = cases(
    # aad-advanced-queries: `eq` works by default ...
    Case("aad-advanced-queries", "200-eq-by-default", path="/users",
         params={"$filter": "accountEnabled eq false"}, check=_only_disabled),
    # ... `ne` needs ConsistencyLevel: eventual and $count=true.
    Case("aad-advanced-queries", "200-ne-with-advanced-parameters", path="/users",
         params={"$filter": "accountEnabled ne true", "$count": "true"}, headers=EVENTUAL,
         check=_only_disabled),
    Case("aad-advanced-queries", "400-endswith-without-consistencylevel", path="/users",
         params={"$filter": "endsWith(mail,'@outlook.com')"}, status=400, check=_unsupported),
    Case("aad-advanced-queries", "400-count-segment-without-consistencylevel",
         path="/users/$count", status=400, check=_count_refused),
    Case("user-list", "200-count-segment-text-plain", path="/users/$count", headers=EVENTUAL,
         check=_count_text),
    Case("user-list", "200-endswith-orderby-count", path="/users", headers=EVENTUAL,
         params={"$filter": "endswith(mail,'a@contoso.com')", "$orderby": "userPrincipalName",
                 "$count": "true"}, check=_endswith_grady),
    Case("user-list", "200-startswith-orderby-count-top", path="/users", headers=EVENTUAL,
         params={"$filter": "startswith(displayName,'a')", "$orderby": "displayName",
                 "$count": "true", "$top": "1"}, check=_startswith_a_top1),
    # user-list example 8: '#' in the value is sent as %23 (httpx encodes it).
    Case("user-list", "200-b2b-guests-by-upn-suffix", path="/users", headers=EVENTUAL,
         params={"$select": "id,displayName,mail,identities",
                 "$filter": "endsWith(userPrincipalName,'#EXT#@contoso.com')",
                 "$count": "true"}, check=_b2b_guests),
    Case("query-parameters", "200-select-limits-properties", path="/users",
         params={"$select": "givenName,surname"}, check=_select_only),
    # query-parameters "Escaping single quotes" and "Encoding query parameters": the quote is
    # doubled, and '+' travels percent-encoded (%2B), never as a space.
    Case("query-parameters", "200-filter-value-with-quote-and-plus", path="/users",
         params={"$filter": "mail eq '" + OBRIEN_MAIL.replace("'", "''") + "'"},
         check=_quoted_mail),
    Case("query-parameters", "200-filter-in-operator", path="/users",
         params={"$filter": "jobTitle in ('Designer', 'Retail Manager')"}, check=_in_operator),
    Case("query-parameters", "200-orderby-desc-with-advanced-parameters", path="/users",
         headers=EVENTUAL, params={"$orderby": "displayName desc", "$count": "true"},
         check=_orderby_desc),
)


@QUERIES
def test_user_queries(graph, case):
    send(graph, case)


@page("paging", "nextlink-until-last-page")
def test_paging_top5(graph, doc_page):
    # paging: GET /users?$top=5 -> @odata.nextLink until every page was read.
    first = graph.get("/users", headers=auth(), params={"$top": "5"})
    pages = list(follow(graph, first))
    assert len(pages) == -(-len(USERS) // 5)
    assert all(len(p["value"]) == 5 for p in pages[:-1])
    ids = [u["id"] for p in pages for u in p["value"]]
    assert len(ids) == len(set(ids)) == len(USERS)      # nothing repeated, nothing skipped
    assert "@odata.nextLink" not in pages[-1]
    # "The URL also contains all the other query parameters present in the original request."
    assert "top=5" in pages[0]["@odata.nextLink"].replace("%24", "$")


@page("paging", "count-only-on-first-page")
def test_paging_count_first_page_only(graph, doc_page):
    first = graph.get("/users", headers=auth(**EVENTUAL), params={"$top": "4", "$count": "true"})
    pages = list(follow(graph, first, headers=EVENTUAL))
    assert len(pages) > 1
    assert pages[0]["@odata.count"] == len(USERS)
    assert all("@odata.count" not in p for p in pages[1:])


@page("paging", "select-kept-on-next-pages")
def test_paging_keeps_select(graph, doc_page):
    first = graph.get("/users", headers=auth(), params={"$top": "3", "$select": "id,mail"})
    pages = list(follow(graph, first))
    assert len(pages) > 1
    for body in pages:
        for user in body["value"]:
            assert set(user) == {"id", "mail"}, user


@page("group-list", "200-filter-displayName-eq")
def test_filter_on_groups(graph, doc_page):
    # query-parameters: $filter on a collection returns just the subset that matches.
    body = expect(graph.get("/groups", headers=auth(),
                            params={"$filter": "displayName eq 'sg-HR'"}), 200)
    context_is(body, "groups")
    assert [g["id"] for g in body["value"]] == [SG_HR]
