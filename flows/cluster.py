"""`make cluster` / `make cluster-down`: a Prefect server on PostgreSQL, the emulator and N process workers.

    python -m flows.cluster up [--workers 3] [--port 4200] [--emulator-port 8765] [--home .prefect-cluster]
                               [--database-url URL] [--config FILE ...] [--worker-limit N] [--latency-ms MS]
                               [--crash-after S] [--no-emulator] [--no-reports]
    python -m flows.cluster down [--home .prefect-cluster]

``up`` starts, detached (each in a process group of its own, logs under HOME/logs/), with what
flows/ui.py (``make ui``) does:
  1. ``prefect server start`` whose own database is PostgreSQL (default
     ``postgresql+asyncpg://postgres@127.0.0.1:5432/tenantsync_prefect``, created when missing) and
     PREFECT_HOME = HOME (.prefect-cluster: neither ``make ui``'s nor the tests'); the emulator with
     data/samples/tenants.json; the reports folder served on the server's port + 1;
  2. the process work pool ``tenantsync-process`` and an automation that marks Crashed a flow run
     whose heartbeats stop (below);
  3. N process workers (``prefect worker start --pool tenantsync-process --name cluster-worker-I``),
     started while the block types and the deployments of every configuration (data/configs/*.yaml,
     or each ``--config``) are registered.

It writes what it started (name, pid, process start time, log) to HOME/pids.json and returns once the
server and the emulator answer and every worker is ONLINE on the server. ``down`` stops exactly the
processes of that file (a pid reused since by another process is left alone: its start time
differs): the workers first, each one's process group and the flow-run processes it started
(Prefect 3.9's process worker starts each flow run in a session of its own, so a signal to the
worker's group misses them), then the others.

Why an automation: when a worker's machine dies (the worker and its flow-run processes killed at
once), nothing reports the end of the run and Prefect's server has no service that notices it: the
flow run stays Running. (The worker alone killed is another case: its flow run dies at its next log
line, its stdout being a pipe to the dead worker, and reports Crashed itself.) Flow runs send
heartbeat events every ``PREFECT_FLOWS_HEARTBEAT_FREQUENCY`` seconds (30, Prefect's minimum, set
here; Prefect 3.9's default is 180); Prefect's page "Detect zombie flows" gives the automation used:
after a heartbeat, expect another event of the same flow run within ``--crash-after`` seconds (90),
else change its state to Crashed. Any flow-run event counts (``prefect.flow-run.*``), not only the
page's list: a run that ends in a state of its own name (e.g. Skipped) sends
``prefect.flow-run.Skipped``. The configuration's lock (tenantsync/store/locks.py) does not wait for
it: a dead holder is replaced at once on the same host, after its lease from another.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from tenantsync.report_links import URL_ENV

from . import ui
from .ui import POOL, REPO, Children
from .ui_setup import ensure_pool

DEFAULT_HOME = REPO / ".prefect-cluster"
DEFAULT_DATABASE = "postgresql+asyncpg://postgres@127.0.0.1:5432/tenantsync_prefect"
HEARTBEAT_S = 30                    # PREFECT_FLOWS_HEARTBEAT_FREQUENCY; Prefect's minimum
CRASH_AFTER_S = 90                  # no flow-run event for this long after a heartbeat: Crashed
AUTOMATION = "tenantsync: crash flow runs whose heartbeats stopped"


def _log(text: str) -> None:
    print(f"[make cluster] {text}", flush=True)


# -- processes -------------------------------------------------------------------------------------

def _stat(pid: int) -> list[str]:
    """/proc/PID/stat after the command name (proc(5)): [state, ppid, pgrp, ...]; [] when gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def start_ticks(pid: int) -> str:
    """The process's start time in clock ticks since boot (field 22): a reused pid differs."""
    fields = _stat(pid)
    return fields[19] if len(fields) > 19 else ""


def running(pid: int, ticks: str = "") -> bool:
    """Alive (not a zombie) and, when ticks is given, the same process that was recorded."""
    fields = _stat(pid)
    return bool(fields) and fields[0] != "Z" and (not ticks or fields[19] == ticks)


