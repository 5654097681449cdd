"""The stack of `make ui` for a browser test, started with flows/ui.py's own functions.

What differs from `make ui`: free ports, a PREFECT_HOME, reports folder and configuration copies
under the test's temporary folder (nothing is written into the repository's .prefect-home,
data/state or data/reports), the emulator on a free port, and no scheduler (only the runs the test
asks for are due; the schedules stay defined and shown).
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from flows import ui

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "data" / "samples" / "tenants.json"
CONFIGS = REPO / "data" / "configs"
EMEA = "2cee517d-601a-44f9-82ff-f26697be201f"
EMEA_GROUP = "15dd8750-8a60-4194-afda-cad956a8afdd"
FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Stack:
    ui_url: str                 # http://127.0.0.1:PORT (the UI; the API under /api)
    reports_url: str            # the served reports folder
    reports_dir: Path
    state_dir: Path
    configs: dict[str, Path]    # configuration name -> its copy
    env: dict[str, str]         # the worker's environment
    http: httpx.Client

    @property
    def api(self) -> str:
        return f"{self.ui_url}/api"

    def deployment(self, name: str) -> dict[str, Any]:
        found = self.http.get(f"{self.api}/deployments/name/{name}")
        found.raise_for_status()
        return dict(found.json())

    def start(self, name: str, **parameters: Any) -> str:
        """A flow run of the deployment ``flow/deployment`` (its reports, if any, in the served folder); its id."""
        deployment = self.deployment(name)
        if "reports_dir" in deployment["parameter_openapi_schema"].get("properties", {}):
            parameters = {"reports_dir": str(self.reports_dir), **parameters}
        made = self.post(f"/deployments/{deployment['id']}/create_flow_run", {"parameters": parameters})
        return str(made["id"])

    def post(self, path: str, body: dict[str, Any]) -> Any:
        """POST to the API, again after a 503 as Prefect's own client does (SQLite's "database is
        locked" under concurrent writes: PrefectHQ/prefect#16102)."""
        for attempt in range(5):
            answer = self.http.post(f"{self.api}{path}", json=body)
            if answer.status_code != 503:
                break
            time.sleep(0.5 * (attempt + 1))
        answer.raise_for_status()
        return answer.json()

    def runs_of(self, deployment_id: str) -> list[dict[str, Any]]:
        return list(self.post("/flow_runs/filter", {"deployments": {"id": {"any_": [deployment_id]}}}))

    def run(self, run_id: str) -> dict[str, Any]:
        return dict(self.http.get(f"{self.api}/flow_runs/{run_id}").json())

    def wait(self, run_id: str, until: set[str] = FINAL, timeout_s: float = 180) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while (run := self.run(run_id))["state"]["type"] not in until:
            if time.monotonic() > deadline:
                raise AssertionError(f"flow run {run['name']} still {run['state']['name']} after {timeout_s:.0f} s"
                                     f"\n{self.log_text(run_id)}")
            time.sleep(0.5)
        return run

    def log_text(self, run_id: str) -> str:
        rows = self.post("/logs/filter", {"logs": {"flow_run_id": {"any_": [run_id]}}, "sort": "TIMESTAMP_ASC"})
        return "\n".join(str(row["message"])[:2000] for row in rows[-40:])

    def artifacts(self, run_id: str) -> list[dict[str, Any]]:
        return list(self.post("/artifacts/filter", {"artifacts": {"flow_run_id": {"any_": [run_id]}}}))


def _copies(work: Path, thresholds: dict[str, int]) -> dict[str, Path]:
    """The sample configurations, their state under ``work`` (same names: the same deployments),
    with the deletion thresholds of ``thresholds``."""
    state = work / "state"
    state.mkdir(parents=True)
    out = {}
    for src in sorted(CONFIGS.glob("*.yaml")):
        text = src.read_text(encoding="utf-8").replace("sqlite:///data/state/", f"sqlite:///{state.as_posix()}/")
        assert "data/state" not in text, src
        if src.stem in thresholds:
            text, n = re.subn(r"(?m)^  deletion_threshold: .*$", f"  deletion_threshold: {thresholds[src.stem]}", text)
            assert n == 1, src
        path = work / src.name
        path.write_text(text, encoding="utf-8")
        out[src.stem] = path
    return out


@contextmanager
def ui_stack(work: Path, thresholds: dict[str, int] | None = None, port: int | None = None) -> Iterator[Stack]:
    """Server, emulator, reports server, work pool + block types + deployments, worker: as
    flows.ui.main starts them; the UI on ``port`` (default a free port), the reports on the next
    port when ``port`` is given (as `make ui`)."""
    from tenantsync.emulator.server import EmulatorServer

    reports_port = port + 1 if port else free_port()
    port = port or free_port()
    home = work / "prefect-home"
    children = ui.Children()
    with EmulatorServer(SAMPLES, in_process=False) as emulator, httpx.Client(timeout=30) as http:
        env = ui.environment(port, emulator.port, home)
        env.update(TENANTSYNC_GRAPH_URL=emulator.url, PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED="false")
        for name in ("PREFECT_API_DATABASE_CONNECTION_URL", "PREFECT_SERVER_DATABASE_CONNECTION_URL"):
            env.pop(name, None)         # the UI's own SQLite database under the temporary PREFECT_HOME
        ui_url = f"http://127.0.0.1:{port}"
        try:
            server = children.start("Prefect server", ui.prefect_cmd("server", "start", "--host", "127.0.0.1",
                                                                     "--port", str(port)), env, home / "server.log")
            ui._wait(f"{ui_url}/api/health", "the Prefect server", server, 180, home / "server.log")
            reports_dir = (work / "reports").resolve()
            reports_url = ui.serve_reports(children, env, reports_dir, reports_port)
            configs = _copies(work, thresholds or {})
            ui.setup(env, [str(p) for p in configs.values()])
            children.start("process worker", ui.prefect_cmd("worker", "start", "--pool", ui.POOL), env,
                           home / "worker.log")
            yield Stack(ui_url, reports_url, reports_dir, work / "state", configs, env, http)
        finally:
            children.stop()
