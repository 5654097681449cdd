"""The emulator's provisioning service as an administrator observes it: quarantine retries on the
emulator's clock (application-provisioning-quarantine-status), a reset of the directory that stops
the old jobs at once, the control API's dump of the service's state, and the job's
synchronizationStatus fields (synchronization-synchronizationstatus)."""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime

import httpx

from tenantsync.emulator.server import EmulatorServer
from tests.emulator.test_sync_runner import EMEA, HQ, SAMPLES, Job, hq_user, sync_threads

NEVER = "0001-01-01T00:00:00Z"


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _hq(srv: EmulatorServer) -> httpx.Client:
    return httpx.Client(base_url=srv.url, headers={"Authorization": "Bearer hq-token"}, timeout=60)


def _refuse_sync(srv: EmulatorServer) -> None:
    resp = _hq(srv).delete(f"/policies/crossTenantAccessPolicy/partners/{EMEA}/identitySynchronization")
    assert resp.status_code == 204, resp.text


def _allow_sync(srv: EmulatorServer) -> None:
    resp = _hq(srv).put(f"/policies/crossTenantAccessPolicy/partners/{EMEA}/identitySynchronization",
                        json={"displayName": "Contoso EMEA", "userSyncInbound": {"isSyncAllowed": True}})
    assert resp.status_code == 204, resp.text


def test_quarantine_retries_on_the_scaled_backoff_and_a_successful_retry_lifts_it():
    # 6 h of the documented backoff = 1 s; the schedule (P30D = 120 s) never runs a cycle here.
    with EmulatorServer(SAMPLES, time_scale=6 * 3600.0) as srv:
        job = Job(srv)
        assert job.emea.patch(job.path, json={"schedule": {"interval": "P30D"}}).status_code == 204
        _refuse_sync(srv)
        job.post("start")
        first = job.next_cycle(timeout=20)
        q = first["quarantine"]
        assert first["code"] == "Quarantine" and q["seriesCount"] == 1
        wait = (_when(q["nextAttempt"]) - _when(q["seriesBegan"])).total_seconds()
        assert 0.9 <= wait <= 2.0, q                      # +6 h, scaled; not six real hours
        second = job.next_cycle(after=first["lastExecution"]["activityIdentifier"], timeout=10)
        q2 = second["quarantine"]
        assert second["code"] == "Quarantine" and q2["seriesCount"] == 2
        assert q2["seriesBegan"] == q["seriesBegan"]
        assert 2.9 <= (_when(q2["nextAttempt"]) - _when(q2["seriesBegan"])).total_seconds() <= 4.0   # +6 h +12 h
        assert second["countSuccessiveCompleteFailures"] == 2
        assert (_when(second["lastExecution"]["timeBegan"]) - _when(q["seriesBegan"])).total_seconds() >= 0.9
        _allow_sync(srv)                                  # the fix: the next retry succeeds by itself
        lifted = job.next_cycle(after=second["lastExecution"]["activityIdentifier"], timeout=15)
        assert lifted["code"] == "Active" and lifted["quarantine"] is None
        assert lifted["lastExecution"]["state"] == "Succeeded"
        assert lifted["countSuccessiveCompleteFailures"] == 0
        assert hq_user(srv, "eline.smit@emea.contoso.com") is not None
        job.post("pause")
    assert sync_threads() == []


def test_a_reset_of_the_directory_stops_the_old_jobs_at_once(caplog):
    with EmulatorServer(SAMPLES) as srv:                  # PT40M in real time: only the reset ends it
        job = Job(srv)
        job.post("start")
        job.next_cycle(timeout=20)
        assert sync_threads()
        with caplog.at_level(logging.WARNING, logger="tenantsync.emulator.sync"):
            srv.reset()
            deadline = time.monotonic() + 5
            while sync_threads() and time.monotonic() < deadline:
                time.sleep(0.05)
            assert sync_threads() == []
        assert not [r for r in caplog.records if "cycle failed" in r.getMessage()]
        assert job.emea.get(job.path).status_code == 404  # the job went with its directory
        assert srv.dump(EMEA)["synchronizationJobs"] == []
        assert hq_user(srv, "eline.smit@emea.contoso.com") is None


def test_the_dump_and_the_status_show_the_service_state_without_secret_values():
    with EmulatorServer(SAMPLES) as srv:
        job = Job(srv)
        assert job.status()["steadyStateFirstAchievedTime"] == NEVER
        job.post("start")
        first = job.next_cycle(timeout=20)
        run = first["lastExecution"]
        assert run["countExports"] > 50
        assert first["steadyStateFirstAchievedTime"] == NEVER      # it exported: not a steady state
        assert first["escrowsPruned"] is False and first["countSuccessiveCompleteFailures"] == 0
        linked = [u for u in srv.dump(HQ)["users"] if "#EXT#" in (u.get("userPrincipalName") or "")]
        # stringKeyLongValuePair per object type: the users the job created or matched and updated
        assert first["synchronizedEntryCountByType"] == [{"key": "User", "value": run["countExported"]}]
        assert len(linked) >= run["countExported"]
        rows = job.logs(jobId=job.id)
        # The default schema's showInAddressList is the service's own: no warning row about it.
        assert rows and not [r for r in rows if "AttributeNotWritableInGraph" in json.dumps(r)]

        dump = srv.dump(EMEA)
        assert [sp["id"] for sp in dump["servicePrincipals"]] == [job.sp["id"]]
        assert [a["resourceId"] for a in dump["appRoleAssignments"]] == [job.sp["id"]]
        assert sorted(dump["synchronizationSecretKeys"][job.sp["id"]]) == [
            "AuthenticationType", "CompanyId", "SyncAll", "SyncNotificationSettings"]
        assert "DeleteThresholdValue" not in json.dumps(dump)       # keys only, never a value
        (dumped,) = dump["synchronizationJobs"]
        assert dumped["id"] == job.id and dumped["servicePrincipalId"] == job.sp["id"]
        assert dumped["schedule"] == {**dumped["schedule"], "interval": "PT40M", "state": "Active"}
        assert dumped["status"]["lastExecution"]["activityIdentifier"] == run["activityIdentifier"]
        assert dump["provisioningLogCount"] == len(rows)
        assert srv.dump(HQ)["synchronizationJobs"] == []

        assert job.emea.patch(job.path, json={"schedule": {"interval": "PT1S"}}).status_code == 204
        steady = job.next_cycle(after=run["activityIdentifier"], timeout=15)
        assert steady["lastExecution"]["countExports"] == 0
        assert steady["steadyStateFirstAchievedTime"] == steady["steadyStateLastAchievedTime"] != NEVER
        later = job.next_cycle(after=steady["lastExecution"]["activityIdentifier"], timeout=15)
        assert later["steadyStateFirstAchievedTime"] == steady["steadyStateFirstAchievedTime"]
        assert later["steadyStateLastAchievedTime"] > steady["steadyStateLastAchievedTime"]
        job.post("pause")
    assert sync_threads() == []
