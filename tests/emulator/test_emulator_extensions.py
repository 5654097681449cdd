"""Directory extensions: applications, extensionProperties, and strict extension names on users.

The emulator must refuse an `extension_*` name that is not registered in the tenant, as Graph
does; otherwise a product that writes an invented anchor passes every test and fails in a real
tenant after creating the guest.
"""

from __future__ import annotations

import pytest

from tenantsync.emulator.fixture import FixtureError, load_directory
from tenantsync.emulator.tokens import plain_app_id

from .emulator_world import (
    CONTOSO,
    CONTOSO_TOKEN,
    EXT,
    EXT_APP_ID,
    FABRIKAM_TOKEN,
    _uid,
    build_fixture,
    ext_application,
)

U1, U2 = _uid(0xC0, 1), _uid(0xC0, 2)
SALES = _uid(0xC6, 1)
HEX = EXT_APP_ID.replace("-", "")
UNREGISTERED = f"extension_{HEX}_neverRegistered"


def _app_object_id(c, app_id: str = EXT_APP_ID) -> str:
    r = c.get("/applications", params={"$filter": f"appId eq '{app_id}'"})
    assert r.status_code == 200 and len(r.json()["value"]) == 1
    return r.json()["value"][0]["id"]


def _user(emu, uid: str) -> dict:
    return [u for u in emu.dump(CONTOSO)["users"] if u["id"] == uid][0]


def test_fixture_registers_extensions_and_each_tokens_application(emu, http):
    c = http()
    app_id = _app_object_id(c)
    app = c.get(f"/applications(appId='{EXT_APP_ID}')").json()
    assert app["id"] == app_id and app["appId"] == EXT_APP_ID
    assert app["displayName"] == "tenantsync tests"
    assert c.get(f"/applications/{app_id}").json()["appId"] == EXT_APP_ID
    exts = c.get(f"/applications/{app_id}/extensionProperties").json()["value"]
    assert [{k: e[k] for k in ("name", "dataType", "isMultiValued", "isSyncedFromOnPremises",
                               "targetObjects", "appDisplayName", "deletedDateTime")}
            for e in exts] == [{"name": EXT, "dataType": "String", "isMultiValued": False,
                                "isSyncedFromOnPremises": False, "targetObjects": ["User"],
                                "appDisplayName": "tenantsync tests", "deletedDateTime": None}]
    own = plain_app_id(CONTOSO_TOKEN)                 # the plain token's own application
    mine = c.get(f"/applications(appId='{own}')")
    assert mine.status_code == 200 and mine.json()["displayName"] == f"tenantsync app {own[:8]}"
    missing = c.get("/applications(appId='00000000-0000-4000-8000-00000000beef')")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "Request_ResourceNotFound"


def test_register_write_read_filter_then_delete(emu, http):
    c = http()
    own = plain_app_id(CONTOSO_TOKEN)
    name = f"extension_{own.replace('-', '')}_sourceAnchor"
    r = c.post(f"/applications(appId='{own}')/extensionProperties",
               json={"name": "sourceAnchor", "dataType": "String", "targetObjects": ["User"]})
    assert r.status_code == 201
    ext = r.json()
    assert ext["name"] == name and ext["dataType"] == "String" and ext["targetObjects"] == ["User"]
    assert ext["@odata.context"].endswith("/extensionProperties/$entity")
    assert c.patch(f"/users/{U1}", json={name: "src-1"}).status_code == 204
    got = c.get(f"/users/{U1}", params={"$select": f"id,{name}"}).json()
    assert got[name] == "src-1"
    found = c.get("/users", params={"$filter": f"{name} eq 'src-1'", "$select": "id"}).json()
    assert [u["id"] for u in found["value"]] == [U1]
    avail = c.post("/directoryObjects/getAvailableExtensionProperties", json={}).json()
    assert {e["name"] for e in avail["value"]} == {EXT, name}
    assert all(e["@odata.type"] == "#microsoft.graph.extensionProperty" for e in avail["value"])
    app_id = _app_object_id(c, own)
    assert c.delete(f"/applications/{app_id}/extensionProperties/{ext['id']}").status_code == 204
    r = c.patch(f"/users/{U1}", json={name: "src-2"})
    assert r.status_code == 400 and name in r.json()["error"]["message"]
    assert c.get(f"/users/{U1}", params={"$select": f"id,{name}"}).status_code == 400
    assert name not in _user(emu, U1)                  # the values went with the definition
    assert c.delete(f"/applications/{app_id}/extensionProperties/{ext['id']}").status_code == 404


