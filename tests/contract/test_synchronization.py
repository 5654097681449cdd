"""Microsoft's provisioning service through Graph: the cross-tenant synchronization sequence of
cross-tenant-synchronization-configure-graph (steps 6 to 12), replayed on the contract tenant
with the request and response examples of each page:
applicationtemplate-instantiate, serviceprincipal-list, serviceprincipal-get,
serviceprincipal-post-approleassignedto, serviceprincipal-list-approleassignedto,
serviceprincipal-delete-approleassignedto, synchronization-serviceprincipal-put-synchronization,
synchronization-synchronizationjob-validatecredentials, synchronization-synchronization-post-jobs,
synchronization-synchronization-list-jobs, synchronization-synchronizationjob-get,
synchronization-synchronizationschema-get, synchronization-synchronizationschema-update,
synchronization-synchronizationjob-start, -pause, -restart, -delete and
synchronization-synchronizationjob-provisionondemand.

The contract tenant (Contoso) is the source; the partner "Fabrikam" of the pages' examples
(PARTNER_SYNCED) becomes a second tenant, the target, whose policy allows the sync.
"""

from __future__ import annotations

import json

import httpx
import pytest

from tests.contract.doc import auth, context_is, error_of, expect, page
from tests.contract.world import ADELE, ALL_USERS, JOHANNA, PARTNER_SYNCED, TENANT, build_fixture

CTS_TEMPLATE = "518e5f48-1fc8-4c48-9387-9fdf28b0dfe7"
TARGET_TOKEN = "contract-token-fabrikam"
JOB_KEYS = {"id", "templateId", "schedule", "status", "synchronizationJobSettings"}


def _fixture() -> dict:
    fixture = build_fixture()
    source = fixture["tenants"][0]
    for user in source["users"]:              # every Entra user has one (mapped by default)
        user.setdefault("mailNickname", user["userPrincipalName"].split("@")[0].split("#")[0])
    for partner in source["crossTenantAccessPolicy"]["partners"]:
        if partner["tenantId"] == PARTNER_SYNCED:          # step 5: outbound auto-redemption
            partner["automaticUserConsentSettings"] = {"inboundAllowed": False,
                                                       "outboundAllowed": True}
    fixture["tenants"].append({                              # steps 2-3, in the target
        "id": PARTNER_SYNCED, "displayName": "Fabrikam", "defaultDomain": "fabrikam.onmicrosoft.com",
        "tokens": [TARGET_TOKEN], "premium": True,
        "crossTenantAccessPolicy": {"partners": [{
            "tenantId": TENANT,
            "automaticUserConsentSettings": {"inboundAllowed": True, "outboundAllowed": False},
            "identitySynchronization": {"displayName": "Contoso",
                                        "userSyncInbound": {"isSyncAllowed": True}}}]},
        "users": [], "groups": []})
    return fixture


@pytest.fixture
def cts(emu, graph):
    """The two tenants; jobs created by a test are deleted after it (their threads stop)."""
    emu.reset(_fixture())
    yield graph
    for sp in expect(graph.get("/servicePrincipals", headers=auth()), 200)["value"]:
        base = f"/servicePrincipals/{sp['id']}/synchronization/jobs"
        for job in expect(graph.get(base, headers=auth()), 200)["value"]:
            graph.delete(f"{base}/{job['id']}", headers=auth())


def cts_target_users(cts: httpx.Client) -> list[dict]:
    """The target tenant's users, read with its own token."""
    return expect(cts.get("/users", headers=auth(TARGET_TOKEN),
                          params={"$select": "id,displayName"}), 200)["value"]


def _instantiate(graph: httpx.Client, name: str = "Fabrikam") -> dict:
    resp = graph.post(f"/applicationTemplates/{CTS_TEMPLATE}/instantiate", headers=auth(),
                      json={"displayName": name})
    return expect(resp, 201)


def _job(graph: httpx.Client, sp_id: str) -> dict:
    resp = graph.post(f"/servicePrincipals/{sp_id}/synchronization/jobs", headers=auth(),
                      json={"templateId": "Azure2Azure"})
    return expect(resp, 201)


