"""Directory extensions: application-post-extensionproperty, application-list-extensionproperty,
extensionproperty-delete, directoryobject-getavailableextensionproperties, application-get /
application-list by appId, and extension values on users (user-update, user-get, user-list).

The product keeps its source anchor in a directory extension; Graph only knows registered names
`extension_<appId without dashes>_<name>`, so an unregistered name must be refused here as it
would be in a real tenant.
"""

from __future__ import annotations

from tests.contract.doc import auth, context_is, error_of, expect, page
from tests.contract.world import ADELE, B2C_APP, B2C_APP_ID, GRADY, JOBGROUP_EXT, SAMPLE_APP, SAMPLE_APP_ID, SKYPE_EXT

JOB_GROUP = {"name": "jobGroup", "dataType": "String", "targetObjects": ["User"]}
EXT_KEYS = {"id", "deletedDateTime", "appDisplayName", "dataType", "isSyncedFromOnPremises",
            "name", "targetObjects"}


def register(graph, app: str = B2C_APP, body: dict | None = None) -> dict:
    resp = graph.post(f"/applications/{app}/extensionProperties", headers=auth(),
                      json=body or JOB_GROUP)
    return expect(resp, 201)


@page("application-post-extensionproperty", "201-name-prefixed-with-appid")
def test_register(graph, doc_page):
    body = register(graph)
    context_is(body, f"applications('{B2C_APP}')/extensionProperties/$entity")
    assert EXT_KEYS <= set(body), sorted(body)
    assert body["name"] == JOBGROUP_EXT                 # extension_<appId without dashes>_jobGroup
    assert body["dataType"] == "String" and body["targetObjects"] == ["User"]
    assert body["isSyncedFromOnPremises"] is False and body["deletedDateTime"] is None
    assert body["appDisplayName"].startswith("b2c-extensions-app")


@page("application-list-extensionproperty", "200-lists-the-application's-definitions")
def test_list(graph, doc_page):
    created = register(graph)
    body = expect(graph.get(f"/applications/{B2C_APP}/extensionProperties", headers=auth()), 200)
    context_is(body, f"applications('{B2C_APP}')/extensionProperties")
    assert [e["name"] for e in body["value"]] == [JOBGROUP_EXT]
    assert body["value"][0]["id"] == created["id"]
    other = expect(graph.get(f"/applications/{SAMPLE_APP}/extensionProperties",
                             headers=auth()), 200)
    assert [e["name"] for e in other["value"]] == [SKYPE_EXT]


@page("application-list-extensionproperty", "200-filter-eq-on-name")
def test_list_filter(graph, doc_page):
    register(graph)
    register(graph, body={"name": "costCenter", "dataType": "String", "targetObjects": ["User"]})
    body = expect(graph.get(f"/applications/{B2C_APP}/extensionProperties", headers=auth(),
                            params={"$filter": f"name eq '{JOBGROUP_EXT}'"}), 200)
    assert [e["name"] for e in body["value"]] == [JOBGROUP_EXT]


@page("extensionproperty-delete", "204-then-gone-from-list-and-from-users")
def test_delete(graph, doc_page):
    created = register(graph)
    expect(graph.patch(f"/users/{ADELE}", headers=auth(), json={JOBGROUP_EXT: "JobGroupN"}), 204)
    resp = graph.delete(f"/applications/{B2C_APP}/extensionProperties/{created['id']}",
                        headers=auth())
    expect(resp, 204)
    assert resp.content == b""
    body = expect(graph.get(f"/applications/{B2C_APP}/extensionProperties", headers=auth()), 200)
    assert body["value"] == []
    # No longer a registered extension: writing it is refused like any unknown property.
    error_of(graph.patch(f"/users/{ADELE}", headers=auth(), json={JOBGROUP_EXT: "x"}), 400)


@page("directoryobject-getavailableextensionproperties", "200-registered-definitions")
def test_available(graph, doc_page):
    register(graph)
    body = expect(graph.post("/directoryObjects/getAvailableExtensionProperties",
                             headers=auth(), json={}), 200)
    context_is(body, "Collection(extensionProperty)")
    by_name = {e["name"]: e for e in body["value"]}
    assert {SKYPE_EXT, JOBGROUP_EXT} <= set(by_name), sorted(by_name)
    skype = by_name[SKYPE_EXT]
    assert skype["@odata.type"] == "#microsoft.graph.extensionProperty"
    assert skype["appDisplayName"] == "SampleApp" and skype["dataType"] == "String"
    assert skype["targetObjects"] == ["User"] and skype["isSyncedFromOnPremises"] is False


