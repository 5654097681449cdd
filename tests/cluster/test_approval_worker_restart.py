"""A run waiting for a deletion approval survives its worker (flows/_approval.py). On the cluster
(Prefect server on PostgreSQL, process workers), a scheduled incremental cycle that plans more
deletions than the threshold ends its cycle and is suspended: the deletions staged in the state
store, the lock released, the run's process gone. The worker that ran it is then killed with
SIGKILL and a new one started under its name; the administrator approves in the run's Resume form
(the API call the UI makes); the run starts over on a worker, finds the decision and the staged
list, and applies exactly those deletions."""

from __future__ import annotations

import sqlite3
import time

import pytest

from flows.cluster import running

from ._procs import (
    deploy_config,
    kill_tree,
    leave_group,
    replace_process,
    restart_server,
    snapshot_process,
    worker_online,
)
from .conftest import CRASH_AFTER_S, Cluster

pytestmark = [pytest.mark.prefect, pytest.mark.postgres, pytest.mark.xdist_group("cluster"),
              pytest.mark.timeout(600)]          # the first test of the session starts the cluster

CONFIG = "approval-check"


def rows(cluster: Cluster, query: str, *args: object) -> list[sqlite3.Row]:
    with sqlite3.connect(cluster.work / "state" / f"{CONFIG}.db") as db:
        db.row_factory = sqlite3.Row
        return list(db.execute(query, args))