def descendants(pid: int) -> list[int]:
    """Every process under pid (children, their children...), from /proc."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if len(fields) > 1:
                parents.setdefault(int(fields[1]), []).append(int(entry.name))
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _signal(pids: list[int], groups: list[int], sig: signal.Signals) -> None:
    for group in groups:
        try:
            os.killpg(group, sig)
        except (ProcessLookupError, PermissionError):
            pass
    for pid in pids:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def outside_group(pid: int) -> list[int]:
    """The processes under pid that are not in its process group (a worker's flow runs)."""
    return [p for p in descendants(pid) if (_stat(p)[2:3] or [""])[0] != str(pid)]


def stop_all(procs: list[tuple[int, str]], *, groups: bool = True, grace_s: float = 15.0) -> list[bool]:
    """Stop each (pid, start ticks) at once: SIGTERM to it (to its process group when groups: it
    was started as the group's leader), SIGKILL what is left after grace_s. Per process: whether it
    was running."""
    live = [(pid, ticks) for pid, ticks in procs if running(pid, ticks)]
    for pid, _ in live:
        _signal([] if groups else [pid], [pid] if groups else [], signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and any(running(pid, ticks) for pid, ticks in live):
        time.sleep(0.2)
    for pid, ticks in live:
        if groups or running(pid, ticks):
            _signal([] if groups else [pid], [pid] if groups else [], signal.SIGKILL)
    return [(pid, ticks) in live for pid, ticks in procs]


# -- the Prefect server's database -----------------------------------------------------------------

def ensure_database(url: str) -> bool:
    """Create the PostgreSQL database of url when missing (psycopg, on the server's ``postgres``
    database); True when created. SystemExit naming the server when it does not answer."""
    import psycopg
    from psycopg import sql
    from sqlalchemy.engine import make_url

    u = make_url(url)
    if u.get_backend_name() != "postgresql":
        return False
    try:
        with psycopg.connect(host=u.host or "127.0.0.1", port=u.port or 5432, user=u.username,
                             password=u.password, dbname="postgres", autocommit=True, connect_timeout=5) as conn:
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (u.database,)).fetchone():
                return False
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(str(u.database))))
            return True
    except psycopg.OperationalError as exc:
        raise SystemExit(f"PostgreSQL at {u.host}:{u.port or 5432} (user {u.username}) does not answer: "
                         f"{str(exc).strip()}. Start it, or give another server with --database-url") from exc


# -- the automation that marks dead runs Crashed ---------------------------------------------------

def prepare(api: str, crash_after_s: int) -> str:
    """The work pool (flows/ui_setup.py: before the workers start) and the automation of the module
    docstring, created or put back; what was done."""
    from datetime import timedelta

    from prefect import get_client
    from prefect.client.schemas.objects import StateType
    from prefect.events.actions import ChangeFlowRunState
    from prefect.events.schemas.automations import AutomationCore, EventTrigger, Posture
    from prefect.events.schemas.events import ResourceSpecification
    from prefect.settings import PREFECT_API_URL, temporary_settings

    automation = AutomationCore(
        name=AUTOMATION,
        description=f"A flow run with no event for {crash_after_s} s after a heartbeat (every {HEARTBEAT_S} s) "
                    "lost its process: its worker or machine died. Prefect's 'Detect zombie flows'.",
        trigger=EventTrigger(after={"prefect.flow-run.heartbeat"}, expect={"prefect.flow-run.*"},
                             match=ResourceSpecification({"prefect.resource.id": ["prefect.flow-run.*"]}),
                             for_each={"prefect.resource.id"}, posture=Posture.Proactive, threshold=1,
                             within=timedelta(seconds=crash_after_s)),
        actions=[ChangeFlowRunState(state=StateType.CRASHED, name="Crashed", force=False, message=(
            f"no heartbeat for {crash_after_s} s: the flow run's process is gone (its worker or machine "
            "died); marked Crashed by the cluster's automation"))])
    with temporary_settings({PREFECT_API_URL: api}), get_client(sync_client=True) as client:
        pool = ensure_pool(client, POOL)
        found = client.read_automations_by_name(AUTOMATION)
        if found:
            client.update_automation(found[0].id, automation)
        else:
            client.create_automation(automation)
    return f"{pool}; automation '{AUTOMATION}' {'updated' if found else 'created'}"


# -- up --------------------------------------------------------------------------------------------

def _workers_online(api: str, names: set[str]) -> set[str]:
    try:
        rows = httpx.post(f"{api}/work_pools/{POOL}/workers/filter", json={}, timeout=5).json()
    except (httpx.HTTPError, ValueError):
        return set()
    return {w["name"] for w in rows if isinstance(w, dict) and w.get("status") == "ONLINE"} & names


