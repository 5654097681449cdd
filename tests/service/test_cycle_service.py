"""provisioner: entra: sync cycles run by the emulated provisioning service, followed and reported
by the sync-cycle flow (flows/service_cycle.py) into the engine's reports.

The emulator runs at time scale 1200: the job's PT40M schedule is a cycle every 2 seconds.
"""

from __future__ import annotations

import csv
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="tenantsync-prefect-"))
os.environ.update({"EMEA_TOKEN": "emea-token", "HQ_TOKEN": "hq-token",
                   "TENANTSYNC_SERVICE_POLL_S": "0.2", "TENANTSYNC_SERVICE_FOLLOW_S": "120"})

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "data" / "samples" / "tenants.json"
CONFIG = ROOT / "data" / "configs" / "emea-to-hq-entra.yaml"
EMEA, HQ = "2cee517d-601a-44f9-82ff-f26697be201f", "7242482c-0038-4818-b3af-70b2766b9f27"
CTS_GROUP = "15dd8750-8a60-4194-afda-cad956a8afdd"
ZOE = "2c61be39-a49f-4975-a086-bbe7b399a465"
TIME_SCALE = 1200.0

pytestmark = [pytest.mark.prefect, pytest.mark.usefixtures("svc_harness")]


@pytest.fixture(scope="session")
def svc_harness(prefect_harness):
    """The folder's one temporary Prefect server (conftest.py)."""
    yield


