"""The emulator's synchronization API (service_principals.py, synchronization.py): who may call
it, what it refuses, its on-demand rate limit, the fixture's `servicePrincipals`, and the whole
cross-tenant synchronization setup of cross-tenant-synchronization-configure-graph driven by
msgraph-sdk until the target tenant holds the assigned user.
"""

from __future__ import annotations

import datetime
import time
import uuid
from typing import Any

import pytest

from tenantsync.emulator import synchronization
from tenantsync.emulator.fixture import FixtureError, load_directory

from .conftest import graph_client, run

SOURCE = "5a5a0001-0000-4000-8000-000000000001"
TARGET = "5a5a0002-0000-4000-8000-000000000002"
ALL = "sync-all"                        # a plain token: every permission
CTS_TEMPLATE = "518e5f48-1fc8-4c48-9387-9fdf28b0dfe7"
SP_ID = "5a5a5500-0000-4000-8000-000000000001"
ROLE_ID = "5a5a5500-0000-4000-8000-0000000000ff"


def _uid(n: int) -> str:
    return f"5a5a0001-0000-4000-8000-{n:012x}"


def fixture(*tokens: Any, service_principals: list | None = None) -> dict:
    """A source (three users, one group) and a target that allows the sync."""
    users = [{"id": _uid(n), "userPrincipalName": f"user{n}@source.example",
              "mail": f"user{n}@source.example", "displayName": f"Source User {n}",
              "givenName": "Source", "surname": f"User{n}", "userType": "Member",
              "accountEnabled": True} for n in (1, 2, 3)]
    source: dict[str, Any] = {
        "id": SOURCE, "displayName": "Source", "defaultDomain": "source.onmicrosoft.com",
        "domains": [{"id": "source.example", "isVerified": True}],
        "tokens": [ALL, *tokens], "premium": True,
        "crossTenantAccessPolicy": {"partners": [{
            "tenantId": TARGET,
            "automaticUserConsentSettings": {"inboundAllowed": False, "outboundAllowed": True}}]},
        "users": users,
        "groups": [{"id": _uid(0x100), "displayName": "Sync group", "members": [_uid(2)]}]}
    if service_principals is not None:
        source["servicePrincipals"] = service_principals
    target = {
        "id": TARGET, "displayName": "Target", "defaultDomain": "target.onmicrosoft.com",
        "tokens": ["sync-target"], "premium": True,
        "authorizationPolicy": {"allowInvitesFrom": "everyone"},
        "crossTenantAccessPolicy": {"partners": [{
            "tenantId": SOURCE,
            "automaticUserConsentSettings": {"inboundAllowed": True, "outboundAllowed": False},
            "identitySynchronization": {"userSyncInbound": {"isSyncAllowed": True}}}]},
        "users": [], "groups": []}
    return {"tenants": [source, target]}


def existing_app(assigned: list[str] | None = None) -> list[dict]:
    """A fixture's sync application (the `servicePrincipals` key)."""
    return [{"id": SP_ID, "displayName": "source-to-target", "appRoleId": ROLE_ID,
             "assignedTo": assigned or []}]


