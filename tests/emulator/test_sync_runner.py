"""The emulator's provisioning service: a synchronization job set up through Graph's
synchronization API on the sample tenants runs tenantsync's engine on its schedule, and what it
does shows in the target tenant, in the job's status and in /auditLogs/provisioning."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tenantsync.emulator.server import EmulatorServer

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples" / "tenants.json"
EMEA = "2cee517d-601a-44f9-82ff-f26697be201f"
HQ = "7242482c-0038-4818-b3af-70b2766b9f27"
CTS_GROUP = "15dd8750-8a60-4194-afda-cad956a8afdd"       # EMEA's "CTS - HQ sync"
ELINE = "0524647c-2bbd-430c-ade3-8d6d5c4195f4"           # a direct member of it
ZOE = "2c61be39-a49f-4975-a086-bbe7b399a465"
TEMPLATE = "518e5f48-1fc8-4c48-9387-9fdf28b0dfe7"        # cross-tenant synchronization's application template
CREDENTIALS = [{"key": "CompanyId", "value": HQ}, {"key": "AuthenticationType", "value": "SyncPolicy"}]


class Job:
    """One cross-tenant synchronization job of EMEA towards HQ, set up as the CTS Graph guide does."""

    def __init__(self, srv: EmulatorServer, threshold: int = 500, sync_all: bool = False) -> None:
        self.srv = srv
        self.emea = httpx.Client(base_url=srv.url, headers={"Authorization": "Bearer emea-token"}, timeout=60)
        made = self.ok(self.emea.post(f"/applicationTemplates/{TEMPLATE}/instantiate",
                                      json={"displayName": "Contoso HQ sync"}), 201)
        self.sp = made["servicePrincipal"]
        base = f"/servicePrincipals/{self.sp['id']}/synchronization"
        self.ok(self.emea.post(f"{base}/jobs/validateCredentials", json={
            "useSavedCredentials": False, "templateId": "Azure2Azure", "credentials": CREDENTIALS}), 204)
        self.id = self.ok(self.emea.post(f"{base}/jobs", json={"templateId": "Azure2Azure"}), 201)["id"]
        self.path = f"{base}/jobs/{self.id}"
        notify = {"Enabled": False, "DeleteThresholdEnabled": True, "DeleteThresholdValue": threshold}
        self.ok(self.emea.put(f"{base}/secrets", json={"value": [
            *CREDENTIALS, {"key": "SyncAll", "value": "true" if sync_all else "false"},
            {"key": "SyncNotificationSettings", "value": json.dumps(notify)}]}), 204)
        role = (self.sp.get("appRoles") or [{"id": "00000000-0000-0000-0000-000000000000"}])[0]["id"]
        self.ok(self.emea.post(f"/servicePrincipals/{self.sp['id']}/appRoleAssignedTo", json={
            "principalId": CTS_GROUP, "resourceId": self.sp["id"], "appRoleId": role}), 201)

    @staticmethod
    def ok(resp: httpx.Response, status: int) -> Any:
        assert resp.status_code == status, f"{resp.request.method} {resp.request.url}: {resp.text[:400]}"
        return resp.json() if resp.content else None

    def status(self) -> dict[str, Any]:
        return self.ok(self.emea.get(self.path), 200)["status"]

    def post(self, verb: str, body: dict | None = None) -> None:
        self.ok(self.emea.post(f"{self.path}/{verb}", json=body), 204)

    def next_cycle(self, after: str | None = None, timeout: float = 90.0,
                   until: Callable[[dict], bool] | None = None) -> dict[str, Any]:
        """The status once a cycle other than ``after`` has ended (and ``until`` holds)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            st = self.status()
            last = st.get("lastExecution") or {}
            if last.get("timeEnded") and last.get("activityIdentifier") != after and (until is None or until(st)):
                return st
            time.sleep(0.2)
        raise AssertionError(f"no new cycle within {timeout} s: {self.status()}")

    def logs(self, **flt: str) -> list[dict[str, Any]]:
        text = " and ".join(f"{k.replace('__', '/')} eq '{v}'" for k, v in flt.items())
        out: list[dict[str, Any]] = []
        url = f"{self.srv.url}/auditLogs/provisioning"
        params: dict[str, str] | None = {"$filter": text, "$top": "500"}
        while url:
            body = self.ok(self.emea.get(url, params=params), 200)
            out += body["value"]
            url, params = body.get("@odata.nextLink"), None
        return out


def hq_user(srv: EmulatorServer, mail: str) -> dict[str, Any] | None:
    return next((u for u in srv.dump(HQ)["users"] if (u.get("mail") or "").lower() == mail.lower()), None)


def sync_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(("tenantsync-sync-", "graph-source", "graph-target"))]


@pytest.fixture
def srv() -> Iterator[EmulatorServer]:
    server = EmulatorServer(SAMPLES)
    yield server
    server.stop()
    assert sync_threads() == []


