"""Application permissions: tokens with roles, the per-route table, 403 as Graph answers it.

A product that lacks a permission must find out against the emulator, not in a customer's
tenant: these tests hold the emulator to the Permissions tables of the Graph pages.
"""

from __future__ import annotations

import json

import pytest

from tenantsync.emulator.app import ROUTES
from tenantsync.emulator.core import Emulator
from tenantsync.emulator.fixture import FixtureError, load_directory
from tenantsync.emulator.permissions import RULES
from tenantsync.emulator.tokens import app_token, claims, plain_app_id

from .emulator_world import CONTOSO, CONTOSO_TOKEN, _uid, build_fixture

U1, U2 = _uid(0xC0, 1), _uid(0xC0, 2)
READER_APP = "5d2c0a3e-1111-4aaa-8bbb-000000000001"
JSON_H = {"Content-Type": "application/json"}


def _with_tokens(*entries: object) -> dict:
    fixture = build_fixture()
    fixture["tenants"][0]["tokens"] = [CONTOSO_TOKEN, *entries]
    return fixture


def _denied(r) -> bool:
    body = r.json()
    return (r.status_code == 403 and body["error"]["code"] == "Authorization_RequestDenied"
            and body["error"]["message"] == "Insufficient privileges to complete the operation.")


def test_app_token_is_a_readable_unsigned_jwt():
    token = app_token(CONTOSO, READER_APP, ["User.Read.All", "Policy.Read.All"])
    header = json.loads(__import__("base64").urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header == {"alg": "none", "typ": "JWT"} and token.endswith(".")
    got = claims(token)
    assert got["aud"] == "https://graph.microsoft.com"
    assert got["iss"] == f"https://sts.windows.net/{CONTOSO}/"
    assert (got["tid"], got["appid"], got["idtyp"]) == (CONTOSO, READER_APP, "app")
    assert got["roles"] == ["Policy.Read.All", "User.Read.All"] and got["exp"] > got["iat"]
    for opaque in ("token-contoso-app1", "a.b.c", "x..", "", "e30.bm90IGpzb24.x"):
        assert claims(opaque) is None
    assert plain_app_id(CONTOSO_TOKEN) == plain_app_id(CONTOSO_TOKEN) != plain_app_id("other")
    assert Emulator(None, router=None).app_id(CONTOSO_TOKEN) == plain_app_id(CONTOSO_TOKEN)


def test_fixture_tokens_map_to_app_and_roles():
    jwt = app_token(CONTOSO, READER_APP, ["User.Read.All"])
    directory = load_directory(_with_tokens(
        {"token": "scoped", "appId": READER_APP.upper(), "roles": ["Domain.Read.All"]},
        {"token": "no-roles-field", "appId": "5d2c0a3e-1111-4aaa-8bbb-000000000002"},
        jwt, {"token": app_token(CONTOSO, "5d2c0a3e-1111-4aaa-8bbb-000000000003", []),
              "roles": []}))
    grants = directory.tenant(CONTOSO).grants
    assert grants[CONTOSO_TOKEN] == (plain_app_id(CONTOSO_TOKEN), None)
    assert grants["scoped"] == (READER_APP, frozenset({"Domain.Read.All"}))
    assert grants["no-roles-field"][1] is None
    assert grants[jwt] == (READER_APP, frozenset({"User.Read.All"}))   # from the claims
    apps = {a["appId"]: a for a in directory.tenant(CONTOSO).applications.values()}
    assert apps[plain_app_id(CONTOSO_TOKEN)]["displayName"] == \
        f"tenantsync app {plain_app_id(CONTOSO_TOKEN)[:8]}"
    assert READER_APP in apps and "5d2c0a3e-1111-4aaa-8bbb-000000000003" in apps


@pytest.mark.parametrize("entry,message", [
    (42, r"tenant 1111.* tokens\[1\]: expected a string or an object"),
    ({"appId": READER_APP}, r"tokens\[1\]: 'token' is required"),
    ({"token": "t", "appId": "not-a-guid"}, r"tokens\[1\]: 'appId' must be a GUID"),
    ({"token": "t", "roles": "User.Read.All"}, r"tokens\[1\]: 'roles' must be a list"),
    ({"token": "t", "scopes": []}, r"tokens\[1\]: unknown field 'scopes'"),
    (CONTOSO_TOKEN, r"tokens\[1\]: duplicate token"),
    ({"token": app_token(CONTOSO, READER_APP, []), "appId": _uid(1, 1)},
     r"tokens\[1\]: 'appId' contradicts the token's 'appid' claim"),
    ({"token": app_token(CONTOSO, READER_APP, ["User.Read.All"]), "roles": ["Directory.Read.All"]},
     r"tokens\[1\]: 'roles' contradict the token's 'roles' claim"),
    (app_token("22222222-2222-4222-8222-222222222222", READER_APP, []),
     r"tokens\[1\]: the token's 'tid' claim names another tenant"),
], ids=lambda v: "jwt" if isinstance(v, str) and len(v) > 80 else None)   # a token holds its iat: one id for xdist
def test_malformed_token_entries_are_named(entry, message):
    with pytest.raises(FixtureError, match=message):
        load_directory(_with_tokens(entry))


def test_every_route_has_a_documented_rule():
    templates = {(r.method, r.template) for r in ROUTES}
    assert templates == set(RULES)
    for key, rule in RULES.items():
        assert rule.page and (rule.any_of or key == ("POST", "/$batch")), key


def test_a_reader_reads_and_is_refused_everything_else(emu, http):
    emu.reset(_with_tokens({"token": "reader", "appId": READER_APP,
                            "roles": ["User.Read.All"]}))
    c = http("reader")
    assert c.get("/users", params={"$select": "id"}).status_code == 200
    assert c.get(f"/users/{U1}").status_code == 200
    assert c.get("/users/delta").status_code == 200
    refused = [
        c.patch(f"/users/{U1}", json={"jobTitle": "x"}),
        c.delete(f"/users/{U1}"),
        c.post("/invitations", json={"invitedUserEmailAddress": "a@b.com",
                                     "inviteRedirectUrl": "https://myapps.microsoft.com"}),
        c.get("/groups/delta"),                                   # GroupMember.Read.All
        c.get(f"/users/{U1}/memberOf"),                           # Directory.Read.All
        c.get(f"/users/{U1}/authentication/phoneMethods"),        # UserAuthenticationMethod.*
        c.get("/domains"), c.get("/organization"),
        c.get("/policies/authorizationPolicy"),
        c.get("/policies/crossTenantAccessPolicy/partners"),
        c.post("/directoryObjects/getByIds", json={"ids": [U1]}),
        c.get("/applications"),
    ]
    assert all(_denied(r) for r in refused), [r.status_code for r in refused]
    assert refused[0].headers["x-ms-resource-unit"] == "0"       # refused before throttling
    assert emu.dump(CONTOSO)["users"][0]["jobTitle"] == "Engineer"


def test_read_write_grants_read_and_delete_restore_is_its_own(emu, http):
    emu.reset(_with_tokens({"token": "writer", "roles": ["User.ReadWrite.All"]},
                           {"token": "recycler", "roles": ["User.DeleteRestore.All"]}))
    w, rec = http("writer"), http("recycler")
    assert w.get(f"/users/{U1}").status_code == 200              # ReadWrite covers Read
    assert w.patch(f"/users/{U1}", json={"jobTitle": "Lead"}).status_code == 204
    assert w.delete(f"/users/{U1}").status_code == 204
    assert w.get("/directory/deletedItems/microsoft.graph.user").status_code == 200
    assert _denied(w.delete(f"/directory/deletedItems/{U1}"))   # permanent delete: not listed
    assert _denied(rec.get(f"/users/{U1}"))
    assert rec.post(f"/directory/deletedItems/{U1}/restore").status_code == 200
    assert rec.delete(f"/users/{U1}").status_code == 204
    assert rec.delete(f"/directory/deletedItems/{U1}").status_code == 204


def test_narrow_permissions_cover_their_properties_only(emu, http):
    emu.reset(_with_tokens({"token": "switch", "roles": ["User.EnableDisableAccount.All"]}))
    c = http("switch")
    assert c.patch(f"/users/{U2}", json={"accountEnabled": False}).status_code == 204
    assert _denied(c.patch(f"/users/{U2}", json={"accountEnabled": True, "jobTitle": "x"}))
    assert _denied(c.patch(f"/users/{U2}", json={"displayName": "x"}))
    user = [u for u in emu.dump(CONTOSO)["users"] if u["id"] == U2][0]
    assert user["accountEnabled"] is False and user["displayName"] == "Contoso User 2"


def test_batch_items_are_checked_one_by_one(emu, http):
    emu.reset(_with_tokens({"token": "reader", "roles": ["User.Read.All"]}))
    r = http("reader").post("/$batch", json={"requests": [
        {"id": "1", "method": "GET", "url": f"/users/{U1}?$select=id"},
        {"id": "2", "method": "PATCH", "url": f"/users/{U1}", "headers": JSON_H,
         "body": {"jobTitle": "x"}},
        {"id": "3", "method": "GET", "url": "/groups/delta"}]})
    assert r.status_code == 200
    out = {item["id"]: item for item in r.json()["responses"]}
    assert out["1"]["status"] == 200 and out["1"]["body"]["id"] == U1
    for item_id in ("2", "3"):
        assert out[item_id]["status"] == 403
        assert out[item_id]["body"]["error"]["code"] == "Authorization_RequestDenied"


def test_jwt_token_roles_are_enforced_and_plain_tokens_hold_everything(emu, http):
    jwt = app_token(CONTOSO, READER_APP, ["Domain.Read.All", "Policy.Read.All"])
    emu.reset(_with_tokens(jwt))
    c = http(jwt)
    assert c.get("/domains").status_code == 200
    assert c.get("/policies/crossTenantAccessPolicy/partners").status_code == 200
    assert _denied(c.get("/users"))
    plain = http(CONTOSO_TOKEN)
    assert plain.patch(f"/users/{U1}", json={"jobTitle": "x"}).status_code == 204
    assert plain.get("/groups/delta").status_code == 200
    assert http(None).get(emu.base + "/_emulator/health").status_code == 200  # not Graph
