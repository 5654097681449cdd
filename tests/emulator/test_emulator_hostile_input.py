"""Malformed and hostile HTTP requests get Graph's error status and JSON, never a 500, a plain-text
404 or a stored value (emulator/limits.py: request size, property lengths, $filter bounds).

Sources: "Microsoft Graph error responses and resource types" (413, error JSON), the user and
group resource types ("Maximum length is N characters"), Graph's "Invalid version." 400 for a
path outside its versions and "Query option '$top' was specified more than once." for a repeated
option (both as reported from Graph in GitHub issues, cited in the emulator modules).
"""

from __future__ import annotations

import json
import re

import httpx
import pytest

from tenantsync.emulator.limits import MAX_BODY_BYTES

from .emulator_world import CONTOSO, CONTOSO_TOKEN

AUTH = {"Authorization": f"Bearer {CONTOSO_TOKEN}"}
JSON_HEADERS = {**AUTH, "Content-Type": "application/json"}
INVALID = "Invalid value specified for property '{}' of resource '{}'."


def _new_user(**overrides) -> dict:
    user = {"accountEnabled": True, "displayName": "Hostile", "mailNickname": "hostile",
            "userPrincipalName": "hostile@contoso.com",
            "passwordProfile": {"password": "x-Strong-123!"}}
    return {**user, **overrides}


def _body(obj) -> bytes:
    return json.dumps(obj).encode()


_DEEP_PARENS = "(" * 40 + "city eq 'a'" + ")" * 40
_MANY_TERMS = " or ".join(["city eq 'a'"] * 300)              # < 8 KB, > 200 terms
_NOT_CHAIN = "not " * 1000 + "accountEnabled eq true"
_LONG_FILTER = "city eq '" + "a" * 9000 + "'"
_NESTED_JSON = b"[" * 100_000 + b"]" * 100_000

