"""SyncJobs (tenantsync/connectors/sync_jobs.py) against the emulator's synchronization API."""

from __future__ import annotations

import time

import pytest

from tenantsync.connectors.sync_jobs import SyncJobs
from tenantsync.errors import DryRunViolation, GraphError
from tenantsync.graph.api import GraphApi
from tenantsync.syncschema import default_schema

from .conftest import EMEA, EMEA_GROUP, HQ


@pytest.fixture
def jobs(world):
    api = GraphApi({"name": "emea", "tenant_id": EMEA, "graph_url": world.url,
                    "auth": {"kind": "static_token", "token_env": "EMEA_TOKEN"}})
    yield SyncJobs(api)
    api.close()


def test_one_configuration_from_template_to_paused_job(jobs):
    assert jobs.find_service_principal("o'brien sync") is None          # a quote in the filter
    made = jobs.instantiate("o'brien sync")
    sp = made["servicePrincipal"]
    assert made["application"]["displayName"] == "o'brien sync"
    assert jobs.find_service_principal("o'brien sync")["id"] == sp["id"]
    assert jobs.service_principal(sp["id"])["appRoles"]

    jobs.validate_credentials(sp["id"], {"CompanyId": HQ, "AuthenticationType": "SyncPolicy"})
    job = jobs.create_job(sp["id"])
    assert [j["id"] for j in jobs.jobs(sp["id"])] == [job["id"]]
    assert job["schedule"]["state"] == "Disabled"

    jobs.put_secrets(sp["id"], {"CompanyId": HQ, "AuthenticationType": "SyncPolicy", "SyncAll": "false"})
    assert jobs.secrets(sp["id"])["CompanyId"] == HQ
    jobs.validate_credentials(sp["id"], {}, job_id=job["id"], use_saved=True)

    role = sp["appRoles"][0]["id"]
    assigned = jobs.assign(sp["id"], EMEA_GROUP, role)
    assert [a["principalId"] for a in jobs.assignments(sp["id"])] == [EMEA_GROUP]
    jobs.unassign(sp["id"], assigned["id"])
    assert jobs.assignments(sp["id"]) == []

    schema = jobs.schema(sp["id"], job["id"])
    assert schema["synchronizationRules"][0]["name"] == "USER_INBOUND_USER"
    jobs.put_schema(sp["id"], job["id"], default_schema())

    jobs.start(sp["id"], job["id"])
    assert jobs.job(sp["id"], job["id"])["schedule"]["state"] == "Active"
    jobs.pause(sp["id"], job["id"])
    assert jobs.job(sp["id"], job["id"])["status"]["code"] == "Paused"

    jobs.delete_job(sp["id"], job["id"])
    assert jobs.jobs(sp["id"]) == []


def test_provisioning_logs_are_read_by_job_and_cycle(jobs, make_config, world):
    from tenantsync.ops.setup import run_setup

    cfg = make_config()
    report = run_setup(cfg)
    jobs.start(report.sp_id, report.job_id)
    deadline = time.monotonic() + 60
    rows: list[dict] = []
    while time.monotonic() < deadline and not rows:
        rows = [r for page in jobs.provisioning_logs(job_id=report.job_id) for r in page]
        time.sleep(0.5)
    assert rows and {r["jobId"] for r in rows} == {report.job_id}
    cycle = rows[0]["cycleId"]
    same = [r for page in jobs.provisioning_logs(job_id=report.job_id, cycle_id=cycle) for r in page]
    assert same and {r["cycleId"] for r in same} == {cycle}
    assert [r for page in jobs.provisioning_logs(job_id="Azure2Azure.none.none") for r in page] == []
    jobs.pause(report.sp_id, report.job_id)


def test_a_read_only_client_refuses_the_service_writes(world):
    api = GraphApi({"name": "emea", "tenant_id": EMEA, "graph_url": world.url,
                    "auth": {"kind": "static_token", "token_env": "EMEA_TOKEN"}}, read_only=True)
    try:
        ro = SyncJobs(api)
        assert ro.find_service_principal("nobody") is None          # reads pass
        with pytest.raises(DryRunViolation):
            ro.instantiate("nobody")
    finally:
        api.close()


def test_unknown_job_is_a_404(jobs):
    sp = jobs.instantiate("lonely")["servicePrincipal"]
    with pytest.raises(GraphError) as err:
        jobs.job(sp["id"], "Azure2Azure.none.none")
    assert err.value.status == 404