def test_unregistered_names_are_refused_everywhere(emu, http):
    c = http()
    r = c.patch(f"/users/{U1}", json={"jobTitle": "Lead", UNREGISTERED: "x"})
    assert r.status_code == 400
    assert r.json()["error"] == {**r.json()["error"], "code": "Request_BadRequest",
                                 "message": "The following extension properties are not "
                                            f"available: {UNREGISTERED}."}
    assert _user(emu, U1)["jobTitle"] == "Engineer"   # nothing of the request was applied
    wrong_case = EXT.replace("tenantsyncAnchor", "TenantsyncAnchor")   # names are case-sensitive
    assert c.patch(f"/users/{U1}", json={wrong_case: "x"}).status_code == 400
    assert c.post("/users", json={
        "accountEnabled": True, "displayName": "N", "mailNickname": "n",
        "userPrincipalName": "n@contoso.com", "passwordProfile": {"password": "Secr3t!"},
        UNREGISTERED: "x"}).status_code == 400
    for params in ({"$select": f"id,{UNREGISTERED}"}, {"$filter": f"{UNREGISTERED} eq 'x'"}):
        for path in ("/users", f"/users/{U1}", "/users/delta"):
            r = c.get(path, params=params)
            if path == f"/users/{U1}" and "$filter" in params:
                continue
            assert r.status_code == 400, (path, params)
            if "$select" in params:
                assert r.json()["error"]["message"] == (
                    f"Could not find a property named '{UNREGISTERED}' on type "
                    "'microsoft.graph.user'.")
    assert c.patch(f"/users/{U1}", json={EXT: "ok"}).status_code == 204   # registered: fine


def test_registration_errors_are_graphs(emu, http):
    c = http()
    app_id = _app_object_id(c)
    ext_path = f"/applications/{app_id}/extensionProperties"
    dup = c.post(ext_path, json={"name": "tenantsyncAnchor", "dataType": "String",
                                 "targetObjects": ["User"]})
    assert dup.status_code == 400
    assert dup.json()["error"]["code"] == "Request_MultipleObjectsWithSameKeyValue"
    assert dup.json()["error"]["message"] == f"An extension property exists with the name {EXT}."
    for body, field in (({"name": "x", "dataType": "Reference", "targetObjects": ["User"]},
                         "dataType"),
                        ({"name": "x", "dataType": "String", "targetObjects": ["user"]},
                         "targetObjects"),
                        ({"name": "bad-name", "dataType": "String", "targetObjects": ["User"]},
                         "name")):
        r = c.post(ext_path, json=body)
        assert r.status_code == 400 and r.json()["error"]["message"] == (
            f"Invalid value specified for property '{field}' of resource 'ExtensionProperty'.")
    r = c.post("/applications/00000000-0000-4000-8000-00000000beef/extensionProperties",
               json={"name": "x", "dataType": "String", "targetObjects": ["User"]})
    assert r.status_code == 404
    assert len(c.get(ext_path).json()["value"]) == 1