@page("applicationtemplate-instantiate", "201-cts-configuration-application")
def test_instantiate_creates_application_and_service_principal(cts, doc_page):
    body = _instantiate(cts)
    context_is(body, "microsoft.graph.applicationServicePrincipal")
    app, sp = body["application"], body["servicePrincipal"]
    assert app["applicationTemplateId"] == sp["applicationTemplateId"] == CTS_TEMPLATE
    assert app["displayName"] == sp["displayName"] == sp["appDisplayName"] == "Fabrikam"
    assert app["appId"] == sp["appId"] and sp["id"] != app["id"]
    assert sp["appRoleAssignmentRequired"] is True and sp["accountEnabled"] is True
    assert sp["servicePrincipalType"] == "Application" and sp["appOwnerOrganizationId"] == TENANT
    assert sp["servicePrincipalNames"] == [sp["appId"]]
    (role,) = sp["appRoles"]
    assert (role["displayName"], role["allowedMemberTypes"], role["isEnabled"]) == \
        ("msiam_access", ["User"], True)
    assert app["appRoles"][0]["id"] == role["id"]
    assert not any(k.startswith("_") for k in sp)
    created = expect(cts.get(f"/applications/{app['id']}", headers=auth()), 200)
    assert created["appId"] == app["appId"]                   # an ordinary application too


@page("applicationtemplate-instantiate", "404-unknown-template")
def test_instantiate_refuses_unknown_template_and_missing_name(cts, doc_page):
    error_of(cts.post("/applicationTemplates/00000000-1111-2222-3333-444444444444/instantiate",
                      headers=auth(), json={"displayName": "x"}), 404)
    error_of(cts.post(f"/applicationTemplates/{CTS_TEMPLATE}/instantiate", headers=auth(),
                      json={}), 400)


@page("serviceprincipal-list", "200-filter-by-displayName")
def test_find_service_principal_by_display_name(cts, doc_page):
    sp = _instantiate(cts)["servicePrincipal"]
    _instantiate(cts, "Other configuration")
    body = expect(cts.get("/servicePrincipals", headers=auth(),
                          params={"$filter": "displayName eq 'Fabrikam'"}), 200)
    context_is(body, "servicePrincipals")
    assert [s["id"] for s in body["value"]] == [sp["id"]]
    assert body["value"][0]["appRoles"][0]["displayName"] == "msiam_access"
    selected = expect(cts.get("/servicePrincipals", headers=auth(),
                              params={"$select": "id,displayName"}), 200)
    assert all(set(s) == {"id", "displayName"} for s in selected["value"])
    assert len(selected["value"]) == 2


@page("serviceprincipal-get", "200-by-id-and-by-appId")
def test_get_service_principal(cts, doc_page):
    sp = _instantiate(cts)["servicePrincipal"]
    body = expect(cts.get(f"/servicePrincipals/{sp['id']}", headers=auth()), 200)
    context_is(body, "servicePrincipals/$entity")
    assert body["id"] == sp["id"] and body["appRoleAssignmentRequired"] is True
    by_app = expect(cts.get(f"/servicePrincipals(appId='{sp['appId']}')", headers=auth()), 200)
    assert by_app["id"] == sp["id"]
    error_of(cts.get("/servicePrincipals/6f2f3c38-0000-4000-8000-000000000000",
                     headers=auth()), 404, "Request_ResourceNotFound")


@page("serviceprincipal-post-approleassignedto", "201-user-and-group-assigned")
def test_assign_users_and_groups(cts, doc_page):
    sp = _instantiate(cts)["servicePrincipal"]
    url = f"/servicePrincipals/{sp['id']}/appRoleAssignedTo"
    role = sp["appRoles"][0]["id"]
    user = expect(cts.post(url, headers=auth(), json={
        "appRoleId": role, "resourceId": sp["id"], "principalId": ADELE}), 201)
    context_is(user, f"servicePrincipals('{sp['id']}')/appRoleAssignedTo/$entity")
    assert (user["principalId"], user["principalType"], user["principalDisplayName"]) == \
        (ADELE, "User", "Adele Vance")
    assert (user["resourceId"], user["resourceDisplayName"], user["appRoleId"]) == \
        (sp["id"], "Fabrikam", role)
    assert isinstance(user["id"], str) and user["deletedDateTime"] is None
    group = expect(cts.post(url, headers=auth(), json={
        "appRoleId": role, "resourceId": sp["id"], "principalId": ALL_USERS}), 201)
    assert (group["principalType"], group["principalDisplayName"]) == ("Group", "All Users")
    again = error_of(cts.post(url, headers=auth(), json={
        "appRoleId": role, "resourceId": sp["id"], "principalId": ADELE}), 400)
    assert again["message"] == "Permission being assigned already exists on the object."
    error_of(cts.post(url, headers=auth(), json={      # resourceId is the URL's service principal
        "appRoleId": role, "resourceId": ALL_USERS, "principalId": JOHANNA}), 400)
    error_of(cts.post(url, headers=auth(), json={
        "appRoleId": role, "resourceId": sp["id"],
        "principalId": "0badc0de-0000-4000-8000-000000000000"}), 404)


