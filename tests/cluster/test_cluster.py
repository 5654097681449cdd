"""A configuration's cycles on a real cluster (Prefect server on PostgreSQL, two process workers):
two runs started at once on two workers never overlap, the later one waiting for the configuration's
lock; a worker killed with SIGKILL mid-cycle (with the flow-run process it started, as when its
machine dies) leaves a run that Prefect marks Crashed, a lock that the next run takes at once and a
target that the next run completes with no duplicate and no missing user."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest

from flows.cluster import descendants, running

from .conftest import CRASH_AFTER_S, Cluster

pytestmark = [pytest.mark.prefect, pytest.mark.postgres, pytest.mark.xdist_group("cluster"),
              pytest.mark.timeout(600)]          # the first test starts the cluster (1-2 min on a busy machine)

FIELDS = ("userPrincipalName", "mail", "displayName", "givenName", "surname", "accountEnabled", "userType",
          "department", "jobTitle")
ANCHOR = "_tenantsyncSourceAnchor"          # extension_<appId>_tenantsyncSourceAnchor (settings.anchor_extension)


def utc(text: str) -> datetime:
    """A time from the Prefect API (ISO, Z) or the state store (naive, UTC)."""
    t = datetime.fromisoformat(text)
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def snapshot(users: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    return sorted(tuple(str(u.get(f)) for f in FIELDS) for u in users)


def anchors(users: list[dict[str, Any]]) -> Counter[str]:
    """How many target users carry each source user's anchor."""
    return Counter(str(v) for u in users for k, v in u.items() if k.endswith(ANCHOR) and v)


def cycles(cluster: Cluster, config: str) -> list[dict[str, Any]]:
    with sqlite3.connect(cluster.work / "state" / f"{config}.db") as db:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute("SELECT cycle_id, kind, started, ended, status, error FROM ts_cycles "
                                            "WHERE config = ? ORDER BY started", (config,))]


def log_rows(cluster: Cluster, config: str, cycle_id: str) -> int:
    with sqlite3.connect(cluster.work / "state" / f"{config}.db") as db:
        return int(db.execute("SELECT count(*) FROM ts_provisioning_log WHERE config = ? AND cycle_id = ?",
                              (config, cycle_id)).fetchone()[0])


@pytest.fixture(scope="session")
def overlap(cluster: Cluster) -> dict[str, Any]:
    """Two initial cycles of overlap-check started at once, one on each worker (the initial
    deployment has no concurrency limit: only the configuration's lock keeps them apart). This
    process holds the lock first, as a cycle from the command line would, until both runs wait
    for it: then both are running for sure, whatever the machine's load. Their end state is also
    the reference a clean run gives."""
    from tenantsync.store import Store
    from tenantsync.store.locks import hold

    cluster.reset(latency_ms=60)
    t0 = time.monotonic()
    with Store(cluster.state_url("overlap-check")) as store, hold(store.writer, "overlap-check", what="sync cycle", wait_s=0):
        ids = [cluster.start("overlap-check-initial") for _ in range(2)]
        deadline = time.monotonic() + 150
        while not all(any(x.startswith("waiting up to ") for x in cluster.logs(i)) for i in ids):
            assert time.monotonic() < deadline, [cluster.run(i)["state"] for i in ids]
            time.sleep(0.5)
        released = datetime.now(UTC)
    runs = [cluster.wait(i) for i in ids]
    print(f"two overlapping runs: {time.monotonic() - t0:.1f} s")
    cluster.slow(0)
    return {"ids": ids, "runs": runs, "logs": [cluster.logs(i) for i in ids], "released": released,
            "cycles": cycles(cluster, "overlap-check"), "target": cluster.target_users()}


