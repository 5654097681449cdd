"""provisioner: entra: provision on demand through the service's provisionOnDemand, step by step,
in the engine's artifact, at most 5 requests per 10 seconds across runs."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest

from tenantsync.entra_service.ondemand import NoOnDemandRule, reply_rows, results, rule_id

from .test_cycle_service import (  # noqa: F401  (fixtures)
    ZOE,
    hq_users,
    job_of,
    svc_config,
    svc_emulator,
    svc_harness,
    svc_world,
)

SVC_PRINT = "d43b950b-b3b2-41f9-9aca-f42173d76cf0"     # fails the sample scoping filter

# synchronization-synchronizationjob-provisionondemand, example 1's response (shortened).
DOC_REPLY = {
    "key": json.dumps({"result": "Skipped", "details": {
        "errorCode": "RedundantExport",
        "errorMessage": "The state of the user in both the source and target systems already match."}}),
    "value": json.dumps({
        "action": "Other", "changeId": "g8ba3be8-1d7f-4a60-ae31-a8980da0a389", "endTime": "2020-06-26T13:58:24.7682084Z",
        "modifiedProperties": [{"displayName": "displayName", "oldValue": None, "newValue": "Bill Bob"}],
        "provisioningSteps": [
            {"name": "EntryImport", "type": "Import", "status": "Success",
             "description": "Retrieved User 'BillBob@contoso.com' from Azure Active Directory",
             "timestamp": "2020-06-26T13:58:24.5494971Z", "details": {"displayName": "Fill Bob"}},
            {"name": "EntrySynchronizationScoping", "type": "Scoping", "status": "Success",
             "description": "Determine if User in scope by evaluating against each scoping filter",
             "timestamp": "2020-06-26T13:58:24.7526181Z",
             "details": {"IsActive": "True", "ScopeEvaluationResult": "{}"}},
            {"name": "EntrySynchronizationSkip", "type": "Export", "status": "Skipped",
             "description": "The state of the user in both the source and target systems already match.",
             "timestamp": "2020-06-26T13:58:24.7682084Z", "details": {"SkipReason": "RedundantExport"}}],
        "startTime": "2020-06-26T13:58:24.5494971Z",
        "statusInfo": {"status": "Skipped", "errorCode": None, "reason": None},
        "sourceIdentity": {"id": "62cf7b7a-52be-4a9b-9c69-e5d4a4a14f67", "type": "User", "displayName": None},
        "targetIdentity": {"id": "52507a19-96ec-4e73-9250-3e65ffd2d926", "displayName": None}})}

# cross-tenant-synchronization-configure-graph, provision on demand: the StatusInfo key, value an array.
GUIDE_REPLY = {
    "key": "Microsoft.Identity.Health.CPP.Common.DataContracts.SyncFabric.StatusInfo",
    "value": json.dumps([{"provisioningSteps": [
        {"name": "EntryImport", "type": "Import", "status": "Success",
         "description": "Retrieved User 'user1@fabrikam.com' from Azure Active Directory", "details": {}},
        {"name": "EntrySynchronizationScoping", "type": "Scoping", "status": "Success",
         "description": "Determine if User in scope by evaluating against each scoping filter",
         "details": {"Scoping filter evaluation passed": "True"}},
        {"name": "EntryExportAdd", "type": "Export", "status": "Success",
         "description": "User 'user1@fabrikam.com' was created in Azure Active Directory (target tenant)",
         "details": {}}]}])}


def test_the_rule_is_the_schemas_rule_that_supports_provision_on_demand():
    schema = {"synchronizationRules": [
        {"id": "other", "name": "GROUP_OUTBOUND", "metadata": [{"key": "supportsProvisionOnDemand", "value": "false"}]},
        {"id": "ea807875", "name": "USER_INBOUND_USER",
         "metadata": [{"key": "supportsProvisionOnDemand", "value": "true"}]}]}
    assert rule_id(schema) == "ea807875"
    with pytest.raises(NoOnDemandRule, match="USER_INBOUND_USER|GROUP_OUTBOUND"):
        rule_id({"synchronizationRules": schema["synchronizationRules"][:1]})


def test_both_documented_reply_shapes_become_provisioning_log_rows():
    verdict, items = results(DOC_REPLY)
    assert verdict["result"] == "Skipped" and len(items) == 1
    (row,) = reply_rows(DOC_REPLY, source_id="62cf7b7a-52be-4a9b-9c69-e5d4a4a14f67", job_id="j", cycle_id="c")
    assert (row["provisioningAction"], row["status"], row["errorCode"]) == ("other", "skipped", "RedundantExport")
    assert [s["provisioningStepType"] for s in row["provisioningSteps"]] == ["import", "scoping", "export"]
    assert row["provisioningSteps"][1]["details"]["ScopeEvaluationResult"] == {}
    assert row["changeId"] == "g8ba3be8-1d7f-4a60-ae31-a8980da0a389" and row["targetIdentity.id"].startswith("5250")
    (row,) = reply_rows(GUIDE_REPLY, source_id="u1", job_id="j", cycle_id="c")
    assert row["status"] == "success" and row["sourceIdentity.id"] == "u1"
    assert row["reason"].startswith("User 'user1@fabrikam.com' was created")


@pytest.fixture
def no_window(monkeypatch):
    import tasks.limits

    monkeypatch.setattr(tasks.limits, "ON_DEMAND_WINDOW_S", 0.0)


def run_on_demand(config: Any, user_ids: list[str]) -> tuple[Any, dict[str, Any]]:
    from flows.ondemand import provision_on_demand

    state: Any = provision_on_demand(config=str(config), user_ids=user_ids, return_state=True)
    data = state.result(raise_on_failure=False)
    return state, getattr(data, "result", data).as_dict()


@pytest.mark.prefect
@pytest.mark.usefixtures("svc_harness", "no_window")
def test_provision_on_demand_step_by_step_through_the_service(svc_config, svc_emulator):  # noqa: F811
    from prefect.artifacts import Artifact

    config = svc_config()
    before = set(hq_users(svc_emulator))
    state, result = run_on_demand(config, [ZOE, SVC_PRINT])
    assert state.is_completed(), state.message
    users = {u["sourceId"]: u for u in result["users"]}
    assert users[ZOE]["reply"]["result"] == "Success" and users[ZOE]["scoping"]["inScope"] is True
    assert users[ZOE]["action"]["action"] in ("create", "update")
    assert users[SVC_PRINT]["reply"]["result"] == "Skipped" and users[SVC_PRINT]["scoping"]["failingRule"]
    made = set(hq_users(svc_emulator)) - before
    assert made == ({users[ZOE]["targetId"]} if users[ZOE]["action"]["action"] == "create" else set())
    md = Artifact.get("emea-to-hq-entra-on-demand")
    assert md is not None and "Determine if user is in scope" in str(md.data) and ZOE in str(md.data)
    assert job_of(config)["schedule"]["state"] == "Disabled"     # on demand starts no cycle
    # again: already in step
    state, again = run_on_demand(config, [ZOE])
    assert again["users"][0]["reply"]["details"].get("errorCode") == "RedundantExport"


@pytest.mark.prefect
@pytest.mark.usefixtures("svc_harness")
def test_six_requests_across_runs_span_ten_seconds(svc_config, svc_world, monkeypatch):  # noqa: F811
    from tenantsync.connectors.sync_jobs import SyncJobs

    config = svc_config()
    members = next(g for g in svc_world["tenants"][0]["groups"] if g["displayName"] == "CTS - HQ sync")["members"]
    sent: list[float] = []
    real = SyncJobs.provision_on_demand

    def spy(self: SyncJobs, *args: Any, **kwargs: Any) -> dict[str, Any]:
        sent.append(time.monotonic())
        return real(self, *args, **kwargs)

    monkeypatch.setattr(SyncJobs, "provision_on_demand", spy)
    states: list[Any] = []
    threads = [threading.Thread(target=lambda ids=ids: states.append(run_on_demand(config, ids)[0]))
               for ids in (members[:3], members[3:5], members[5:6])]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    assert len(states) == 3 and all(s.is_completed() for s in states), [s.message for s in states]
    sent.sort()
    assert len(sent) == 6 and sent[5] - sent[0] >= 10, [round(s - sent[0], 1) for s in sent]