# (id, method, path, body, status, code, message regex)
CASES = [
    ("displayName-257", "POST", "/v1.0/users", _body(_new_user(displayName="d" * 257)),
     400, "Request_BadRequest", re.escape(INVALID.format("displayName", "User"))),
    ("surname-65", "POST", "/v1.0/users", _body(_new_user(surname="s" * 65)),
     400, "Request_BadRequest", re.escape(INVALID.format("surname", "User"))),
    ("streetAddress-1025", "POST", "/v1.0/users", _body(_new_user(streetAddress="x" * 1025)),
     400, "Request_BadRequest", "streetAddress"),
    ("mailNickname-65", "POST", "/v1.0/users", _body(_new_user(mailNickname="m" * 65)),
     400, "Request_BadRequest", "mailNickname"),
    ("body-5MB", "POST", "/v1.0/users",
     _body(_new_user(displayName="d" * (MAX_BODY_BYTES + 1))),
     413, "RequestEntityTooLarge", "The request size exceeds the maximum limit."),
    ("group-displayName-257", "POST", "/v1.0/groups",
     _body({"displayName": "g" * 257, "mailEnabled": False, "mailNickname": "g",
            "securityEnabled": True}),
     400, "Request_BadRequest", re.escape(INVALID.format("displayName", "Group"))),
    ("invitation-name-257", "POST", "/v1.0/invitations",
     _body({"invitedUserEmailAddress": "x@example.org", "inviteRedirectUrl": "https://x.org",
            "invitedUserDisplayName": "i" * 257}),
     400, "BadRequest", "invitedUserDisplayName"),
    ("body-not-json", "POST", "/v1.0/users", b"{not json",
     400, "BadRequest", "Unable to read JSON request payload"),
    ("body-invalid-utf8", "POST", "/v1.0/users", b'{"displayName": "\xff\xfe"}',
     400, "BadRequest", "Unable to read JSON request payload"),
    ("body-nested-100000", "POST", "/v1.0/users", _NESTED_JSON,
     400, "BadRequest", "Unable to read JSON request payload"),
    ("filter-deep-parens", "GET", "/v1.0/users?$filter=" + _DEEP_PARENS, None,
     400, "BadRequest", "recursion limit"),
    ("filter-not-chain", "GET", "/v1.0/users?$filter=" + _NOT_CHAIN, None,
     400, "BadRequest", "recursion limit"),
    ("filter-300-terms", "GET", "/v1.0/users?$filter=" + _MANY_TERMS, None,
     400, "BadRequest", "too many terms"),
    ("filter-9000-chars", "GET", "/v1.0/users?$filter=" + _LONG_FILTER, None,
     400, "BadRequest", "Max query length exceeded"),
    ("query-20000-chars", "GET", "/v1.0/users?x=" + "q" * 20_000, None,
     400, "BadRequest", "Max query length exceeded"),
    ("filter-syntax", "GET", "/v1.0/users?$filter=displayName eq", None,
     400, "BadRequest", "Invalid filter clause"),
    ("filter-unknown-property", "GET", "/v1.0/users?$filter=colour eq 'red'", None,
     400, "Request_BadRequest", "Could not find a property named 'colour'"),
    ("top-twice", "GET", "/v1.0/users?$top=1&$top=2", None,
     400, "BadRequest", re.escape("Query option '$top' was specified more than once.")),
    ("top-with-and-without-dollar", "GET", "/v1.0/users?$top=1&top=2", None,
     400, "BadRequest", re.escape("Query option '$top' was specified more than once.")),
    ("select-twice", "GET", "/v1.0/users?$select=id&$SELECT=mail", None,
     400, "BadRequest", re.escape("Query option '$select' was specified more than once.")),
    ("top-huge", "GET", "/v1.0/users?$top=" + "9" * 5000, None,
     400, "Request_UnsupportedQuery", "Invalid page size"),
    ("orderby-bad", "GET", "/v1.0/users?$orderby=displayName sideways", None,
     400, "BadRequest", "Invalid \\$orderby clause"),
    ("version-v2", "GET", "/v2.0/users", None, 400, "BadRequest", "^Invalid version.$"),
    ("version-missing", "GET", "/users", None, 400, "BadRequest", "^Invalid version.$"),
    ("version-glued", "GET", "/v1.0None/users", None, 400, "BadRequest", "^Invalid version.$"),
    ("root", "GET", "/", None, 400, "BadRequest", "^Invalid version.$"),
    ("unknown-segment", "GET", "/v1.0/nothingHere", None,
     400, "BadRequest", "Resource not found for the segment 'nothingHere'"),
    ("beta-not-served", "GET", "/beta/users", None,
     400, "BadRequest", "Resource not found for the segment 'users'"),
    ("method-not-allowed", "PUT", "/v1.0/users", b"{}", 405, "Request_BadRequest", "PUT"),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_malformed_request_gets_graph_error(emu, case):
    _, method, path, body, status, code, message = case
    before = len(emu.dump(CONTOSO)["users"])
    with httpx.Client(base_url=emu.base, timeout=60) as client:
        r = client.request(method, path, content=body,
                           headers=JSON_HEADERS if body is not None else AUTH)
    assert r.status_code == status, r.text[:300]
    error = r.json()["error"]
    assert error["code"] == code
    assert re.search(message, error["message"]), error["message"][:300]
    assert set(error["innerError"]) >= {"date", "request-id", "client-request-id"}
    assert r.headers["request-id"] == error["innerError"]["request-id"]
    assert len(emu.dump(CONTOSO)["users"]) == before          # nothing stored
    assert emu.stats() is not None                             # still serving


def test_a_50_mb_display_name_is_refused_before_it_is_stored(emu):
    body = _body(_new_user(displayName="d" * 50_000_000))
    with httpx.Client(base_url=emu.base, timeout=120) as client:
        r = client.post("/v1.0/users", content=body, headers=JSON_HEADERS)
        assert r.status_code == 413 and r.json()["error"]["code"] == "RequestEntityTooLarge"
        ok = client.post("/v1.0/users", json=_new_user(displayName="d" * 256), headers=AUTH)
    assert ok.status_code == 201, ok.text
    names = {u["userPrincipalName"]: u["displayName"] for u in emu.dump(CONTOSO)["users"]}
    assert names["hostile@contoso.com"] == "d" * 256          # the limit itself is accepted


def test_lengths_are_checked_on_update_too(emu, http):
    client = http()
    uid = client.get("/users", params={"$top": "1"}).json()["value"][0]["id"]
    r = client.patch(f"/users/{uid}", json={"jobTitle": "j" * 129})
    assert r.status_code == 400 and r.json()["error"]["message"] == INVALID.format("jobTitle",
                                                                                   "User")
    assert client.patch(f"/users/{uid}", json={"jobTitle": "j" * 128}).status_code == 204
    assert client.get(f"/users/{uid}").json()["jobTitle"] == "j" * 128


def test_version_segment_in_any_case_is_served(emu):
    with httpx.Client(base_url=emu.base, headers=AUTH, timeout=30) as client:
        upper = client.get("/V1.0/users", params={"$top": "2"})
        lower = client.get("/v1.0/users", params={"$top": "2"})
    assert upper.status_code == 200
    assert [u["id"] for u in upper.json()["value"]] == [u["id"] for u in lower.json()["value"]]


def test_a_batch_item_with_a_repeated_option_fails_alone(emu, http):
    r = http().post("/$batch", json={"requests": [
        {"id": "1", "method": "GET", "url": "/users?$top=1&$top=2"},
        {"id": "2", "method": "GET", "url": "/users?$top=1"}]})
    by_id = {x["id"]: x for x in r.json()["responses"]}
    assert by_id["1"]["status"] == 400
    assert by_id["1"]["body"]["error"]["message"] == \
        "Query option '$top' was specified more than once."
    assert by_id["2"]["status"] == 200 and len(by_id["2"]["body"]["value"]) == 1


def test_a_malformed_query_is_still_authenticated_first(emu):
    with httpx.Client(base_url=emu.base, timeout=30) as client:
        r = client.get("/v1.0/users?$top=1&$top=2")
    assert r.status_code == 401 and r.json()["error"]["code"] == "InvalidAuthenticationToken"


def test_unknown_control_path_answers_json(emu):
    with httpx.Client(base_url=emu.base, timeout=30) as client:
        r = client.get("/_emulator/nothing")
        wrong_method = client.get("/_emulator/reset")
    assert r.status_code == 404 and r.json()["error"]["code"] == "NotFound"
    assert wrong_method.status_code == 405 and wrong_method.json()["error"]["code"] == \
        "MethodNotAllowed"