def test_a_started_job_creates_the_b2b_users_in_the_target_and_logs_its_cycle(srv):
    assert hq_user(srv, "eline.smit@emea.contoso.com") is None
    job = Job(srv)
    job.post("start")
    st = job.next_cycle()
    eline = hq_user(srv, "eline.smit@emea.contoso.com")
    assert eline is not None and eline["userType"] == "Member" and eline["department"] == "Engineering"
    assert "#EXT#@contosohq.onmicrosoft.com" in eline["userPrincipalName"]
    run = st["lastExecution"]
    assert st["code"] == "Active" and st["quarantine"] is None
    assert run["state"] == "Succeeded" and run["countExported"] > 50 and run["countImported"] >= run["countExported"]
    assert st["lastSuccessfulExecution"]["activityIdentifier"] == run["activityIdentifier"]
    assert st["synchronizedEntryCountByType"][0]["value"] == run["countExported"]
    rows = job.logs(jobId=job.id, cycleId=run["activityIdentifier"])
    created = [r for r in rows if r["provisioningAction"] == "create"]
    exported = [r for r in rows if r["provisioningAction"] in ("create", "update")]   # Zoë's B2B user exists
    assert len(exported) == run["countExported"] and len(created) == run["countExported"] - 1
    row = next(r for r in created if r["sourceIdentity"]["id"] == ELINE)
    assert row["targetIdentity"]["id"] == eline["id"]
    assert row["servicePrincipal"] == {"id": job.sp["id"], "displayName": "Contoso HQ sync"}
    assert row["initiatedBy"]["displayName"] == "Azure AD Provisioning Service"
    assert [s["provisioningStepType"] for s in row["provisioningSteps"]][-1] == "export"
    assert job.logs(servicePrincipal__id=job.sp["id"]) == job.logs(jobId=job.id)


def test_an_incremental_cycle_on_the_scaled_schedule_carries_a_source_change():
    with EmulatorServer(SAMPLES, time_scale=1200.0) as srv:      # PT40M -> 2 s
        job = Job(srv)
        job.post("start")
        first = job.next_cycle()
        srv.patch_user(EMEA, ELINE, {"department": "Research"})
        second = job.next_cycle(after=first["lastExecution"]["activityIdentifier"],
                                until=lambda st: st["lastExecution"]["countExported"] > 0)
        assert hq_user(srv, "eline.smit@emea.contoso.com")["department"] == "Research"
        run = second["lastExecution"]
        assert run["countImportedDeltas"] >= 1 and second["code"] == "Active"
        updates = [r for r in job.logs(jobId=job.id, cycleId=run["activityIdentifier"])
                   if r["provisioningAction"] == "update"]
        assert [r["sourceIdentity"]["id"] for r in updates] == [ELINE]
        assert {"displayName": "department", "oldValue": "Engineering", "newValue": "Research"} \
            in updates[0]["modifiedProperties"]
        job.post("pause")
        assert job.status()["code"] == "Paused"
    assert sync_threads() == []


def test_a_target_that_refuses_sync_quarantines_the_job_and_fails_validation(srv):
    job = Job(srv)
    hq = httpx.Client(base_url=srv.url, headers={"Authorization": "Bearer hq-token"})
    resp = hq.delete(f"/policies/crossTenantAccessPolicy/partners/{EMEA}/identitySynchronization")
    assert resp.status_code == 204, resp.text
    job.post("start")
    st = job.next_cycle()
    assert st["code"] == "Quarantine"
    assert st["quarantine"]["reason"] == "EncounteredQuarantineException"
    assert st["quarantine"]["seriesCount"] == 1 and st["quarantine"]["nextAttempt"] > st["quarantine"]["currentBegan"]
    assert st["lastExecution"]["state"] == "Failed"
    assert "does not allow user synchronization" in st["lastExecution"]["error"]["message"]
    assert hq_user(srv, "eline.smit@emea.contoso.com") is None
    refused = job.emea.post(f"/servicePrincipals/{job.sp['id']}/synchronization/jobs/validateCredentials",
                            json={"useSavedCredentials": True})
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "AzureDirectoryB2BManagementPolicyCheckFailure"
    resp = hq.put(f"/policies/crossTenantAccessPolicy/partners/{EMEA}/identitySynchronization",
                  json={"displayName": "Contoso EMEA", "userSyncInbound": {"isSyncAllowed": True}})
    assert resp.status_code == 204, resp.text
    job.post("restart", {"criteria": {"resetScope": "QuarantineState"}})
    lifted = job.next_cycle(after=st["lastExecution"]["activityIdentifier"])
    assert lifted["code"] == "Active" and lifted["quarantine"] is None
    assert hq_user(srv, "eline.smit@emea.contoso.com") is not None