@page("serviceprincipal-list-approleassignedto", "200-then-delete-204")
def test_list_and_remove_assignments(cts, doc_page):
    sp = _instantiate(cts)["servicePrincipal"]
    url = f"/servicePrincipals/{sp['id']}/appRoleAssignedTo"
    role = sp["appRoles"][0]["id"]
    ids = [expect(cts.post(url, headers=auth(), json={
        "appRoleId": role, "resourceId": sp["id"], "principalId": p}), 201)["id"]
        for p in (ADELE, JOHANNA)]
    body = expect(cts.get(url, headers=auth()), 200)
    context_is(body, f"servicePrincipals('{sp['id']}')/appRoleAssignedTo")
    assert [a["id"] for a in body["value"]] == ids
    paged = expect(cts.get(url, headers=auth(), params={"$top": "1"}), 200)
    assert len(paged["value"]) == 1 and "@odata.nextLink" in paged
    resp = cts.delete(f"{url}/{ids[0]}", headers=auth())        # -delete-approleassignedto
    expect(resp, 204)
    assert [a["principalId"] for a in expect(cts.get(url, headers=auth()), 200)["value"]] == \
        [JOHANNA]
    error_of(cts.delete(f"{url}/{ids[0]}", headers=auth()), 404)


@page("synchronization-synchronizationjob-validatecredentials", "204-cts-sync-policy")
def test_validate_credentials(cts, doc_page):
    sp = _instantiate(cts)["servicePrincipal"]
    url = f"/servicePrincipals/{sp['id']}/synchronization/jobs/validateCredentials"
    body = {"useSavedCredentials": False, "templateId": "Azure2Azure",
            "credentials": [{"key": "CompanyId", "value": PARTNER_SYNCED},
                            {"key": "AuthenticationType", "value": "SyncPolicy"}]}
    resp = cts.post(url, headers=auth(), json=body)
    expect(resp, 204)
    assert resp.content == b""
    unknown = {**body, "credentials": [{"key": "CompanyId",
                                        "value": "00000000-aaaa-4aaa-8aaa-000000000000"},
                                       {"key": "AuthenticationType", "value": "SyncPolicy"}]}
    err = error_of(cts.post(url, headers=auth(), json=unknown), 400)
    assert "00000000-aaaa-4aaa-8aaa-000000000000" in err["message"]


@page("synchronization-synchronization-post-jobs", "201-azure2azure-as-the-cts-guide-shows")
def test_create_job(cts, doc_page):
    sp = _instantiate(cts)["servicePrincipal"]
    job = _job(cts, sp["id"])
    context_is(job, f"servicePrincipals('{sp['id']}')/synchronization/jobs/$entity")
    assert JOB_KEYS <= set(job) and job["templateId"] == "Azure2Azure"
    assert job["schedule"] == {"expiration": None, "interval": "PT40M", "state": "Disabled"}
    status = job["status"]
    assert status["code"] == "Paused" and status["quarantine"] is None
    assert status["lastExecution"] is None and status["countSuccessiveCompleteFailures"] == 0
    assert status["steadyStateFirstAchievedTime"] == "0001-01-01T00:00:00Z"
    assert status["progress"] == [] and status["synchronizedEntryCountByType"] == []
    assert job["synchronizationJobSettings"] == [
        {"name": "AzureIngestionAttributeOptimization", "value": "False"},
        {"name": "LookaheadQueryEnabled", "value": "False"}]
    error_of(cts.post(f"/servicePrincipals/{sp['id']}/synchronization/jobs", headers=auth(),
                      json={"templateId": "BoxOutDelta"}), 400)        # not this app's template
    error_of(cts.post(f"/servicePrincipals/{sp['id']}/synchronization/jobs", headers=auth(),
                      json={}), 400)                                    # templateId required