def test_a_suspended_approval_survives_a_worker_killed_and_is_applied_once_approved(cluster: Cluster) -> None:
    from tenantsync.store import Store
    from tenantsync.store.locks import holder

    cluster.reset()
    deploy_config(cluster, CONFIG, deletion_threshold=3)
    t0 = time.monotonic()
    first = cluster.wait(cluster.start(f"{CONFIG}-initial"))
    assert first["state"]["type"] == "COMPLETED", first["state"]
    print(f"initial cycle: {time.monotonic() - t0:.1f} s")
    with Store(cluster.state_url(CONFIG)) as store:
        leaving = sorted(s for s, link in store.links(CONFIG).items() if link.state == "active")[:5]
        targets = {store.links(CONFIG)[s].target_id for s in leaving}
    assert len(leaving) == 5
    leave_group(cluster, leaving)

    # the scheduled incremental cycle plans 5 deletions (threshold 3): suspended, off its worker
    run_id = cluster.start(f"{CONFIG}-incremental")
    deadline = time.monotonic() + 120
    while (run := cluster.run(run_id))["state"]["type"] not in ("PAUSED", "COMPLETED", "FAILED", "CRASHED"):
        assert time.monotonic() < deadline, run["state"]
        time.sleep(0.5)
    assert run["state"]["type"] == "PAUSED" and run["state"]["name"] == "Suspended", run["state"]
    suspended = time.monotonic()
    worker_name = run["labels"]["prefect.worker.name"]
    engine, deadline = int(run["infrastructure_pid"]), time.monotonic() + 30
    while running(engine):                                                  # the run leaves its process
        assert time.monotonic() < deadline, "the suspended run's process did not exit"
        time.sleep(0.2)
    staged = rows(cluster, "SELECT source_id, cycle_id, action FROM ts_staged_deletions WHERE config = ?", CONFIG)
    assert sorted(r["source_id"] for r in staged) == leaving and {r["action"] for r in staged} == {"delete"}
    cycle_id = staged[0]["cycle_id"]
    assert run["state"]["state_details"]["pause_key"] == f"deletion-approval-{cycle_id}"
    job = rows(cluster, "SELECT code, quarantine_reason FROM ts_jobs WHERE config = ?", CONFIG)[0]
    assert (job["code"], job["quarantine_reason"]) == ("Quarantine", "TooManyDeletes")
    with Store(cluster.state_url(CONFIG)) as store:
        assert holder(store.writer, CONFIG) is None                         # the lock is free while it waits
    assert targets <= {u["id"] for u in cluster.target_users()}             # nothing deleted yet
    said = cluster.said(run_id, "5 deletions staged above the threshold of 3", "suspended")
    assert "5 deletions staged above the threshold of 3" in said and "suspended" in said

    # the worker that ran it dies (SIGKILL, its machine); a new worker starts under its name
    worker_pid = cluster.pids()[worker_name]
    cmd, env = snapshot_process(worker_pid)
    kill_tree(worker_pid)
    restarted = time.time()
    new_pid = replace_process(cluster, worker_name, cmd, env)
    deadline = time.monotonic() + 90
    while not worker_online(cluster, worker_name, restarted):
        assert running(new_pid) and time.monotonic() < deadline, f"{worker_name} not back online"
        time.sleep(0.5)
    # longer than the cluster's automation gives a run without heartbeats: a suspended run is no zombie
    time.sleep(max(0.0, suspended + CRASH_AFTER_S + 10 - time.monotonic()))
    assert cluster.run(run_id)["state"]["name"] == "Suspended"             # still waiting, decision to come

    # the administrator approves in the Resume form (the UI's call): the run starts over and applies them
    answer = cluster.http.post(f"{cluster.api}/flow_runs/{run_id}/resume", json={"run_input": {"approve": True}})
    assert answer.status_code in (200, 201) and answer.json()["status"] == "ACCEPT", answer.text
    t1 = time.monotonic()
    done = cluster.wait(run_id, timeout_s=120)
    print(f"resumed run: {time.monotonic() - t1:.1f} s")
    assert done["state"]["type"] == "COMPLETED", f"{done['state']}\n" + "\n".join(cluster.logs(run_id)[-30:])
    assert "delete 5" in done["state"]["message"], done["state"]
    approved = f"5 staged deletions approved in the Resume form (cycle {cycle_id}'s list)"
    assert approved in cluster.said(run_id, approved)
    assert not targets & {u["id"] for u in cluster.target_users()}          # soft-deleted in HQ

    # the provisioning log: one successful delete per approved user, in the resumed run's cycle
    last = rows(cluster, "SELECT cycle_id, status FROM ts_cycles WHERE config = ? ORDER BY started DESC", CONFIG)[0]
    deleted = rows(cluster, "SELECT source_id, status FROM ts_provisioning_log WHERE config = ? AND cycle_id = ? "
                            "AND provisioning_action = 'delete'", CONFIG, last["cycle_id"])
    assert last["cycle_id"] != cycle_id and last["status"] == "success"
    assert sorted(r["source_id"] for r in deleted) == leaving and {r["status"] for r in deleted} == {"success"}
    assert rows(cluster, "SELECT count(*) AS n FROM ts_staged_deletions WHERE config = ?", CONFIG)[0]["n"] == 0
    job = rows(cluster, "SELECT code FROM ts_jobs WHERE config = ?", CONFIG)[0]
    assert job["code"] == "Active"


def _suspended(cluster: Cluster, run_id: str, not_key: str = "") -> dict:
    """The run once suspended (for a pause key other than not_key)."""
    deadline = time.monotonic() + 120
    while True:
        run = cluster.run(run_id)
        state = run["state"]
        if state["type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED") or (
                state["name"] == "Suspended" and state["state_details"]["pause_key"] != not_key):
            return run
        assert time.monotonic() < deadline, state
        time.sleep(0.5)