def test_deletions_over_the_threshold_wait_for_a_force_deletes_restart(srv):
    job = Job(srv, threshold=3)
    job.post("start")
    first = job.next_cycle()
    members = [m["id"] for m in job.ok(job.emea.get(f"/groups/{CTS_GROUP}/members", params={"$top": "999"}),
                                       200)["value"] if m.get("userPrincipalName", "").endswith("@emea.contoso.com")]
    gone = []
    for uid in members:
        mail = srv.dump(EMEA)["users"]
        user = next(u for u in mail if u["id"] == uid)
        if hq_user(srv, user["mail"]) is not None:
            gone.append(user)
        if len(gone) == 4:
            break
    for user in gone:
        job.ok(job.emea.delete(f"/groups/{CTS_GROUP}/members/{user['id']}/$ref"), 204)
    job.post("restart", {"criteria": {"resetScope": "Escrows"}})
    staged = job.next_cycle(after=first["lastExecution"]["activityIdentifier"])
    assert staged["code"] == "Quarantine" and staged["quarantine"]["reason"] == "TooManyDeletes"
    assert all(hq_user(srv, u["mail"])["accountEnabled"] for u in gone)
    rows = job.logs(jobId=job.id, cycleId=staged["lastExecution"]["activityIdentifier"], provisioningAction="stagedDelete")
    assert sorted(r["sourceIdentity"]["id"] for r in rows) == sorted(u["id"] for u in gone)
    job.post("restart", {"criteria": {"resetScope": "ForceDeletes"}})
    done = job.next_cycle(after=staged["lastExecution"]["activityIdentifier"])
    assert done["code"] == "Active" and done["quarantine"] is None
    assert all(hq_user(srv, u["mail"]) is None for u in gone)      # soft-deleted in the target
    removed = [r for r in job.logs(jobId=job.id, cycleId=done["lastExecution"]["activityIdentifier"])
               if r["provisioningAction"] == "delete"]
    assert sorted(r["sourceIdentity"]["id"] for r in removed) == sorted(u["id"] for u in gone)


def test_provision_on_demand_answers_the_steps_and_creates_the_user(srv):
    job = Job(srv)
    rule = job.ok(job.emea.get(f"{job.path}/schema"), 200)["synchronizationRules"][0]
    assert rule["name"] == "USER_INBOUND_USER"
    body = job.ok(job.emea.post(f"{job.path}/provisionOnDemand", json={"parameters": [{
        "ruleId": rule["id"], "subjects": [{"objectId": ELINE, "objectTypeName": "User"}]}]}), 200)
    assert body["@odata.context"].endswith("#microsoft.graph.stringKeyStringValuePair")
    assert json.loads(body["key"]) == {"result": "Success", "details": {}}
    value = json.loads(body["value"])
    assert value["action"] == "Create" and value["statusInfo"]["status"] == "Success"
    steps = [(s["name"], s["type"], s["status"]) for s in value["provisioningSteps"]]
    assert steps[0] == ("EntryImport", "Import", "Success")
    assert ("EntrySynchronizationScoping", "Scoping", "Success") in steps
    assert steps[-1] == ("EntryExportAdd", "Export", "Success")
    eline = hq_user(srv, "eline.smit@emea.contoso.com")
    assert eline is not None and value["targetIdentity"]["id"] == eline["id"]
    assert value["sourceIdentity"]["id"] == ELINE and value["reportableIdentifier"] == "eline.smit@emea.contoso.com"
    again = job.ok(job.emea.post(f"{job.path}/provisionOnDemand", json={"parameters": [{
        "ruleId": rule["id"], "subjects": [{"objectId": ELINE, "objectTypeName": "User"}]}]}), 200)
    assert json.loads(again["key"])["result"] == "Skipped"
    assert json.loads(again["key"])["details"]["errorCode"] == "RedundantExport"
    assert len([r for r in job.logs(jobId=job.id) if r["sourceIdentity"]["id"] == ELINE]) == 2
    both = job.ok(job.emea.post(f"{job.path}/provisionOnDemand", json={"parameters": [{
        "ruleId": rule["id"], "subjects": [{"objectId": ELINE, "objectTypeName": "User"},
                                           {"objectId": ZOE, "objectTypeName": "User"}]}]}), 200)
    objects = json.loads(both["value"])
    assert sorted(o["sourceIdentity"]["id"] for o in objects) == sorted([ELINE, ZOE])
    zoe = next(o for o in objects if o["sourceIdentity"]["id"] == ZOE)
    assert zoe["action"] == "Update"                    # her pending B2B user in HQ, matched and updated
    assert json.loads(both["key"])["result"] == "Skipped"    # the least successful of the two (Eline's)


def test_a_deleted_job_stops_its_schedule_and_a_patched_interval_takes_effect(srv):
    job = Job(srv)
    job.post("start")
    first = job.next_cycle()
    assert job.emea.patch(job.path, json={"schedule": {"interval": "PT1S"}}).status_code == 204
    second = job.next_cycle(after=first["lastExecution"]["activityIdentifier"], timeout=20)   # not PT40M
    assert second["code"] == "Active" and second["lastExecution"]["state"] == "Succeeded"
    assert sync_threads()
    assert job.emea.delete(job.path).status_code == 204
    deadline = time.monotonic() + 30
    while sync_threads() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert sync_threads() == []
    assert job.emea.get(job.path).status_code == 404