def test_values_follow_the_data_type(emu, http):
    c = http()
    app_id = _app_object_id(c)
    path = f"/applications/{app_id}/extensionProperties"
    flag = c.post(path, json={"name": "flag", "dataType": "Boolean",
                              "targetObjects": ["User"]}).json()["name"]
    tags = c.post(path, json={"name": "tags", "dataType": "String", "isMultiValued": True,
                              "targetObjects": ["User", "Group"]}).json()["name"]
    assert c.patch(f"/users/{U1}", json={flag: "yes"}).status_code == 400
    assert c.patch(f"/users/{U1}", json={EXT: "x" * 257}).status_code == 400
    assert c.patch(f"/users/{U1}", json={flag: True, tags: ["a", "b"]}).status_code == 204
    assert c.patch(f"/users/{U1}", json={tags: "a"}).status_code == 400
    assert c.patch(f"/groups/{SALES}", json={tags: ["g"]}).status_code == 204
    assert c.patch(f"/groups/{SALES}", json={flag: True}).status_code == 400   # User only
    got = c.get(f"/users/{U1}", params={"$select": f"{flag},{tags}"}).json()
    assert (got[flag], got[tags]) == (True, ["a", "b"])
    assert c.patch(f"/users/{U1}", json={flag: None}).status_code == 204
    assert c.get(f"/users/{U1}", params={"$select": flag}).json()[flag] is None


def test_owned_by_acts_on_the_callers_own_application_only(emu, http):
    fixture = build_fixture()
    own = "5d2c0a3e-2222-4aaa-8bbb-000000000001"
    fixture["tenants"][0]["tokens"].append({"token": "setup", "appId": own,
                                            "roles": ["Application.ReadWrite.OwnedBy"]})
    emu.reset(fixture)
    c = http("setup")
    listed = c.get("/applications").json()["value"]
    assert [a["appId"] for a in listed] == [own]
    r = c.post(f"/applications(appId='{own}')/extensionProperties",
               json={"name": "anchor", "dataType": "String", "targetObjects": ["User"]})
    assert r.status_code == 201
    other = http(CONTOSO_TOKEN)
    r = c.post(f"/applications/{_app_object_id(other)}/extensionProperties",
               json={"name": "anchor", "dataType": "String", "targetObjects": ["User"]})
    assert r.status_code == 403 and r.json()["error"]["code"] == "Authorization_RequestDenied"
    assert c.patch(f"/users/{U1}", json={"jobTitle": "x"}).status_code == 403   # not a user writer


def test_fixture_extension_errors_name_tenant_object_and_field():
    def load(mutate):
        fixture = build_fixture()
        mutate(fixture["tenants"][0])
        return load_directory(fixture)

    with pytest.raises(FixtureError, match=r"tenant 1111.* users\[0\]: 'extension_abc_x' is not "
                                           "a directory extension registered"):
        load(lambda t: t["users"][0].update(extension_abc_x="v"))
    with pytest.raises(FixtureError, match=r"applications\[0\] extensionProperties\[0\]: Invalid "
                                           "value specified for property 'dataType'"):
        load(lambda t: t["applications"][0]["extensionProperties"][0].update(dataType="Text"))
    with pytest.raises(FixtureError, match=r"applications\[1\]: 'appId' is required"):
        load(lambda t: t["applications"].append({"displayName": "no appId"}))
    with pytest.raises(FixtureError, match=r"applications\[1\]: duplicate application"):
        load(lambda t: t["applications"].append(ext_application()))
    with pytest.raises(FixtureError, match=r"extensionProperties\[0\]: 'name' is the short name"):
        load(lambda t: t["applications"][0]["extensionProperties"][0].update(
            name="extension_0000_tenantsyncAnchor"))
    full = load(lambda t: t["applications"][0]["extensionProperties"][0].update(name=EXT))
    assert EXT in full.tenant(CONTOSO).user_props.extensions
    assert load_directory(build_fixture()).tenant(CONTOSO).user_props.canonical(EXT) == EXT


def test_extension_registered_in_one_tenant_only(emu, http):
    fixture = build_fixture()
    fixture["tenants"][1]["applications"] = []
    for user in fixture["tenants"][1]["users"]:
        user.pop(EXT, None)
    emu.reset(fixture)
    r = http(FABRIKAM_TOKEN).patch(f"/users/{_uid(0xFA, 1)}", json={EXT: "x"})
    assert r.status_code == 400 and "not available" in r.json()["error"]["message"]
    assert http(CONTOSO_TOKEN).patch(f"/users/{U2}", json={EXT: "x"}).status_code == 204