@page("synchronization-synchronization-list-jobs", "200-and-get-and-delete")
def test_list_get_and_delete_jobs(cts, doc_page):
    sp = _instantiate(cts)["servicePrincipal"]
    job = _job(cts, sp["id"])
    base = f"/servicePrincipals/{sp['id']}/synchronization/jobs"
    listed = expect(cts.get(base, headers=auth()), 200)
    context_is(listed, f"servicePrincipals('{sp['id']}')/synchronization/jobs")
    assert [j["id"] for j in listed["value"]] == [job["id"]]
    got = expect(cts.get(f"{base}/{job['id']}", headers=auth()), 200)   # -synchronizationjob-get
    assert got["id"] == job["id"] and got["schedule"]["interval"] == "PT40M"
    resp = cts.delete(f"{base}/{job['id']}", headers=auth())           # -synchronizationjob-delete
    expect(resp, 204)
    error_of(cts.get(f"{base}/{job['id']}", headers=auth()), 404)
    assert expect(cts.get(base, headers=auth()), 200)["value"] == []


@page("synchronization-serviceprincipal-put-synchronization", "204-cts-secrets")
def test_save_secrets(cts, doc_page):
    sp = _instantiate(cts)["servicePrincipal"]
    url = f"/servicePrincipals/{sp['id']}/synchronization/secrets"
    notify = '{"Enabled":false,"DeleteThresholdEnabled":false,"HumanResourcesLookaheadQueryEnabled":false}'
    resp = cts.put(url, headers=auth(), json={"value": [
        {"key": "AuthenticationType", "value": "SyncPolicy"},
        {"key": "CompanyId", "value": PARTNER_SYNCED},
        {"key": "SyncNotificationSettings", "value": notify},
        {"key": "SyncAll", "value": "false"}]})
    expect(resp, 204)
    assert resp.content == b""
    expect(cts.put(url, headers=auth(), json={"value": [{"key": "SyncAll", "value": "true"}]}),
           204)                                                         # merged by key
    saved = {s["key"]: s["value"] for s in expect(cts.get(url, headers=auth()), 200)["value"]}
    assert saved == {"AuthenticationType": "SyncPolicy", "CompanyId": PARTNER_SYNCED,
                     "SyncNotificationSettings": notify, "SyncAll": "true"}
    bad = error_of(cts.put(url, headers=auth(), json={"value": [
        {"key": "SyncNotificationSettings", "value": ""}]}), 400, "UnknownError")
    assert "InvalidNotificationSettings" in bad["message"]
    error_of(cts.put(url, headers=auth(), json={"value": "CompanyId"}), 400)


@page("synchronization-synchronizationschema-get", "200-user-inbound-user-rule")
def test_schema_get_and_update(cts, doc_page):
    sp = _instantiate(cts)["servicePrincipal"]
    job = _job(cts, sp["id"])
    url = f"/servicePrincipals/{sp['id']}/synchronization/jobs/{job['id']}/schema"
    schema = expect(cts.get(url, headers=auth()), 200)
    context_is(schema, f"servicePrincipals('{sp['id']}')/synchronization/jobs('{job['id']}')"
                       "/schema/$entity")
    assert schema["id"] == job["id"] and schema["version"] == "v1.2"
    (rule,) = schema["synchronizationRules"]
    assert (rule["name"], rule["priority"], rule["editable"]) == ("USER_INBOUND_USER", 1, True)
    assert (rule["sourceDirectoryName"], rule["targetDirectoryName"]) == \
        ("Azure Active Directory", "Azure Active Directory (target tenant)")
    assert {m["key"] for m in rule["metadata"]} >= {"defaultSourceObjectMappings",
                                                     "supportsProvisionOnDemand"}
    # -synchronizationschema-update: the schema is replaced whole; 204
    mapping = rule["objectMappings"][0]
    mapping["scope"]["groups"] = [{"name": "Sales only", "clauses": [{
        "sourceOperandName": "department", "operatorName": "EQUALS",
        "targetOperand": {"values": ["Sales"]}}]}]
    body = {k: v for k, v in schema.items() if not k.startswith("@odata.")}
    resp = cts.put(url, headers=auth(), json=body)
    expect(resp, 204)
    again = expect(cts.get(url, headers=auth()), 200)
    clauses = again["synchronizationRules"][0]["objectMappings"][0]["scope"]["groups"][0]["clauses"]
    assert clauses[0]["targetOperand"]["values"] == ["Sales"]
    error_of(cts.put(url, headers=auth(), json={"directories": []}), 400)