@page("directoryobject-getavailableextensionproperties", "200-synced-only-filter")
def test_available_synced_only(graph, doc_page):
    # isSyncedFromOnPremises true: "only extension properties that are synced from the
    # on-premises directory should be returned" - none of this tenant's are.
    body = expect(graph.post("/directoryObjects/getAvailableExtensionProperties",
                             headers=auth(), json={"isSyncedFromOnPremises": True}), 200)
    assert body["value"] == []
    body = expect(graph.post("/directoryObjects/getAvailableExtensionProperties",
                             headers=auth(), json={"isSyncedFromOnPremises": False}), 200)
    assert SKYPE_EXT in {e["name"] for e in body["value"]}


@page("application-get", "200-by-appId-key")
def test_application_by_app_id(graph, doc_page):
    body = expect(graph.get(f"/applications(appId='{SAMPLE_APP_ID}')", headers=auth()), 200)
    assert body["id"] == SAMPLE_APP and body["appId"] == SAMPLE_APP_ID
    assert body["displayName"] == "SampleApp"


@page("application-list", "200-filter-appId-eq")
def test_application_list_filter(graph, doc_page):
    body = expect(graph.get("/applications", headers=auth(),
                            params={"$filter": f"appId eq '{B2C_APP_ID}'"}), 200)
    context_is(body, "applications")
    assert [a["id"] for a in body["value"]] == [B2C_APP]


@page("user-update", "204-registered-extension-then-select-and-filter")
def test_extension_value_on_user(graph, doc_page):
    expect(graph.patch(f"/users/{ADELE}", headers=auth(), json={SKYPE_EXT: "adele.vance"}), 204)
    # user-get: directory extensions are "Returned only with $select".
    plain = expect(graph.get(f"/users/{ADELE}", headers=auth()), 200)
    assert SKYPE_EXT not in plain
    chosen = expect(graph.get(f"/users/{ADELE}", headers=auth(),
                              params={"$select": f"id,{SKYPE_EXT}"}), 200)
    assert chosen[SKYPE_EXT] == "adele.vance"
    # user-list: directory extensions support $filter (eq, ne, and eq on null values).
    found = expect(graph.get("/users", headers=auth(), params={
        "$filter": f"{SKYPE_EXT} eq 'adele.vance'", "$select": f"id,{SKYPE_EXT}"}), 200)
    assert [u["id"] for u in found["value"]] == [ADELE]
    nulls = expect(graph.get("/users", headers=auth(), params={
        "$filter": f"{SKYPE_EXT} eq null", "$select": "id"}), 200)
    assert ADELE not in {u["id"] for u in nulls["value"]} and GRADY in \
        {u["id"] for u in nulls["value"]}


@page("user-update", "400-unregistered-extension-name")
def test_unregistered_extension(graph, doc_page):
    # Registered names are extension_<appId>_<name>; this one was never registered.
    name = "extension_0a1b2c3d4e5f40718293a4b5c6d7e8f9_tenantsyncAnchor"
    error_of(graph.patch(f"/users/{ADELE}", headers=auth(), json={name: "a/b"}), 400)
    error_of(graph.get(f"/users/{ADELE}", headers=auth(), params={"$select": f"id,{name}"}), 400)
    error_of(graph.get("/users", headers=auth(), params={"$filter": f"{name} eq 'a/b'"}), 400)


@page("user-update", "400-extension-not-targeting-users")
def test_extension_for_groups_only(graph, doc_page):
    """extensionProperty targetObjects: "The Microsoft Graph resources that can use the extension
    property" - a Group-only definition is not a user property."""
    body = register(graph, body={"name": "groupCode", "dataType": "String",
                                 "targetObjects": ["Group"]})
    error_of(graph.patch(f"/users/{ADELE}", headers=auth(), json={body["name"]: "x"}), 400)
