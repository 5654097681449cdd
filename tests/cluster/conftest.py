"""One cluster for the tests of this folder, started as `make cluster` starts it (python -m flows.cluster
up): a Prefect server whose database is a fresh PostgreSQL database (dropped afterwards), the
emulator with the sample tenants, and two process workers taking one flow run at a time, so two
runs at once land on two workers. Free ports and a PREFECT_HOME under tmp; no scheduler (only the
runs a test creates are due). Without PostgreSQL the tests are skipped, saying so
(TENANTSYNC_REQUIRE_POSTGRES=1, as in CI, makes it a failure)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
HQ = "7242482c-0038-4818-b3af-70b2766b9f27"
PG_ADMIN = os.environ.get("TENANTSYNC_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
CRASH_AFTER_S = 45           # the automation's window (flows/cluster.py); heartbeats every 30 s
CONFIGS = ("overlap-check", "crash-check")
FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Cluster:
    api: str
    emulator: str
    home: Path
    work: Path
    http: httpx.Client

    def pids(self) -> dict[str, int]:
        data = json.loads((self.home / "pids.json").read_text(encoding="utf-8"))
        return {p["name"]: int(p["pid"]) for p in data["processes"]}

    def state_url(self, config: str) -> str:
        return f"sqlite:///{(self.work / 'state' / f'{config}.db').as_posix()}"

    # -- flow runs --
    def start(self, deployment: str) -> str:
        """A flow run of sync-cycle/<deployment>, its reports under tmp; its id."""
        found = self.http.get(f"{self.api}/deployments/name/sync-cycle/{deployment}")
        found.raise_for_status()
        made = self.http.post(f"{self.api}/deployments/{found.json()['id']}/create_flow_run",
                              json={"parameters": {"reports_dir": str(self.work / "reports")}})
        made.raise_for_status()
        return str(made.json()["id"])

    def run(self, run_id: str) -> dict[str, Any]:
        return dict(self.http.get(f"{self.api}/flow_runs/{run_id}").json())

    def wait(self, run_id: str, timeout_s: float = 180) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while (run := self.run(run_id))["state"]["type"] not in FINAL:
            assert time.monotonic() < deadline, f"flow run still {run['state']['name']} after {timeout_s:.0f} s"
            time.sleep(0.5)
        return run

    def logs(self, run_id: str) -> list[str]:
        """Every log line of the run, oldest first (the API answers at most 200 per call: a run
        resumed after a suspension has both executions' lines)."""
        lines: list[str] = []
        while True:
            rows = self.http.post(f"{self.api}/logs/filter", json={
                "logs": {"flow_run_id": {"any_": [run_id]}}, "sort": "TIMESTAMP_ASC",
                "limit": 200, "offset": len(lines)}).json()
            lines += [row["message"] for row in rows]
            if len(rows) < 200:
                return lines

    def said(self, run_id: str, *texts: str, timeout_s: float = 30) -> str:
        """The run's log once it holds every text (a finished run's last lines may still be on
        their way from the worker's process), or as it is after timeout_s."""
        deadline = time.monotonic() + timeout_s
        while True:
            said = "\n".join(self.logs(run_id))
            if all(t in said for t in texts) or time.monotonic() > deadline:
                return said
            time.sleep(1)

    # -- the emulator --
    def reset(self, latency_ms: int = 0) -> None:
        """The sample tenants again, the write counter at 0, every request slowed by latency_ms."""
        self.http.post(f"{self.emulator}/_emulator/reset", json={"path": "tenants.json"}).raise_for_status()
        self.slow(latency_ms)
        self.http.post(f"{self.emulator}/_emulator/stats/reset").raise_for_status()

    def slow(self, latency_ms: int) -> None:
        self.http.post(f"{self.emulator}/_emulator/faults",
                       json={"spec": f"latency_ms={latency_ms}" if latency_ms else ""}).raise_for_status()

    def writes(self) -> int:
        return int(self.http.get(f"{self.emulator}/_emulator/stats").json()["writes"])

    def target_users(self) -> list[dict[str, Any]]:
        return list(self.http.get(f"{self.emulator}/_emulator/tenants/{HQ}/dump").json()["users"])


def _configs(work: Path) -> list[Path]:
    """Copies of the EMEA sample configuration under the names of CONFIGS, their state under work."""
    text = (REPO / "data" / "configs" / "emea-to-hq.yaml").read_text(encoding="utf-8")
    (work / "state").mkdir(parents=True)
    out = []
    for name in CONFIGS:
        body = text.replace("name: emea-to-hq", f"name: {name}", 1).replace(
            "sqlite:///data/state/emea-to-hq.db", f"sqlite:///{(work / 'state' / f'{name}.db').as_posix()}")
        assert f"name: {name}" in body and "data/state" not in body
        path = work / f"{name}.yaml"
        path.write_text(body, encoding="utf-8")
        out.append(path)
    return out


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh database name on the machine's PostgreSQL; flows.cluster creates it, this drops it."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.pool import NullPool

    name = f"tenantsync_prefect_cluster_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN, poolclass=NullPool, isolation_level="AUTOCOMMIT",
                          connect_args={"connect_timeout": 3})
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        if os.environ.get("TENANTSYNC_REQUIRE_POSTGRES"):
            pytest.fail(f"PostgreSQL unreachable: {exc}")
        pytest.skip(f"the cluster needs PostgreSQL ({PG_ADMIN.split('@')[-1]} unreachable: {type(exc).__name__})")
    try:
        yield make_url(PG_ADMIN).set(drivername="postgresql+asyncpg", database=name).render_as_string(
            hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory, pg_database: str) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("cluster")
    home, work = root / "prefect-home", root / "work"
    configs = _configs(work)
    port, emulator_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED="false", PREFECT_SERVER_UI_ENABLED="false",
               PREFECT_WORKER_QUERY_SECONDS="1", PREFECT_SERVER_ANALYTICS_ENABLED="false", DO_NOT_TRACK="1",
               TENANTSYNC_LOCK_WAIT_S="150")         # a run waits that long for the lock (test_cluster)
    env.pop("TENANTSYNC_GRAPH_URL", None)
    cmd = [sys.executable, "-m", "flows.cluster", "up", "--home", str(home), "--port", str(port),
           "--emulator-port", str(emulator_port), "--workers", "2", "--worker-limit", "1",
           "--database-url", pg_database, "--crash-after", str(CRASH_AFTER_S), "--no-reports"]
    for path in configs:
        cmd += ["--config", str(path)]
    t0 = time.monotonic()
    up = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    print(f"\ncluster up: {time.monotonic() - t0:.1f} s")
    http = httpx.Client(timeout=30)
    try:
        assert up.returncode == 0, f"make cluster failed:\n{up.stdout[-4000:]}\n{up.stderr[-4000:]}"
        assert "cluster up in" in up.stdout and (home / "pids.json").is_file()
        yield Cluster(api=f"http://127.0.0.1:{port}/api", emulator=f"http://127.0.0.1:{emulator_port}",
                      home=home, work=work, http=http)
    finally:
        http.close()
        down = subprocess.run([sys.executable, "-m", "flows.cluster", "down", "--home", str(home)], cwd=REPO,
                              env=env, capture_output=True, text=True, timeout=120)
        print(down.stdout, down.stderr)
