"""The Prefect server dies (SIGKILL) mid-cycle and is started again on the same PostgreSQL
database. The cycle, whose flow-run process lives on a worker, carries on: Prefect's client retries
its calls while the server is away (prefect/client/base.py: a refused connection is retried once
connected, up to PREFECT_CLIENT_MAX_RETRIES with back-off), and the deployments have no Prefect
concurrency limit whose in-memory lease a restart would forget (flows/deploy.py). The run ends in
a final state that says what it did; the next scheduled run converges: one account per in-scope
user, and a later initial cycle finds nothing to create or update."""

from __future__ import annotations

import re
import sqlite3
import time
from collections import Counter
from typing import Any

import pytest

from ._procs import deploy_config, restart_server
from .conftest import Cluster

pytestmark = [pytest.mark.prefect, pytest.mark.postgres, pytest.mark.xdist_group("cluster"),
              pytest.mark.timeout(600)]          # the first test of the session starts the cluster

CONFIG = "restart-check"
ANCHOR = "_tenantsyncSourceAnchor"
FINAL = ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")


def anchors(users: list[dict[str, Any]]) -> Counter[str]:
    return Counter(str(v) for u in users for k, v in u.items() if k.endswith(ANCHOR) and v)


def counts(message: str) -> dict[str, int]:
    """The counts of a cycle's final message ("<name> <kind> cycle: create 3, success 3. ...")."""
    head = message.split(": ", 1)[1].split(". ", 1)[0] if ": " in message else ""
    return {k: int(v) for k, v in re.findall(r"([A-Za-z]+) (\d+)", head)}


def test_the_server_restarted_mid_cycle_the_run_ends_clearly_and_the_next_run_converges(cluster: Cluster) -> None:
    cluster.reset(latency_ms=150)
    deploy_config(cluster, CONFIG)
    scheduled = cluster.http.get(f"{cluster.api}/deployments/name/sync-cycle/{CONFIG}-incremental").json()
    assert not scheduled.get("concurrency_limit") and not scheduled.get("global_concurrency_limit"), scheduled
    run_id = cluster.start(f"{CONFIG}-initial")
    deadline = time.monotonic() + 120
    while cluster.writes() < 20:                   # into the invitations
        run = cluster.run(run_id)
        assert run["state"]["type"] not in FINAL, run["state"]
        assert time.monotonic() < deadline, "the cycle never began writing"
        time.sleep(0.2)

    # the server dies and comes back on the same database
    at_kill: list[int] = []
    down = restart_server(cluster, down_s=3, on_kill=lambda: at_kill.append(cluster.writes()))
    back = time.monotonic()
    print(f"server down {down:.1f} s; writes at the kill {at_kill[0]}, now {cluster.writes()}")

    # the run ends, saying how
    cluster.slow(0)
    done = cluster.wait(run_id, timeout_s=150)
    print(f"run {done['state']['type']} {done['state']['name']} {time.monotonic() - back:.1f} s after the restart: "
          f"{done['state']['message']}")
    state = done["state"]
    if state["type"] == "COMPLETED":
        assert f"{CONFIG} initial cycle: " in state["message"] and counts(state["message"]).get("create", 0) > 0
    else:
        assert state["message"], state          # a failure names its cause
    with sqlite3.connect(cluster.work / "state" / f"{CONFIG}.db") as db:
        first = db.execute("SELECT status, error FROM ts_cycles WHERE config = ? ORDER BY started", (CONFIG,)).fetchall()
    assert len(first) == 1 and first[0][0] in (("success", "warning") if state["type"] == "COMPLETED"
                                                else ("failure", "crashed", "running")), first

    # the next scheduled run converges: one account per in-scope user ...
    rerun = cluster.wait(cluster.start(f"{CONFIG}-incremental"), timeout_s=120)
    assert rerun["state"]["type"] == "COMPLETED", rerun["state"]
    assert set(anchors(cluster.target_users()).values()) == {1}                # no duplicate
    # ... and a full (initial) cycle then finds every user in step: nothing missing, nothing to change
    check = cluster.wait(cluster.start(f"{CONFIG}-initial"), timeout_s=120)
    assert check["state"]["type"] == "COMPLETED", check["state"]
    found = counts(check["state"]["message"])
    assert not found.get("create") and not found.get("update") and not found.get("failure"), check["state"]
    assert set(anchors(cluster.target_users()).values()) == {1}