def test_a_server_restart_keeps_the_suspended_approval_and_only_the_list_shown_is_approved(cluster: Cluster) -> None:
    """The Prefect server restarted while a run waits: still suspended, its form answered after.
    One more user left meanwhile: the approval of the list shown does not cover the new list, which
    is staged again and asked for; rejected, nothing is deleted and the six stay staged."""
    from tenantsync.store import Store

    name = "approval-recheck"
    cluster.reset()
    deploy_config(cluster, name, deletion_threshold=3)
    first = cluster.wait(cluster.start(f"{name}-initial"))
    assert first["state"]["type"] == "COMPLETED", first["state"]
    with Store(cluster.state_url(name)) as store:
        links = store.links(name)
    active = sorted(s for s, link in links.items() if link.state == "active")
    leaving, later = active[:5], active[5]
    targets = {links[s].target_id for s in [*leaving, later]}
    leave_group(cluster, leaving)
    run_id = cluster.start(f"{name}-incremental")
    run = _suspended(cluster, run_id)
    shown = run["state"]["state_details"]["pause_key"]
    assert run["state"]["name"] == "Suspended" and shown.startswith("deletion-approval-"), run["state"]

    # the Prefect server dies and comes back (same PostgreSQL database): the run still waits
    restart_server(cluster)
    assert cluster.run(run_id)["state"]["name"] == "Suspended"

    # one more user leaves before the answer: the list approved is not the list planned now
    leave_group(cluster, [later])
    answer = cluster.http.post(f"{cluster.api}/flow_runs/{run_id}/resume", json={"run_input": {"approve": True}})
    assert answer.json()["status"] == "ACCEPT", answer.text
    again = _suspended(cluster, run_id, not_key=shown)
    assert again["state"]["name"] == "Suspended", again["state"]
    said = cluster.said(run_id, "the deletions planned now are not the list approved",
                        "6 deletions staged above the threshold of 3")
    assert "the deletions planned now are not the list approved" in said
    assert "6 deletions staged above the threshold of 3" in said
    assert targets <= {u["id"] for u in cluster.target_users()}             # nothing deleted
    with sqlite3.connect(cluster.work / "state" / f"{name}.db") as db:
        staged = {r[0]: r[1] for r in db.execute("SELECT source_id, cycle_id FROM ts_staged_deletions "
                                                  "WHERE config = ?", (name,))}
    assert sorted(staged) == sorted([*leaving, later])
    assert again["state"]["state_details"]["pause_key"] == f"deletion-approval-{staged[later]}"

    # rejected: the run ends Quarantined, the six stay staged, nothing deleted
    answer = cluster.http.post(f"{cluster.api}/flow_runs/{run_id}/resume", json={"run_input": {"approve": False}})
    assert answer.json()["status"] == "ACCEPT", answer.text
    done = cluster.wait(run_id, timeout_s=120)
    assert done["state"]["type"] == "FAILED" and done["state"]["name"] == "Quarantined", done["state"]
    assert "were rejected: 6 stay staged" in done["state"]["message"], done["state"]
    assert targets <= {u["id"] for u in cluster.target_users()}


def test_no_answer_within_approval_timeout_fails_the_run_and_keeps_the_deletions_staged(cluster: Cluster) -> None:
    """approval_timeout_s as the README says: after it, the run ends (Prefect's pause expiration)
    and the deletions stay staged, the job quarantined."""
    name = "approval-timeout"
    cluster.reset()
    deploy_config(cluster, name, deletion_threshold=3)
    first = cluster.wait(cluster.start(f"{name}-initial"))
    assert first["state"]["type"] == "COMPLETED", first["state"]
    with sqlite3.connect(cluster.work / "state" / f"{name}.db") as db:
        leaving = sorted(r[0] for r in db.execute("SELECT source_id FROM ts_links WHERE config = ? AND state = "
                                                  "'active' ORDER BY source_id LIMIT 5", (name,)))
    leave_group(cluster, leaving)
    found = cluster.http.get(f"{cluster.api}/deployments/name/sync-cycle/{name}-incremental").json()
    made = cluster.http.post(f"{cluster.api}/deployments/{found['id']}/create_flow_run", json={"parameters": {
        "reports_dir": str(cluster.work / "reports"), "approval_timeout_s": 10}})
    run_id = made.json()["id"]
    assert _suspended(cluster, run_id)["state"]["name"] == "Suspended"
    done = cluster.wait(run_id, timeout_s=90)
    assert done["state"]["type"] == "FAILED" and "never resumed" in done["state"]["message"], done["state"]
    with sqlite3.connect(cluster.work / "state" / f"{name}.db") as db:
        staged = sorted(r[0] for r in db.execute("SELECT source_id FROM ts_staged_deletions WHERE config = ?", (name,)))
        job = db.execute("SELECT code, quarantine_reason FROM ts_jobs WHERE config = ?", (name,)).fetchone()
    assert staged == leaving and tuple(job) == ("Quarantine", "TooManyDeletes")