@pytest.fixture(scope="module")
def svc_world() -> dict:
    return json.loads(SAMPLES.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def svc_emulator(svc_world):
    from tenantsync.emulator.server import EmulatorServer

    with EmulatorServer(svc_world, time_scale=TIME_SCALE) as server:
        yield server


@pytest.fixture
def svc_config(tmp_path, svc_emulator, svc_world, monkeypatch):
    """make(**settings) -> a copy of the sample entra configuration on fresh sample tenants, set up
    (tenantsync setup) so that its job exists; its state and reports under tmp_path."""
    svc_emulator.reset(svc_world)
    monkeypatch.setenv("TENANTSYNC_GRAPH_URL", svc_emulator.url)

    def make(setup: bool = True, **settings: Any) -> Path:
        text = CONFIG.read_text(encoding="utf-8").replace("sqlite:///data/state/", f"sqlite:///{tmp_path}/")
        for key, value in settings.items():
            text, n = re.subn(rf"(?m)^  {key}: .*$", f"  {key}: {value}", text)
            assert n, key
        path = tmp_path / "emea-to-hq-entra.yaml"
        path.write_text(text, encoding="utf-8")
        if setup:
            from tenantsync.config import load_config
            from tenantsync.entra_service.setup import run_service_setup

            cfg = load_config(path)
            report = run_service_setup(cfg)
            assert report.job_id, report.problem
        return path

    return make


def run_sync(config: Path, reports: Path, **params: Any) -> tuple[Any, dict[str, Any]]:
    from flows.sync import sync_cycle

    state: Any = sync_cycle(config=str(config), reports_dir=str(reports), return_state=True, **params)
    data = state.result(raise_on_failure=False)
    result = getattr(data, "result", data)
    return state, result.as_dict()


def run_name(state: Any) -> str:
    from prefect import get_client

    with get_client(sync_client=True) as client:
        return client.read_flow_run(state.state_details.flow_run_id).name


def job_of(config: Path) -> dict[str, Any]:
    from tenantsync.config import load_config
    from tenantsync.entra_service import resolve_ids, service_jobs
    from tenantsync.store import Store

    cfg = load_config(config)
    with service_jobs(cfg) as jobs:
        ids = resolve_ids(cfg, jobs, Store.for_url(cfg.state_url))
        return jobs.job(str(ids.sp_id), str(ids.job_id))


def hq_users(emulator: Any) -> dict[str, dict[str, Any]]:
    tenant = emulator.emulator.directory.tenant(HQ)
    return {u["id"]: u for u in tenant.users.values()} if isinstance(tenant.users, dict) else \
        {u["id"]: u for u in tenant.users}


def removed_by_service(store: Any, config: str) -> list[str]:
    """Source ids of the delete/disable rows of every cycle the store recorded (the schedule runs
    a cycle every 2 s here, so the one that applied them may not be the last one reported)."""
    return [r["sourceIdentity.id"] for c in store.cycles(config) for r in store.log(config, c["cycleId"])
            if r["provisioningAction"] in ("delete", "disable")]


def wait_for(check: Any, timeout_s: float = 60.0) -> None:
    import time

    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def rows_of(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


def test_initial_cycle_is_followed_to_its_end_with_counts_and_the_engines_csv(svc_config, svc_emulator, tmp_path):
    from tenantsync import reports

    config = svc_config()
    before = len(hq_users(svc_emulator))
    state, result = run_sync(config, tmp_path / "reports")
    assert state.is_completed(), state.message
    job = job_of(config)
    assert result["kind"] == "initial" and result["cycle_id"]
    assert job["schedule"]["state"] == "Active"          # the schedule goes on (a cycle every 2 s here)
    created = result["counts"]["create"]
    assert created > 50 and result["counts"]["failure"] == 0
    assert len(hq_users(svc_emulator)) == before + created          # the service created them in HQ
    here = tmp_path / "reports" / "emea-to-hq-entra"
    header, log = rows_of(here / result["cycle_id"] / "provisioning-log.csv")
    assert tuple(header) == reports.LOG_COLUMNS
    assert len(log) == sum(result["counts"][k] for k in reports.ACTIONS)
    zoe = next(r for r in log if r["sourceIdentity.id"] == ZOE)
    assert zoe["cycleId"] == result["cycle_id"] and zoe["jobId"] == job["id"]
    assert json.loads(zoe["provisioningSteps"])[0]["provisioningStepType"] == "import"
    header, cycles = rows_of(here / "cycles.csv")
    assert tuple(header) == reports.CYCLE_COLUMNS
    assert [(c["cycleId"], c["kind"], c["create"], c["jobStatus"]) for c in cycles] == \
        [(result["cycle_id"], "initial", str(created), "Active")]


def test_the_first_cycle_before_setup_runs_setup_itself(svc_config, svc_emulator, tmp_path):
    config = svc_config(setup=False)                         # no sync application, no job yet
    state, result = run_sync(config, tmp_path / "reports")
    assert state.is_completed(), state.message
    assert result["kind"] == "initial" and result["counts"]["create"] > 50
    job = job_of(config)                                     # found through the ids setup recorded
    assert job["templateId"] == "Azure2Azure" and job["schedule"]["interval"] == "PT40M"


def test_dry_run_starts_nothing_and_says_the_service_has_no_dry_run(svc_config, tmp_path):
    config = svc_config()
    state, result = run_sync(config, tmp_path / "reports", dry_run=True)
    assert state.is_completed(), state.message
    assert result["dry_run"] and "has no dry run" in result["message"] and "start the job" in result["message"]
    assert job_of(config)["schedule"]["state"] == "Disabled"        # nothing started


def test_incremental_runs_report_each_cycle_of_the_jobs_schedule(svc_config, svc_emulator, tmp_path):
    from tenantsync.config import load_config
    from tenantsync.graph.api import GraphApi

    config = svc_config()
    run_sync(config, tmp_path / "reports")
    cfg = load_config(config)
    with GraphApi(cfg.connection("emea")) as emea:
        emea.request("PATCH", f"users/{ZOE}", {"displayName": "Zoë Schmidt-Weber"})
    # the service's own schedule applies it; the run then reports every cycle since the initial one
    wait_for(lambda: any(u.get("displayName") == "Zoë Schmidt-Weber" for u in hq_users(svc_emulator).values()))
    state, result = run_sync(config, tmp_path / "reports")
    assert state.is_completed(), state.message
    assert result["kind"] == "incremental"
    assert run_name(state) == "emea-to-hq-entra-incremental"          # named so from its start
    from tenantsync.store import Store

    cycles = Store.for_url(cfg.state_url).cycles(cfg.name)
    assert [c["kind"] for c in cycles][0] == "initial" and len(cycles) >= 2
    logged = [r for c in cycles[1:] for r in Store.for_url(cfg.state_url).log(cfg.name, c["cycleId"])
              if r["sourceIdentity.id"] == ZOE and r["provisioningAction"] == "update"]
    assert logged and any(p["newValue"] == "Zoë Schmidt-Weber" for p in logged[0]["modifiedProperties"])
    target = next(u for u in hq_users(svc_emulator).values() if u.get("displayName") == "Zoë Schmidt-Weber")
    assert target["userType"] == "Member"
    # a second run reports only what ran since: no cycle twice
    run_sync(config, tmp_path / "reports")
    ids = [c["cycleId"] for c in Store.for_url(cfg.state_url).cycles(cfg.name)]
    assert len(ids) == len(set(ids)) > len(cycles)


def test_quarantine_is_seen_notified_and_lifted_by_restart(svc_config, svc_emulator, tmp_path):
    from tenantsync.config import load_config
    from tenantsync.store import Store

    config = svc_config()
    run_sync(config, tmp_path / "reports")
    hq = svc_emulator.emulator.directory.tenant(HQ)
    hq.identity_sync[EMEA.lower()]["userSyncInbound"]["isSyncAllowed"] = False     # HQ stops allowing sync
    wait_for(lambda: job_of(config)["status"]["code"] == "Quarantine")               # the service's next cycle
    state, result = run_sync(config, tmp_path / "reports")
    assert state.is_failed() and result["reason"] == "quarantined", result["message"]
    assert result["job"]["quarantine"]["reason"] == "EncounteredQuarantineException"
    assert result["job"]["quarantine"]["nextAttempt"] and result["job"]["quarantine"]["currentBegan"]
    cfg = load_config(config)
    store = Store.for_url(cfg.state_url)
    assert store.job(cfg.name).code == "Quarantine"
    notes = list(store.notifications(cfg.name))
    assert len(notes) == 1 and "EncounteredQuarantineException" in notes[0]["subject"]
    # fixed, then restarted (resetScope Watermark, Escrows, QuarantineState): the job is Active again
    hq.identity_sync[EMEA.lower()]["userSyncInbound"]["isSyncAllowed"] = True
    state, result = run_sync(config, tmp_path / "reports", restart=True)
    assert state.is_completed(), state.message
    assert result["kind"] == "initial" and result["job"]["code"] == "Active" and not result["job"]["quarantine"]
    assert store.job(cfg.name).code == "Active"


def test_staged_deletions_wait_then_are_applied_with_force_deletes(svc_config, svc_emulator, tmp_path):
    from tenantsync.config import load_config
    from tenantsync.graph.api import GraphApi
    from tenantsync.store import Store

    config = svc_config(deletion_threshold=3)
    state, first = run_sync(config, tmp_path / "reports")
    assert state.is_completed(), state.message
    cfg = load_config(config)
    store = Store.for_url(cfg.state_url)
    created = {r["sourceIdentity.id"]: r["targetIdentity.id"]
               for r in store.log(cfg.name, first["cycle_id"], action="create")}
    leaving = sorted(created)[:5]
    with GraphApi(cfg.connection("emea")) as emea:
        for uid in leaving:
            emea.request("DELETE", f"groups/{CTS_GROUP}/members/{uid}/$ref")
    wait_for(lambda: job_of(config)["status"]["code"] == "Quarantine")               # the service's next cycle
    state, held = run_sync(config, tmp_path / "reports", approval_timeout_s=0)
    assert state.is_failed() and held["reason"] == "staged-deletions", held["message"]
    assert held["job"]["quarantine"]["reason"] == "TooManyDeletes" and held["counts"]["stagedDelete"] == 5
    _, pending = rows_of(tmp_path / "reports" / "emea-to-hq-entra" / "pending-deletions.csv")
    assert sorted(r["sourceIdentity.id"] for r in pending) == leaving
    assert all(hq_users(svc_emulator)[created[u]].get("accountEnabled", True) is not False for u in leaving)
    # the command line's --allow-deletes: restart with ForceDeletes, the deletions applied
    state, applied = run_sync(config, tmp_path / "reports", allow_deletes=True)
    assert state.is_completed(), state.message
    assert applied["job"]["code"] == "Active" and not store.staged(cfg.name)
    assert sorted(removed_by_service(store, cfg.name)) == leaving     # by the ForceDeletes cycle (or one after)
    users = hq_users(svc_emulator)
    assert all(created[u] not in users or users[created[u]].get("accountEnabled") is False for u in leaving)


def test_staged_deletions_approved_in_the_paused_runs_form_restart_with_force_deletes(svc_config, svc_emulator,
                                                                                        tmp_path):
    import threading
    import time

    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType
    from prefect.client.schemas.objects import StateType
    from prefect.flow_runs import resume_flow_run

    from tenantsync.config import load_config
    from tenantsync.graph.api import GraphApi
    from tenantsync.store import Store

    config = svc_config(deletion_threshold=3)
    _, first = run_sync(config, tmp_path / "reports")
    cfg = load_config(config)
    store = Store.for_url(cfg.state_url)
    leaving = sorted(r["sourceIdentity.id"] for r in store.log(cfg.name, first["cycle_id"], action="create"))[:4]
    with GraphApi(cfg.connection("emea")) as emea:
        for uid in leaving:
            emea.request("DELETE", f"groups/{CTS_GROUP}/members/{uid}/$ref")
    wait_for(lambda: job_of(config)["status"]["code"] == "Quarantine")
    resumed: list[Any] = []

    def approve() -> None:        # an administrator ticks approve in the Resume form
        paused = FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED])))
        deadline = time.monotonic() + 60
        with get_client(sync_client=True) as client:
            while time.monotonic() < deadline and not resumed:
                for fr in client.read_flow_runs(flow_run_filter=paused):
                    resumed.append(fr.id)
                    resume_flow_run(fr.id, run_input={"approve": True})
                    return
                time.sleep(0.3)

    helper = threading.Thread(target=approve)
    helper.start()
    state, result = run_sync(config, tmp_path / "reports", approval_timeout_s=60)
    helper.join(5)
    assert resumed and state.is_completed(), state.message
    assert result["job"]["code"] == "Active" and not store.staged(cfg.name)
    assert sorted(removed_by_service(store, cfg.name)) == leaving
    kinds = [c["kind"] for c in store.cycles(cfg.name)]
    assert kinds[0] == "initial" and len(kinds) >= 3          # initial, the staged cycle, the ForceDeletes one


def test_a_paused_job_is_reported_and_left_paused(svc_config, tmp_path):
    from tenantsync.config import load_config
    from tenantsync.entra_service import resolve_ids, service_jobs
    from tenantsync.store import Store

    config = svc_config()
    run_sync(config, tmp_path / "reports")
    cfg = load_config(config)
    with service_jobs(cfg) as jobs:             # tenantsync pause CONFIG
        ids = resolve_ids(cfg, jobs, Store.for_url(cfg.state_url))
        jobs.pause(str(ids.sp_id), str(ids.job_id))
    state, result = run_sync(config, tmp_path / "reports")
    assert state.is_completed(), state.message
    assert job_of(config)["schedule"]["state"] == "Paused"      # not started again by the incremental run
    assert result["kind"] == "incremental"
