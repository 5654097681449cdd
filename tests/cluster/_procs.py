"""Helpers of the cluster tests that kill and replace a process of `make cluster` (a worker, the
Prefect server) as an operator would after a machine or process died: the same command line and
environment (read from /proc), the same name, recorded in pids.json so that `make cluster-down`
stops the replacement; and a configuration of the tests' own, deployed on the cluster."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from flows.cluster import descendants, running, start_ticks

from .conftest import REPO, Cluster

EMEA_GROUP = "15dd8750-8a60-4194-afda-cad956a8afdd"   # emea-to-hq's assigned group (data/configs)


def kill_tree(pid: int) -> list[int]:
    """SIGKILL pid's process group and every process under it (a machine dying); what was killed."""
    tree = descendants(pid)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    for p in [pid, *tree]:
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 10
    while any(running(p) for p in [pid, *tree]) and time.monotonic() < deadline:
        time.sleep(0.1)
    return [pid, *tree]


def snapshot_process(pid: int) -> tuple[list[str], dict[str, str]]:
    """The command line and environment of a live process (proc(5): cmdline, environ)."""
    cmd = Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0").split(b"\0")
    env = dict(item.split(b"=", 1) for item in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0") if b"=" in item)
    return [c.decode() for c in cmd], {k.decode(): v.decode() for k, v in env.items()}


def replace_process(cluster: Cluster, name: str, cmd: list[str], env: dict[str, str]) -> int:
    """Start cmd again under name (its own session and log, as flows.cluster starts it) and record
    it in pids.json in place of the dead one; its pid."""
    log = cluster.home / "logs" / f"{name}.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True, stdin=subprocess.DEVNULL)
    pids = cluster.home / "pids.json"
    data = json.loads(pids.read_text(encoding="utf-8"))
    for p in data["processes"]:
        if p["name"] == name:
            p["pid"], p["start"] = proc.pid, start_ticks(proc.pid)
    pids.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return proc.pid


def restart_server(cluster: Cluster, *, down_s: float = 0.0, on_kill: Any = None) -> float:
    """Kill the Prefect server (its whole tree) and start it again with the same command line and
    environment, after ``down_s``; returns once its API answers /health, the seconds it was down.
    ``on_kill()`` is called as soon as it is dead."""
    server = cluster.pids()["prefect-server"]
    cmd, env = snapshot_process(server)
    kill_tree(server)
    killed = time.monotonic()
    if on_kill is not None:
        on_kill()
    time.sleep(down_s)
    replace_process(cluster, "prefect-server", cmd, env)
    deadline = time.monotonic() + 120
    while True:
        try:
            if cluster.http.get(f"{cluster.api}/health", timeout=2).status_code == 200:
                return time.monotonic() - killed
        except Exception:
            pass
        assert time.monotonic() < deadline, "the Prefect server did not come back"
        time.sleep(0.5)


def worker_online(cluster: Cluster, name: str, since: float) -> bool:
    """The worker named `name` has sent a heartbeat since the epoch time `since`."""
    from datetime import datetime

    rows = cluster.http.post(f"{cluster.api}/work_pools/tenantsync-process/workers/filter", json={}).json()
    return any(w["name"] == name and w.get("status") == "ONLINE" and w.get("last_heartbeat_time")
               and datetime.fromisoformat(w["last_heartbeat_time"]).timestamp() > since for w in rows)


def deploy_config(cluster: Cluster, name: str, **settings: Any) -> Path:
    """A copy of the EMEA sample configuration named `name` (its state under the cluster's work
    folder, fresh), settings overridden, deployed on the cluster with `tenantsync deploy`."""
    text = (REPO / "data" / "configs" / "emea-to-hq.yaml").read_text(encoding="utf-8")
    state = cluster.work / "state" / f"{name}.db"
    state.unlink(missing_ok=True)
    body = text.replace("name: emea-to-hq", f"name: {name}", 1).replace(
        "sqlite:///data/state/emea-to-hq.db", f"sqlite:///{state.as_posix()}")
    for key, value in settings.items():
        lines = [line for line in body.splitlines() if line.strip().startswith(f"{key}:")]
        assert len(lines) == 1, key
        body = body.replace(lines[0], f"{lines[0].split(':')[0]}: {value}")
    path = cluster.work / f"{name}.yaml"
    path.write_text(body, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_API_URL=cluster.api, PREFECT_HOME=str(cluster.home), PREFECT_SERVER_ANALYTICS_ENABLED="false")
    out = subprocess.run([sys.executable, "-m", "app", "deploy", str(path)], cwd=REPO, env=env, capture_output=True,
                         text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    return path


def leave_group(cluster: Cluster, source_ids: list[str]) -> None:
    """Remove source users from the EMEA assigned group (Graph, the EMEA token of the samples)."""
    with httpx.Client(base_url=f"{cluster.emulator}/v1.0", timeout=30,
                      headers={"Authorization": "Bearer emea-token"}) as graph:
        for sid in source_ids:
            graph.delete(f"/groups/{EMEA_GROUP}/members/{sid}/$ref").raise_for_status()