def _record(home: Path, api: str, database: str, children: Children, logs: dict[str, Path]) -> None:
    processes = [{"name": name, "pid": proc.pid, "start": start_ticks(proc.pid),
                  "log": str(logs.get(name, home / "reports.log"))}     # ui.serve_reports: reports.log
                 for name, proc in children.procs]
    data = {"api": api, "database": database, "started": datetime.now(UTC).isoformat(timespec="seconds"),
            "processes": processes}
    (home / "pids.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def _recorded(home: Path) -> dict[str, Any] | None:
    try:
        return json.loads((home / "pids.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def up(args: argparse.Namespace) -> int:
    home = Path(args.home).resolve()
    before = _recorded(home)
    if before and any(running(p["pid"], p["start"]) for p in before["processes"]):
        raise SystemExit(f"a cluster started from {home} is still running (pids.json): make cluster-down first")
    api = f"http://127.0.0.1:{args.port}/api"
    if ui._answers(f"{api}/health"):
        raise SystemExit(f"port {args.port} already answers as a Prefect server (make ui?): stop it or use --port")
    emulator = f"http://127.0.0.1:{args.emulator_port}"
    if not args.no_emulator and ui._answers(f"{emulator}/_emulator/health"):
        raise SystemExit(f"an emulator already answers on port {args.emulator_port}: stop it or use --emulator-port")

    ui.LABEL = "make cluster"
    env = ui.environment(args.port, args.emulator_port, home)
    env["PREFECT_FLOWS_HEARTBEAT_FREQUENCY"] = str(HEARTBEAT_S)
    # one target, one budget: the workers' cycles share each target's write budget (flows/_budget.py)
    env.setdefault("TENANTSYNC_BUDGET_URL", f"sqlite:///{home / 'write-budget.db'}")
    if not args.no_emulator:
        env["TENANTSYNC_GRAPH_URL"] = f"{emulator}/v1.0"
    server_env = {**env, "PREFECT_API_DATABASE_CONNECTION_URL": args.database_url}
    server_env.pop("PREFECT_SERVER_DATABASE_CONNECTION_URL", None)
    logs_dir = home / "logs"
    t0 = time.monotonic()
    if ensure_database(args.database_url):
        _log(f"created the PostgreSQL database of {args.database_url.split('@')[-1]}")
    children = Children()
    logs: dict[str, Path] = {}

    def start(name: str, cmd: list[str], env: dict[str, str]) -> Any:
        logs[name] = logs_dir / f"{name}.log"
        logs[name].unlink(missing_ok=True)
        proc = children.start(name, cmd, env, logs[name])
        _record(home, api, args.database_url, children, logs)   # recorded at once: down finds it
        return proc

    try:
        server = start("prefect-server", ui.prefect_cmd("server", "start", "--host", "127.0.0.1", "--port",
                                                        str(args.port)), server_env)
        emu = None
        if not args.no_emulator:
            emu = start("emulator", [sys.executable, "-m", "tenantsync.emulator", "--fixture",
                                     str(REPO / "data/samples/tenants.json"), "--port", str(args.emulator_port),
                                     "--latency-ms", str(args.latency_ms)], env)
        ui._wait(f"{api}/health", "the Prefect server", server, 180, logs["prefect-server"])
        _log(f"Prefect server ready on {api} (database {args.database_url.split('@')[-1]}), "
             f"{time.monotonic() - t0:.0f} s")
        if emu is not None:
            ui._wait(f"{emulator}/_emulator/health", "the emulator", emu, 60, logs["emulator"])
            _log(f"emulator ready on {emulator}/v1.0 (sample tenants)")
        if not args.no_reports:
            ui.serve_reports(children, env, (REPO / "data" / "reports").resolve(), args.port + 1)
            _record(home, api, args.database_url, children, logs)
        os.environ["PREFECT_HOME"] = str(home)       # this process's own Prefect client, below
        _log(prepare(api, args.crash_after))
        names = {f"cluster-worker-{i}" for i in range(1, args.workers + 1)}
        limit = ["--limit", str(args.worker_limit)] if args.worker_limit else []
        for name in sorted(names):       # they start while the blocks and deployments are registered
            start(name, ui.prefect_cmd("worker", "start", "--pool", POOL, "--name", name, *limit), env)
        ui.setup(env, args.config)
        deadline = time.monotonic() + 120
        while (online := _workers_online(api, names)) != names:
            for name, proc in children.procs:
                if proc.poll() is not None:
                    raise SystemExit(f"{name} exited with status {proc.returncode}; see {logs[name]}")
            if time.monotonic() > deadline:
                raise SystemExit(f"workers not ONLINE within 120 s: {', '.join(sorted(names - online))}")
            time.sleep(0.5)
    except BaseException:
        _log("start-up failed: stopping what was started")
        stop_all([(proc.pid, "") for _, proc in reversed(children.procs)], grace_s=10)
        (home / "pids.json").unlink(missing_ok=True)
        raise
    ui_url = api.removesuffix("/api")
    print(f"\n  cluster up in {time.monotonic() - t0:.0f} s: Prefect server, "
          f"{'emulator, ' if emu is not None else ''}{args.workers} process worker(s) on {POOL}\n"
          f"  Prefect UI:   {ui_url}  (deployments: {ui.deployments_url(ui_url)})\n"
          f"  API:          export PREFECT_API_URL={api}\n"
          f"  Emulator:     {emulator}/v1.0\n"
          f"  Reports:      {env.get(URL_ENV, 'not served (--no-reports)')}\n"
          f"  PIDs:         {home / 'pids.json'}\n"
          f"  Logs:         {logs_dir}/\n"
          "  Stop:         make cluster-down\n", flush=True)
    return 0


# -- down ------------------------------------------------------------------------------------------

def down(args: argparse.Namespace) -> int:
    home = Path(args.home).resolve()
    data = _recorded(home)
    if data is None:
        _log(f"no cluster recorded in {home / 'pids.json'}: nothing to stop")
        return 0
    procs = data["processes"]
    workers = [p for p in procs if p["name"].startswith("cluster-worker") and running(p["pid"], p["start"])]
    # 1. the flow runs, while their worker reads their output and the server records how they end
    #    (Crashed; a cycle closes its record and frees its lock); 2. the workers; 3. the rest
    runs = {p["name"]: outside_group(int(p["pid"])) for p in workers}
    stop_all([(r, start_ticks(r)) for found in runs.values() for r in found], groups=False)
    for p in procs:
        if p not in workers and p["name"].startswith("cluster-worker"):
            _log(f"{p['name']} (pid {p['pid']}) had already exited")
    for group in (workers, [p for p in reversed(procs) if not p["name"].startswith("cluster-worker")]):
        for p, was in zip(group, stop_all([(int(p["pid"]), str(p["start"])) for p in group])):
            n = len(runs.get(p["name"], []))
            extra = f", after the {n} flow run(s) it was running" if n else ""
            _log(f"stopped {p['name']} (pid {p['pid']}{extra})" if was else
                 f"{p['name']} (pid {p['pid']}) had already exited")
    (home / "pids.json").unlink()
    _log(f"cluster of {home} stopped; its database ({data['database'].split('@')[-1]}) is kept")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flows.cluster", description=(__doc__ or "").splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_up = sub.add_parser("up", help="start the cluster (detached) and return once it is healthy")
    p_down = sub.add_parser("down", help="stop the processes recorded in HOME/pids.json")
    for p in (p_up, p_down):
        p.add_argument("--home", default=str(DEFAULT_HOME), help="PREFECT_HOME, pids.json and logs/ "
                                                                 "(default .prefect-cluster)")
    p_up.add_argument("--workers", type=int, default=3, help="process workers (default 3)")
    p_up.add_argument("--port", type=int, default=4200, help="Prefect server port (default 4200)")
    p_up.add_argument("--emulator-port", type=int, default=8765, help="emulator port (default 8765)")
    p_up.add_argument("--no-emulator", action="store_true", help="no emulator: the flows use TENANTSYNC_GRAPH_URL")
    p_up.add_argument("--no-reports", action="store_true", help="do not serve data/reports (make ui's report "
                                                                 "server, on the server's port + 1)")
    p_up.add_argument("--latency-ms", type=int, default=0, help="emulator latency per request (default 0)")
    p_up.add_argument("--database-url", default=os.environ.get("TENANTSYNC_CLUSTER_DATABASE_URL", DEFAULT_DATABASE),
                      help="the Prefect server's database (default: TENANTSYNC_CLUSTER_DATABASE_URL or "
                           f"{DEFAULT_DATABASE})")
    p_up.add_argument("--config", action="append", help="a configuration to deploy (repeatable; default: "
                                                         "data/configs/*.yaml)")
    p_up.add_argument("--worker-limit", type=int, default=0, help="flow runs at once per worker (default: no limit)")
    p_up.add_argument("--crash-after", type=int, default=CRASH_AFTER_S,
                      help=f"seconds without a flow-run event before a run is marked Crashed (default "
                           f"{CRASH_AFTER_S}; more than the heartbeat, {HEARTBEAT_S} s)")
    args = parser.parse_args(argv)
    if args.command == "up":
        if args.workers < 1:
            parser.error("--workers must be at least 1")
        if args.crash_after <= HEARTBEAT_S:
            parser.error(f"--crash-after must be more than the heartbeat ({HEARTBEAT_S} s)")
        return up(args)
    return down(args)


if __name__ == "__main__":
    sys.exit(main())
