"""`make ui`: a local Prefect server and UI where every tenantsync procedure can be run by hand.

Starts, in order, and stops them all on Ctrl-C:
  1. `prefect server start` (PREFECT_HOME: the repository's .prefect-ui, the UI's own database: the
     demo and the command line keep theirs in .prefect-home, tests in a temporary folder),
     waiting for /api/health;
  2. the Graph emulator with data/samples/tenants.json on 127.0.0.1:8765 (unless one already answers);
  3. then, against that server (flows/ui_setup.py): the process work pool `tenantsync-process` with
     its description, the block types, a sync configuration block per sample configuration
     (data/configs/*.yaml) and a Graph connection block per connection, its secret from the
     environment; then `tenantsync deploy`: the deployments of every sample configuration,
     scheduled from their settings.interval_minutes;
  4. the reports folder (data/reports) served read-only on 127.0.0.1, the port after the UI's
     (flows/report_server.py), so that the report links of the runs open in a browser: the worker
     gets its address as TENANTSYNC_REPORTS_URL (and the folder as TENANTSYNC_REPORTS_DIR);
  5. a process worker with the sample tokens (EMEA_TOKEN=emea-token, US_TOKEN=us-token, HQ_TOKEN=hq-token).

    python -m flows.ui [--port 4200] [--emulator-port 8765] [--reports-port PORT] [--reports-dir DIR]
                       [--home DIR] [--no-emulator] [--no-reports] [--no-worker]

Prefect's own database is SQLite under PREFECT_HOME by default. For PostgreSQL (production, or
several workers), create an empty database and set, before `make ui` / `prefect server start`:
    PREFECT_API_DATABASE_CONNECTION_URL=postgresql+asyncpg://USER:PASSWORD@HOST:5432/prefect
(the newer name PREFECT_SERVER_DATABASE_CONNECTION_URL is accepted too); the server creates its
tables at start. tests/flows/test_deployments.py runs the deployment round trip that way.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tenantsync.report_links import DIR_ENV, URL_ENV

REPO = Path(__file__).resolve().parent.parent
POOL = "tenantsync-process"
SAMPLE_TOKENS = {"EMEA_TOKEN": "emea-token", "US_TOKEN": "us-token", "HQ_TOKEN": "hq-token"}
LABEL = "make ui"                   # the prefix of every line printed (flows.cluster: "make cluster")
UI_HOME = REPO / ".prefect-ui"      # the UI's PREFECT_HOME, whatever PREFECT_HOME says (Makefile: the demo's)


def _log(text: str) -> None:
    print(f"[{LABEL}] {text}", flush=True)


def _answers(url: str, timeout: float = 1.0) -> bool:
    try:
        return httpx.get(url, timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def _wait(url: str, what: str, proc: subprocess.Popen | None, timeout_s: float, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if _answers(url):
            return
        if proc is not None and proc.poll() is not None:
            raise SystemExit(f"{what} exited with status {proc.returncode}" + (f"; see {log}" if log else ""))
        time.sleep(0.5)
    raise SystemExit(f"{what} did not answer {url} within {timeout_s:.0f} s" + (f"; see {log}" if log else ""))


def environment(port: int, emulator_port: int, home: Path | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["PREFECT_HOME"] = str(home or UI_HOME)
    env["PREFECT_API_URL"] = f"http://127.0.0.1:{port}/api"
    env["PWD"] = str(REPO)              # the flows' working directory (tenantsync deploy runs in REPO)
    env.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    env.setdefault("DO_NOT_TRACK", "1")
    env.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "tenantsync")      # engine lines in run logs (flows/_logs.py)
    env.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")
    env.setdefault("TENANTSYNC_GRAPH_URL", f"http://127.0.0.1:{emulator_port}/v1.0")
    for name, value in SAMPLE_TOKENS.items():
        env.setdefault(name, value)
    return env


def prefect_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "prefect", *args]


class Children:
    """Background processes, stopped in reverse order (SIGINT, then SIGTERM, then SIGKILL)."""

    def __init__(self) -> None:
        self.procs: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
        log.parent.mkdir(parents=True, exist_ok=True)
        out = open(log, "ab")
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
        out.close()
        self.procs.append((name, proc))
        _log(f"{name} started (pid {proc.pid}, log {log})")
        return proc

    def stop(self) -> None:
        for name, proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.terminate()
                    try:
                        proc.wait(5)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                _log(f"{name} stopped")
        self.procs.clear()


def run(cmd: list[str], env: dict[str, str], what: str, echo: bool = False) -> None:
    _log(what)
    done = subprocess.run(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{what} failed (status {done.returncode}):\n{done.stdout[-3000:]}")
    for line in done.stdout.splitlines() if echo else []:
        _log(f"  {line}")


def setup(env: dict[str, str], configs: list[str] | None = None) -> None:
    """Work pool, block types, blocks and deployments on the server of env's PREFECT_API_URL
    (idempotent): those of ``configs``, default every configuration of data/configs."""
    run([sys.executable, "-m", "flows.ui_setup", *(configs or [])], env,
        f"work pool {POOL}, block types and the configurations' blocks (flows/ui_setup.py)", echo=True)
    run([sys.executable, "-m", "app", "deploy", *(configs or []), "--work-pool", POOL], env,
        f"deploying {' '.join(configs) if configs else 'the configurations of data/configs'} (tenantsync deploy)")


def serve_reports(children: Children, env: dict[str, str], folder: Path, port: int) -> str:
    """Serve ``folder`` read-only on 127.0.0.1:``port`` (unless a report server already answers
    there) and point the links of env's runs at it; returns its base URL."""
    url = f"http://127.0.0.1:{port}"
    health = f"{url}/_reports/health"
    if _answers(health):
        _log(f"a report server already answers on port {port}: using it")
    else:
        home = Path(env["PREFECT_HOME"])
        proc = children.start("report server", [sys.executable, "-m", "flows.report_server", "--dir", str(folder),
                                                "--port", str(port)], env, home / "reports.log")
        _wait(health, "the report server", proc, 60, home / "reports.log")
        _log(f"reports folder {folder} served read-only on {url}/")
    env[URL_ENV], env[DIR_ENV] = url, str(folder)
    return url


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flows.ui", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=4200, help="Prefect server port (default 4200)")
    parser.add_argument("--emulator-port", type=int, default=8765, help="emulator port (default 8765)")
    parser.add_argument("--no-emulator", action="store_true", help="do not start the emulator")
    parser.add_argument("--no-worker", action="store_true", help="do not start a worker")
    parser.add_argument("--reports-port", type=int, help="report server port (default: the UI's port + 1)")
    parser.add_argument("--reports-dir", type=Path, default=REPO / "data" / "reports",
                        help="the reports folder served (default data/reports)")
    parser.add_argument("--no-reports", action="store_true", help="do not serve the reports folder")
    parser.add_argument("--home", type=Path, default=UI_HOME,
                        help="the UI's PREFECT_HOME: its database and logs (default .prefect-ui)")
    args = parser.parse_args(argv)

    env = environment(args.port, args.emulator_port, args.home.resolve())
    home = Path(env["PREFECT_HOME"])
    ui_url = f"http://127.0.0.1:{args.port}"
    children = Children()
    try:
        if _answers(f"{ui_url}/api/health"):
            _log(f"a Prefect server already answers on {ui_url}: using it")
        else:
            server = children.start("Prefect server", prefect_cmd("server", "start", "--host", "127.0.0.1",
                                                                  "--port", str(args.port)), env, home / "server.log")
            _wait(f"{ui_url}/api/health", "the Prefect server", server, 180, home / "server.log")
            _log(f"Prefect server ready on {ui_url}")
        if not args.no_emulator:
            health = f"http://127.0.0.1:{args.emulator_port}/_emulator/health"
            if _answers(health):
                _log(f"an emulator already answers on port {args.emulator_port}: using it")
            else:
                emu = children.start("Graph emulator", [sys.executable, "-m", "tenantsync.emulator", "--fixture",
                                                        str(REPO / "data/samples/tenants.json"), "--port",
                                                        str(args.emulator_port)], env, home / "emulator.log")
                _wait(health, "the emulator", emu, 60, home / "emulator.log")
                _log(f"emulator ready on http://127.0.0.1:{args.emulator_port}/v1.0 (sample tenants)")
        reports = "not served (--no-reports): links are file:// links"
        if not args.no_reports:
            folder = args.reports_dir.resolve()
            reports = f"{serve_reports(children, env, folder, args.reports_port or args.port + 1)}/  ({folder})"
        setup(env)
        if not args.no_worker:
            children.start("process worker", prefect_cmd("worker", "start", "--pool", POOL), env, home / "worker.log")
        print(f"\n  Prefect UI:   {ui_url}\n  Deployments:  {deployments_url(ui_url)}\n"
              f"  Emulator:     http://127.0.0.1:{args.emulator_port}/v1.0\n"
              f"  Reports:      {reports}\n"
              f"  Logs:         {home}/{{server,emulator,reports,worker}}.log\n\n"
              "  Press Ctrl-C to stop everything.\n", flush=True)
        while True:
            for name, proc in children.procs:
                if proc.poll() is not None:
                    raise SystemExit(f"{name} exited with status {proc.returncode}")
            time.sleep(1)
    except KeyboardInterrupt:
        _log("stopping")
        return 0
    finally:
        children.stop()


def deployments_url(ui_url: str) -> str:
    """The Deployments page of the UI Prefect opens at its root (V2); ``/deployments`` is the older V1 UI."""
    return f"{ui_url}/v2/deployments"


if __name__ == "__main__":
    sys.exit(main())