def test_two_runs_of_one_configuration_on_two_workers_never_overlap(overlap: dict[str, Any]) -> None:
    runs, logs = overlap["runs"], overlap["logs"]
    assert [r["state"]["type"] for r in runs] == ["COMPLETED", "COMPLETED"], [r["state"] for r in runs]
    workers = {r["labels"]["prefect.worker.name"] for r in runs}
    assert workers == {"cluster-worker-1", "cluster-worker-2"}            # one run on each worker

    # each said whom it waited for (here: this process), then ran
    for lines in logs:
        line = next(x for x in lines if x.startswith("waiting up to "))
        assert f"sync cycle of overlap-check is running on host {socket.gethostname()} pid {os.getpid()} " in line

    # the state store's cycles: two, one after the other, though both runs were running before
    # the first began
    first, second = overlap["cycles"]
    assert all(c["ended"] and c["status"] in ("success", "warning") for c in (first, second)), overlap["cycles"]
    assert max(utc(r["start_time"]) for r in runs) < overlap["released"] <= utc(first["started"])
    assert utc(first["ended"]) <= utc(second["started"]), overlap["cycles"]

    # one account per in-scope source user in the target
    count = anchors(overlap["target"])
    assert len(count) > 100 and set(count.values()) == {1}


def test_a_worker_killed_mid_cycle_crashes_its_run_frees_the_lock_and_the_next_run_converges(
        cluster: Cluster, overlap: dict[str, Any]) -> None:
    from tenantsync.store import Store
    from tenantsync.store.locks import holder

    want = overlap["target"]                       # what two clean cycles gave
    cluster.reset(latency_ms=300)
    run_id = cluster.start("crash-check-initial")
    deadline = time.monotonic() + 180
    while cluster.writes() < 20:                   # into the invitations (107 users in scope)
        run = cluster.run(run_id)
        assert run["state"]["type"] not in ("COMPLETED", "FAILED", "CRASHED"), run["state"]
        assert time.monotonic() < deadline, "the cycle never began writing"
        time.sleep(0.2)
    run = cluster.run(run_id)
    assert run["state"]["type"] == "RUNNING"
    worker = cluster.pids()[run["labels"]["prefect.worker.name"]]
    engine = int(run["infrastructure_pid"])
    tree = descendants(worker)
    assert engine in tree                          # the flow run's process, started by that worker

    # the worker's machine dies: the worker (its process group) and the flow run, SIGKILL
    os.killpg(worker, signal.SIGKILL)
    for pid in tree:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    killed = time.monotonic()
    written = cluster.writes()
    cluster.slow(0)
    deadline = killed + 10
    while running(engine) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not running(engine)

    # the lock still names the dead process, which no longer holds it: the next run takes it at once
    with Store(cluster.state_url("crash-check")) as store:
        left = holder(store.writer, "crash-check")
    assert left is not None and left.pid == engine and not left.alive()

    # the next run (the scheduled incremental), on the other worker, at once: it does not wait for
    # the lock, nor for Prefect to notice the dead run; it converges
    t0 = time.monotonic()
    rerun_id = cluster.start("crash-check-incremental")
    rerun = cluster.wait(rerun_id)
    print(f"rerun: {time.monotonic() - t0:.1f} s")
    assert rerun["state"]["type"] == "COMPLETED", rerun["state"]
    assert not any(line.startswith("waiting up to ") for line in cluster.logs(rerun_id))
    assert cluster.writes() > written
    target = cluster.target_users()
    assert set(anchors(target).values()) == {1}                         # no duplicate
    assert snapshot(target) == snapshot(want)                           # no missing user, nothing else differs

    # Prefect: no heartbeat from the killed run any more, the cluster's automation marks it Crashed
    crashed = cluster.wait(run_id, timeout_s=CRASH_AFTER_S + 60)
    crash_s = time.monotonic() - killed
    print(f"Crashed {crash_s:.1f} s after the kill")
    assert crashed["state"]["type"] == "CRASHED", crashed["state"]
    assert "no heartbeat" in crashed["state"]["message"]
    assert crash_s < CRASH_AFTER_S + 30

    # the crashed cycle is closed as such, its provisioning log kept; the lock is free again
    first, second = cycles(cluster, "crash-check")
    assert first["status"] == "crashed" and f"pid {engine}" in first["error"], first
    assert log_rows(cluster, "crash-check", first["cycle_id"]) > 0
    assert second["status"] in ("success", "warning") and second["ended"]
    with Store(cluster.state_url("crash-check")) as store:
        assert holder(store.writer, "crash-check") is None