class FakeRunner:
    """Stands in for sync_runner.py where a test is about the routes only."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def validate_credentials(self, tenant, sp_id, credentials, base) -> None:
        self.calls.append(("validate", sp_id, dict(credentials)))

    def start(self, tenant, job, base) -> None:
        self.calls.append(("start", job.id))

    def pause(self, tenant, job) -> None:
        self.calls.append(("pause", job.id))

    def restart(self, tenant, job, reset_scope, base) -> None:
        self.calls.append(("restart", job.id, set(reset_scope)))

    def delete(self, tenant, job) -> None:
        self.calls.append(("delete", job.id))

    def provision_on_demand(self, tenant, job, rule_id, subjects, base) -> dict:
        self.calls.append(("ondemand", rule_id, list(subjects)))
        return {"key": '{"result":"Success","details":{}}', "value": "{}"}


@pytest.fixture
def fake(monkeypatch) -> FakeRunner:
    runner = FakeRunner()
    monkeypatch.setattr(synchronization, "_runner", lambda req: runner)
    return runner


def _denied(resp) -> bool:
    return resp.status_code == 403 and \
        resp.json()["error"]["code"] == "Authorization_RequestDenied"


def _job(c, sp_id: str = SP_ID) -> str:
    resp = c.post(f"/servicePrincipals/{sp_id}/synchronization/jobs",
                  json={"templateId": "Azure2Azure"})
    assert resp.status_code == 201, resp.text
    return resp.json()["id"]


def test_without_the_permission_every_route_is_refused(emu, http, fake):
    emu.reset(fixture({"token": "reader", "roles": ["User.Read.All"]},
                      {"token": "sync-reader", "roles": ["Synchronization.Read.All"]},
                      service_principals=existing_app()))
    job = _job(http(ALL))
    base = f"/servicePrincipals/{SP_ID}/synchronization"
    jb = f"{base}/jobs/{job}"
    r = http("reader")
    refused = [
        r.post(f"/applicationTemplates/{CTS_TEMPLATE}/instantiate", json={"displayName": "x"}),
        r.get("/servicePrincipals"), r.get(f"/servicePrincipals/{SP_ID}"),
        r.get(f"/servicePrincipals/{SP_ID}/appRoleAssignedTo"),
        r.post(f"/servicePrincipals/{SP_ID}/appRoleAssignedTo",
               json={"principalId": _uid(1), "resourceId": SP_ID, "appRoleId": ROLE_ID}),
        r.put(f"{base}/secrets", json={"value": []}), r.get(f"{base}/secrets"),
        r.post(f"{base}/jobs/validateCredentials", json={"credentials": []}),
        r.get(f"{base}/jobs"), r.post(f"{base}/jobs", json={"templateId": "Azure2Azure"}),
        r.get(jb), r.delete(jb), r.patch(jb, json={"schedule": {}}), r.post(f"{jb}/start"), r.post(f"{jb}/pause"),
        r.post(f"{jb}/restart", json={}), r.get(f"{jb}/schema"), r.put(f"{jb}/schema", json={}),
        r.post(f"{jb}/provisionOnDemand", json={"parameters": []}),
    ]
    assert all(_denied(x) for x in refused), [x.status_code for x in refused]
    reader = http("sync-reader")                  # Synchronization.Read.All: reads, never acts
    assert reader.get(f"{base}/jobs").status_code == 200
    assert reader.get(f"{jb}/schema").status_code == 200
    assert _denied(reader.post(f"{jb}/start")) and _denied(reader.delete(jb))
    assert fake.calls == []                          # nothing reached the runner


def test_app_role_assignment_needs_both_permissions_of_its_row(emu, http):
    emu.reset(fixture({"token": "assign-only", "roles": ["AppRoleAssignment.ReadWrite.All"]},
                      {"token": "assign-read", "roles": ["AppRoleAssignment.ReadWrite.All",
                                                         "Application.Read.All"]},
                      service_principals=existing_app()))
    body = {"principalId": _uid(1), "resourceId": SP_ID, "appRoleId": ROLE_ID}
    url = f"/servicePrincipals/{SP_ID}/appRoleAssignedTo"
    assert _denied(http("assign-only").post(url, json=body))
    created = http("assign-read").post(url, json=body)
    assert created.status_code == 201 and created.json()["principalDisplayName"] == "Source User 1"
    assert http("assign-only").delete(f"{url}/{created.json()['id']}").status_code == 204


def test_owned_by_acts_on_the_application_it_created_only(emu, http, fake):
    emu.reset(fixture({"token": "owner", "roles": ["Application.ReadWrite.OwnedBy"]},
                      {"token": "stranger", "roles": ["Application.ReadWrite.OwnedBy"]},
                      service_principals=existing_app()))
    owner, stranger = http("owner"), http("stranger")
    made = owner.post(f"/applicationTemplates/{CTS_TEMPLATE}/instantiate",
                      json={"displayName": "owned"})
    assert made.status_code == 201
    sp = made.json()["servicePrincipal"]["id"]
    job = _job(owner, sp)
    assert owner.post(f"/servicePrincipals/{sp}/synchronization/jobs/{job}/start").status_code == 204
    assert _denied(stranger.post(f"/servicePrincipals/{sp}/synchronization/jobs/{job}/start"))
    assert _denied(owner.get(f"/servicePrincipals/{SP_ID}/synchronization/jobs"))   # not its own
    assert stranger.get(f"/servicePrincipals/{sp}").status_code == 200   # reading is allowed
    assert fake.calls == [("start", job)]


def test_unknown_job_or_service_principal_is_404(emu, http, fake):
    emu.reset(fixture(service_principals=existing_app()))
    c = http(ALL)
    jb = f"/servicePrincipals/{SP_ID}/synchronization/jobs/Azure2Azure.nope.0000"
    answers = [c.get(jb), c.delete(jb), c.post(f"{jb}/start"), c.post(f"{jb}/pause"),
               c.post(f"{jb}/restart", json={}), c.get(f"{jb}/schema"),
               c.put(f"{jb}/schema", json={"synchronizationRules": []}),
               c.post(f"{jb}/validateCredentials", json={"useSavedCredentials": True}),
               c.post(f"{jb}/provisionOnDemand", json={"parameters": []})]
    assert [a.status_code for a in answers] == [404] * len(answers)
    assert "Azure2Azure.nope.0000" in answers[0].json()["error"]["message"]
    other = "/servicePrincipals/5a5a5500-0000-4000-8000-00000000dead/synchronization/jobs"
    assert c.get(other).status_code == 404 and c.post(other, json={}).status_code == 404
    assert fake.calls == []


def test_restart_validates_reset_scope_before_the_runner(emu, http, fake):
    emu.reset(fixture(service_principals=existing_app()))
    c = http(ALL)
    job = _job(c)
    url = f"/servicePrincipals/{SP_ID}/synchronization/jobs/{job}/restart"
    for bad in ("Watermark, Sometimes", "Full;ForceDeletes", 42):
        resp = c.post(url, json={"criteria": {"resetScope": bad}})
        assert resp.status_code == 400, bad
        assert "resetScope" in resp.json()["error"]["message"]
    assert c.post(url, json={"criteria": "Full"}).status_code == 400
    assert fake.calls == []
    assert c.post(url, json={"criteria": {"resetScope": "watermark,FORCEDELETES , Escrows"}}
                  ).status_code == 204
    assert c.post(url).status_code == 204                       # no body: the portal's restart
    assert fake.calls == [("restart", job, {"Watermark", "ForceDeletes", "Escrows"}),
                          ("restart", job, set())]


def test_second_job_of_a_template_is_refused(emu, http, fake):
    emu.reset(fixture(service_principals=existing_app()))
    c = http(ALL)
    _job(c)
    resp = c.post(f"/servicePrincipals/{SP_ID}/synchronization/jobs",
                  json={"templateId": "Azure2Azure"})
    assert resp.status_code == 409
    assert len(c.get(f"/servicePrincipals/{SP_ID}/synchronization/jobs").json()["value"]) == 1


def test_schedule_interval_is_settable_and_its_state_is_not(emu, http, fake):
    emu.reset(fixture(service_principals=existing_app()))
    c = http(ALL)
    job = _job(c)
    url = f"/servicePrincipals/{SP_ID}/synchronization/jobs/{job}"
    assert c.patch(url, json={"schedule": {"interval": "PT5M", "state": "Disabled"}}
                   ).status_code == 204
    assert c.get(url).json()["schedule"] == {"expiration": None, "interval": "PT5M",
                                             "state": "Disabled"}
    for bad in ({"schedule": {"interval": "40 minutes"}}, {"schedule": {"interval": "PT0M"}},
                {"schedule": {"state": "Active"}}, {"schedule": {"every": "PT1M"}},
                {"templateId": "Other"}):
        assert c.patch(url, json=bad).status_code == 400, bad
    assert c.get(url).json()["schedule"]["interval"] == "PT5M"


def test_validate_credentials_passes_saved_or_given_credentials(emu, http, fake):
    emu.reset(fixture(service_principals=existing_app()))
    c = http(ALL)
    url = f"/servicePrincipals/{SP_ID}/synchronization/jobs/validateCredentials"
    c.put(f"/servicePrincipals/{SP_ID}/synchronization/secrets",
          json={"value": [{"key": "CompanyId", "value": TARGET}]})
    assert c.post(url, json={"useSavedCredentials": True}).status_code == 204
    assert c.post(url, json={"credentials": [{"key": "CompanyId", "value": "x"}]}).status_code == 204
    assert c.post(url, json={"templateId": "BoxOutDelta", "credentials": []}).status_code == 400
    assert c.post(url, json={"credentials": [{"key": "CompanyId"}]}).status_code == 400
    assert [x[2] for x in fake.calls] == [{"CompanyId": TARGET}, {"CompanyId": "x"}]


def test_provision_on_demand_allows_five_requests_per_ten_seconds(emu, http, fake):
    emu.reset(fixture(service_principals=existing_app([_uid(1)])))
    c = http(ALL)
    job = _job(c)
    base = f"/servicePrincipals/{SP_ID}/synchronization/jobs/{job}"
    rule = c.get(f"{base}/schema").json()["synchronizationRules"][0]["id"]
    one = {"parameters": [{"ruleId": rule,
                           "subjects": [{"objectId": _uid(1), "objectTypeName": "User"}]}]}
    group = {"parameters": [{"ruleId": rule,
                             "subjects": [{"objectId": _uid(0x100), "objectTypeName": "Group"}]}]}
    assert c.post(f"{base}/provisionOnDemand", json=group).status_code == 400
    unknown_rule = {"parameters": [{**one["parameters"][0], "ruleId": "USER_OUTBOUND"}]}
    assert c.post(f"{base}/provisionOnDemand", json=unknown_rule).status_code == 400
    answers = [c.post(f"{base}/provisionOnDemand", json=one) for _ in range(6)]
    assert [a.status_code for a in answers] == [200] * 5 + [429]
    refused = answers[-1]
    assert refused.json()["error"]["code"] == "TooManyRequests"
    assert 1 <= int(refused.headers["Retry-After"]) <= 10
    assert answers[0].json()["key"] == '{"result":"Success","details":{}}'
    assert len(fake.calls) == 5 and fake.calls[0][1] == rule


def test_fixture_service_principals_start_with_an_assigned_sync_app(emu, http):
    emu.reset(fixture(service_principals=existing_app([_uid(1), _uid(0x100)])))
    c = http(ALL)
    sp = c.get(f"/servicePrincipals/{SP_ID}").json()
    assert sp["applicationTemplateId"] == CTS_TEMPLATE and sp["appRoles"][0]["id"] == ROLE_ID
    found = c.get("/servicePrincipals", params={"$filter": "displayName eq 'source-to-target'"})
    assert [s["id"] for s in found.json()["value"]] == [SP_ID]
    assigned = c.get(f"/servicePrincipals/{SP_ID}/appRoleAssignedTo").json()["value"]
    assert [(a["principalId"], a["principalType"]) for a in assigned] == \
        [(_uid(1), "User"), (_uid(0x100), "Group")]


@pytest.mark.parametrize("entry,message", [
    ({"displayName": "x", "assignedTo": ["5a5a0001-0000-4000-8000-0000000000aa"]},
     r"servicePrincipals\[0\]: assignedTo: .* is not a user or group"),
    ({"id": "nope", "displayName": "x"}, r"servicePrincipals\[0\]: 'id' must be a GUID"),
    ({"displayName": "x", "jobs": []}, r"servicePrincipals\[0\]: unknown field 'jobs'"),
    ({"appId": SP_ID}, r"servicePrincipals\[0\]: 'displayName' is required"),
    ({"displayName": "x", "applicationTemplateId": SP_ID},
     r"'applicationTemplateId' must be one of"),
])
def test_fixture_service_principal_errors_are_named(entry, message):
    with pytest.raises(FixtureError, match=message):
        load_directory(fixture(service_principals=[entry]))


def test_cts_setup_sequence_through_msgraph_sdk_provisions_the_assigned_user(emu):
    """Steps 6 to 13 of cross-tenant-synchronization-configure-graph with msgraph-sdk, on the
    real runner: the target tenant ends up with the assigned user, and only that user."""
    from msgraph.generated.application_templates.item.instantiate.instantiate_post_request_body import (
        InstantiatePostRequestBody,
    )
    from msgraph.generated.models.app_role_assignment import AppRoleAssignment
    from msgraph.generated.models.synchronization_job import SynchronizationJob
    from msgraph.generated.models.synchronization_secret import SynchronizationSecret
    from msgraph.generated.models.synchronization_secret_key_string_value_pair import (
        SynchronizationSecretKeyStringValuePair as Pair,
    )
    from msgraph.generated.service_principals.item.synchronization.jobs.validate_credentials.validate_credentials_post_request_body import (
        ValidateCredentialsPostRequestBody,
    )
    from msgraph.generated.service_principals.item.synchronization.secrets.secrets_put_request_body import (
        SecretsPutRequestBody,
    )
    from msgraph.generated.service_principals.service_principals_request_builder import (
        ServicePrincipalsRequestBuilder,
    )

    emu.reset(fixture())

    async def body() -> tuple[str, str, Any]:
        client = graph_client(emu.url, ALL)
        made = await client.application_templates.by_application_template_id(
            CTS_TEMPLATE).instantiate.post(InstantiatePostRequestBody(display_name="Target sync"))
        assert made.service_principal.app_role_assignment_required is True
        query = ServicePrincipalsRequestBuilder.ServicePrincipalsRequestBuilderGetQueryParameters(
            filter="displayName eq 'Target sync'")
        found = await client.service_principals.get(
            ServicePrincipalsRequestBuilder.ServicePrincipalsRequestBuilderGetRequestConfiguration(
                query_parameters=query))
        sp = found.value[0]
        assert sp.id == made.service_principal.id
        sync = client.service_principals.by_service_principal_id(sp.id).synchronization
        credentials = [Pair(key=SynchronizationSecret.CompanyId, value=TARGET),
                       Pair(key=SynchronizationSecret.AuthenticationType, value="SyncPolicy")]
        await sync.jobs.validate_credentials.post(ValidateCredentialsPostRequestBody(
            use_saved_credentials=False, template_id="Azure2Azure", credentials=credentials))
        job = await sync.jobs.post(SynchronizationJob(template_id="Azure2Azure"))
        assert job.schedule.interval == datetime.timedelta(minutes=40)          # "PT40M"
        await sync.secrets.put(SecretsPutRequestBody(value=credentials))
        await client.service_principals.by_service_principal_id(sp.id).app_role_assigned_to.post(
            AppRoleAssignment(principal_id=uuid.UUID(_uid(1)), resource_id=uuid.UUID(sp.id),
                              app_role_id=sp.app_roles[0].id))
        schema = await sync.jobs.by_synchronization_job_id(job.id).schema.get()
        assert schema.synchronization_rules[0].name == "USER_INBOUND_USER"
        await sync.jobs.by_synchronization_job_id(job.id).start.post()
        deadline = time.monotonic() + 90
        got = None
        while time.monotonic() < deadline:
            got = await sync.jobs.by_synchronization_job_id(job.id).get()
            if got.status and got.status.last_execution is not None:
                break
            time.sleep(0.5)
        await sync.jobs.by_synchronization_job_id(job.id).pause.post()
        return sp.id, job.id, got

    sp_id, job_id, got = run(body)
    try:
        assert got is not None and got.status.last_execution is not None, "no cycle ended in 90 s"
        assert got.schedule.state == "Active"
        target_users = emu.dump(TARGET)["users"]
        assert [u["displayName"] for u in target_users] == ["Source User 1"]
    finally:
        import httpx

        httpx.delete(f"{emu.url}/servicePrincipals/{sp_id}/synchronization/jobs/{job_id}",
                     headers={"Authorization": f"Bearer {ALL}"})