def _configured(cts: httpx.Client) -> tuple[dict, dict]:
    """Steps 6 to 10 of the CTS guide: the application, its job, secrets and one assignment."""
    sp = _instantiate(cts)["servicePrincipal"]
    job = _job(cts, sp["id"])
    expect(cts.put(f"/servicePrincipals/{sp['id']}/synchronization/secrets", headers=auth(),
                   json={"value": [{"key": "AuthenticationType", "value": "SyncPolicy"},
                                   {"key": "CompanyId", "value": PARTNER_SYNCED}]}), 204)
    expect(cts.post(f"/servicePrincipals/{sp['id']}/appRoleAssignedTo", headers=auth(), json={
        "appRoleId": sp["appRoles"][0]["id"], "resourceId": sp["id"], "principalId": JOHANNA}),
        201)                                    # (Adele has SMS sign-in: CTS skips her)
    return sp, job


@page("synchronization-synchronizationjob-start", "204-then-pause-204")
def test_start_and_pause(cts, doc_page):
    sp, job = _configured(cts)
    base = f"/servicePrincipals/{sp['id']}/synchronization/jobs/{job['id']}"
    resp = cts.post(f"{base}/start", headers=auth())
    expect(resp, 204)
    assert expect(cts.get(base, headers=auth()), 200)["schedule"]["state"] == "Active"
    expect(cts.post(f"{base}/pause", headers=auth()), 204)          # -synchronizationjob-pause
    got = expect(cts.get(base, headers=auth()), 200)
    assert got["status"]["code"] == "Paused" and got["schedule"]["state"] == "Paused"


@page("synchronization-synchronizationjob-restart", "204-watermark-escrows-quarantinestate")
def test_restart(cts, doc_page):
    sp, job = _configured(cts)
    base = f"/servicePrincipals/{sp['id']}/synchronization/jobs/{job['id']}"
    resp = cts.post(f"{base}/restart", headers=auth(),
                    json={"criteria": {"resetScope": "Watermark, Escrows, QuarantineState"}})
    expect(resp, 204)
    assert resp.content == b""
    err = error_of(cts.post(f"{base}/restart", headers=auth(),
                            json={"criteria": {"resetScope": "Watermark, Everything"}}), 400)
    assert "Everything" in err["message"] and "ForceDeletes" in err["message"]


@page("synchronization-synchronizationjob-provisionondemand", "200-stringKeyStringValuePair")
def test_provision_on_demand(cts, doc_page):
    sp, job = _configured(cts)
    base = f"/servicePrincipals/{sp['id']}/synchronization/jobs/{job['id']}"
    rule = expect(cts.get(f"{base}/schema", headers=auth()), 200)["synchronizationRules"][0]
    body = {"parameters": [{"ruleId": rule["id"],
                            "subjects": [{"objectId": JOHANNA, "objectTypeName": "User"}]}]}
    result = expect(cts.post(f"{base}/provisionOnDemand", headers=auth(), json=body), 200)
    context_is(result, "microsoft.graph.stringKeyStringValuePair")
    key, value = json.loads(result["key"]), json.loads(result["value"])   # JSON text in strings
    assert key == {"result": "Success", "details": {}}, key
    assert value["sourceIdentity"]["id"] == JOHANNA
    steps = value["provisioningSteps"]
    assert steps and {"name", "type", "status", "description"} <= set(steps[0])
    created = [u for u in cts_target_users(cts) if u["displayName"] == "Johanna Lorenz"]
    assert len(created) == 1
    wrong = {"parameters": [{"ruleId": "not-a-rule", "subjects": body["parameters"][0]["subjects"]}]}
    error_of(cts.post(f"{base}/provisionOnDemand", headers=auth(), json=wrong), 400)


@page("synchronization-synchronizationjob-provisionondemand", "200-skipped-redundant-export")
def test_provision_on_demand_twice_is_skipped(cts, doc_page):
    sp, job = _configured(cts)
    base = f"/servicePrincipals/{sp['id']}/synchronization/jobs/{job['id']}"
    rule = expect(cts.get(f"{base}/schema", headers=auth()), 200)["synchronizationRules"][0]
    body = {"parameters": [{"ruleId": rule["id"],
                            "subjects": [{"objectId": JOHANNA, "objectTypeName": "User"}]}]}
    expect(cts.post(f"{base}/provisionOnDemand", headers=auth(), json=body), 200)
    second = expect(cts.post(f"{base}/provisionOnDemand", headers=auth(), json=body), 200)
    assert json.loads(second["key"]) == {     # the page's example 1, word for word
        "result": "Skipped", "details": {
            "errorCode": "RedundantExport",
            "errorMessage": "The state of the user in both the source and target systems "
                            "already match."}}, second["value"][:300]
    assert json.loads(second["value"])["action"] == "Other"
