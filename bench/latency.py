"""Change-to-target latency: a change in the source, how long until it is in the target.

    python -m bench.latency                  # 20 changes over 5 minutes, Prefect server + worker
    python -m bench.latency --changes 20 --span 300 --interval 1
    python -m bench.run --latency            # the same, from the benchmark's entry point

What runs, as `make ui` runs it (flows/ui.py), in a temporary folder (PREFECT_HOME, state store,
reports; nothing of the repository's .prefect-home or data/ is touched):
- the Graph emulator in its own process with the sample tenants (data/samples/tenants.json);
- `prefect server start` on a free port;
- the sample configuration data/configs/emea-to-hq.yaml with ``settings.interval_minutes: 1``
  and its state store in the folder; its initial cycle (`tenantsync sync`, a flow run on that
  server, which also registers the anchor extension) before anything is measured;
- `tenantsync deploy` of that configuration (the incremental deployment is scheduled every
  interval_minutes, flows/deploy.py) and `prefect worker start` on the process work pool, both
  with Prefect's default settings (a worker asks for scheduled runs every 10 s, 10 s ahead).

Measured: the harness waits for the first scheduled incremental run to complete (the worker is
then warm and the schedule live), then makes ``--changes`` changes to distinct source users in
scope (a PATCH of a mapped attribute, jobTitle, through Graph), at random moments (seeded)
spread over ``--span`` seconds so that they fall at every point of the schedule's minute and
over several cycles. A poller reads the linked target users every 0.5 s ($batch of GETs) and
records when each new value is there. Latency = time the value is seen in the target minus time
the source PATCH returned; p50 and p95 are nearest-rank over the changes (the 95th of 20 values is
the 19th). The Entra service's documented figure is up to 40 minutes: a cross-tenant
synchronization job is "fixed to start at 40-minute intervals" (docs/entra-behaviour.md#provisioning-cycles).
The flow runs of the incremental deployment in the window are listed with their lateness (start
minus scheduled start: the worker's polling and the flow process's start-up) and duration, which
is where the latency goes beyond waiting for the next minute.

Results: bench/results/results-latency-<ts>.json and bench/latest.json under ``latency``, with the
goals (p50 ≤ 60 s, p95 ≤ 90 s) among its ``goals``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
SAMPLE_FIXTURE = ROOT / "data" / "samples" / "tenants.json"
SAMPLE_CONFIG = ROOT / "data" / "configs" / "emea-to-hq.yaml"
SAMPLE_TOKENS = {"EMEA_TOKEN": "emea-token", "HQ_TOKEN": "hq-token", "US_TOKEN": "us-token"}
SOURCE_TOKEN, TARGET_TOKEN = SAMPLE_TOKENS["EMEA_TOKEN"], SAMPLE_TOKENS["HQ_TOKEN"]
ATTRIBUTE = "jobTitle"            # mapped by default (data/default_mappings.yaml)
GOAL_P50_S, GOAL_P95_S = 60.0, 90.0
GOAL_PREFIX = "change-to-target latency"
INCREMENTAL = "sync-cycle/emea-to-hq-incremental"


# ------------------------------------------------------------------------------------------------
# Changes and the poller (any scheduler: Prefect here, an engine loop in the smoke test)
# ------------------------------------------------------------------------------------------------

@dataclass
class Change:
    k: int
    source_id: str
    target_id: str
    value: str
    planned_s: float              # offset from the start of the changes
    made_at: float = 0.0          # time.time() when the source PATCH returned
    landed_at: float | None = None

    @property
    def latency_s(self) -> float | None:
        return None if self.landed_at is None else self.landed_at - self.made_at


class Probe:
    """Makes changes in the source through Graph and watches the target for each to land."""

    def __init__(self, graph_url: str, *, source_token: str = SOURCE_TOKEN, target_token: str = TARGET_TOKEN,
                 attribute: str = ATTRIBUTE, poll_s: float = 0.5) -> None:
        self.attribute, self.poll_s = attribute, poll_s
        self.source = httpx.Client(base_url=graph_url, headers={"Authorization": f"Bearer {source_token}"},
                                   timeout=30.0)
        self.target = httpx.Client(base_url=graph_url, headers={"Authorization": f"Bearer {target_token}"},
                                   timeout=30.0)
        self.pending: list[Change] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.polls = 0
        self.thread = threading.Thread(target=self._poll_loop, name="latency-poller", daemon=True)

    def __enter__(self) -> Probe:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.thread.join(timeout=10)
        self.source.close()
        self.target.close()

    def change(self, c: Change) -> None:
        """PATCH the source user (user-update); the change exists once Graph has answered."""
        r = self.source.patch(f"/users/{c.source_id}", json={self.attribute: c.value})
        r.raise_for_status()
        c.made_at = time.time()
        with self.lock:
            self.pending.append(c)

    def _poll_loop(self) -> None:
        while not self.stopping.wait(self.poll_s):
            with self.lock:
                todo = list(self.pending)
            if todo:
                try:
                    self._poll(todo)
                except httpx.HTTPError:
                    pass                 # the next poll tries again

    def _poll(self, todo: list[Change]) -> None:
        """One $batch of GET /users/{id}?$select=... (json-batching: up to 20 requests a call)."""
        for start in range(0, len(todo), 20):
            chunk = todo[start:start + 20]
            body = {"requests": [{"id": str(i), "method": "GET",
                                  "url": f"/users/{c.target_id}?$select=id,{self.attribute}"}
                                 for i, c in enumerate(chunk)]}
            r = self.target.post("/$batch", json=body)
            seen = time.time()
            r.raise_for_status()
            self.polls += 1
            for item in r.json()["responses"]:
                c = chunk[int(item["id"])]
                if int(item["status"]) == 200 and (item.get("body") or {}).get(self.attribute) == c.value:
                    c.landed_at = seen
                    with self.lock:
                        self.pending.remove(c)

    def waiting(self) -> int:
        with self.lock:
            return len(self.pending)


def plan_changes(pairs: Sequence[tuple[str, str]], n: int, span_s: float, seed: str) -> list[Change]:
    """n changes of distinct linked users at random offsets in [0, span_s), in time order."""
    if len(pairs) < n:
        raise ValueError(f"{n} changes need {n} linked users in scope; the store has {len(pairs)}")
    rng = random.Random(f"tenantsync:{seed}:latency")
    users = rng.sample(sorted(pairs), n)
    offsets = sorted(rng.uniform(0, span_s) for _ in range(n))
    tag = uuid.uuid4().hex[:6]
    return [Change(k, s, t, f"Latency probe {tag}-{k}", round(off, 3)) for k, ((s, t), off)
            in enumerate(zip(users, offsets))]


def measure(probe: Probe, changes: list[Change], *, drain_s: float, log: Callable[[str], None] = print,
            sleep: Callable[[float], None] = time.sleep) -> None:
    """Make each change at its planned offset, then wait until every change landed or drain_s passed."""
    t0 = time.monotonic()
    for c in changes:
        wait = c.planned_s - (time.monotonic() - t0)
        if wait > 0:
            sleep(wait)
        probe.change(c)
        log(f"  change {c.k + 1}/{len(changes)} at +{time.monotonic() - t0:5.1f} s: {c.source_id} "
            f"{ATTRIBUTE} = {c.value!r}")
    deadline = time.monotonic() + drain_s
    while probe.waiting() and time.monotonic() < deadline:
        sleep(0.25)


def nearest_rank(values: Sequence[float], q: float) -> float | None:
    """The q-quantile by nearest rank (the ceil(q·n)-th smallest): p95 of 20 values is the 19th."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def summarize(changes: Sequence[Change]) -> dict[str, Any]:
    lat = [c.latency_s for c in changes if c.latency_s is not None]
    return {"changes": len(changes), "landed": len(lat), "missing": len(changes) - len(lat),
            "p50_s": _r(nearest_rank(lat, 0.5)), "p95_s": _r(nearest_rank(lat, 0.95)),
            "min_s": _r(min(lat)) if lat else None, "max_s": _r(max(lat)) if lat else None,
            "mean_s": _r(sum(lat) / len(lat)) if lat else None,
            "latencies_s": [_r(c.latency_s) for c in changes]}


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 2)


def goals(summary: dict[str, Any] | None, error: str | None = None) -> list[tuple[bool | None, str]]:
    if summary is None or not summary.get("landed"):
        why = f"not measured: {error}" if error else "not run (python -m bench.latency)"
        return [(False if error else None, f"{GOAL_PREFIX} (interval_minutes: 1, Prefect server and worker): "
                                           f"p50 ≤ 60 s, p95 ≤ 90 s: {why}")]
    p50, p95, n = summary["p50_s"], summary["p95_s"], summary["changes"]
    missing = summary["missing"]
    ok = p50 <= GOAL_P50_S and p95 <= GOAL_P95_S and missing == 0
    return [(ok, f"{GOAL_PREFIX} (interval_minutes: 1, Prefect server and worker), {n} changes: p50 ≤ 60 s, "
                 f"p95 ≤ 90 s: p50 {p50:.1f} s, p95 {p95:.1f} s (max {summary['max_s']:.1f} s"
                 + (f"; {missing} never landed" if missing else "") + ")")]


# ------------------------------------------------------------------------------------------------
# The Prefect side (flows/ui.py's pieces, in a temporary folder)
# ------------------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(folder: Path, *, interval_minutes: int, template: Path = SAMPLE_CONFIG) -> Path:
    """The sample configuration with its interval and a state store in ``folder``."""
    text = template.read_text(encoding="utf-8")
    text, n1 = re.subn(r"(?m)^(\s*interval_minutes:)\s*\d+", rf"\g<1> {interval_minutes}", text)
    text, n2 = re.subn(r"(?m)^state:.*$", f"state: sqlite:///{folder / 'state.db'}", text)
    if n1 != 1 or n2 != 1:
        raise ValueError(f"{template}: expected one settings.interval_minutes and one state line")
    path = folder / template.name
    path.write_text(text, encoding="utf-8")
    return path


def linked_pairs(config: Path) -> list[tuple[str, str]]:
    """(source id, target id) of the active links after the initial cycle."""
    from tenantsync.config import load_config
    from tenantsync.store import Store

    cfg = load_config(config)
    store = Store(cfg.state_url)
    try:
        return [(s, link.target_id) for s, link in store.links(cfg.name).items() if link.state == "active"]
    finally:
        store.close()


class EngineLoop:
    """Cycles every ``every_s`` seconds in a thread of this process, without Prefect (the smoke
    test's scheduler): the engine's share of the latency alone."""

    def __init__(self, config: Path, every_s: float) -> None:
        self.config, self.every_s = config, every_s
        self.stopping = threading.Event()
        self.cycles: list[dict[str, Any]] = []
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._loop, name="engine-loop", daemon=True)

    def cycle(self) -> dict[str, Any]:
        from tenantsync.config import load_config
        from tenantsync.cycle import CycleOptions, drive
        from tenantsync.service import open_cycle
        from tenantsync.store import Store

        cfg = load_config(self.config)
        t = time.time()
        with open_cycle(cfg, CycleOptions(), store=Store.for_url(cfg.state_url)) as cycle:
            report = drive(cycle)
        return {"kind": report.kind, "start": t, "end": time.time(), "counts": dict(report.counts)}

    def _loop(self) -> None:
        while not self.stopping.is_set():
            t = time.monotonic()
            try:
                self.cycles.append(self.cycle())
            except BaseException as exc:        # reported by stop(); the loop ends
                self.error = exc
                return
            self.stopping.wait(max(0.0, self.every_s - (time.monotonic() - t)))

    def __enter__(self) -> EngineLoop:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.thread.join(timeout=60)
        if self.error is not None:
            raise RuntimeError("the engine loop failed") from self.error


def _api(url: str, path: str, body: dict[str, Any]) -> Any:
    r = httpx.post(f"{url}{path}", json=body, timeout=30)
    r.raise_for_status()
    return r.json()


def _when(text: str | None) -> float | None:
    return None if not text else datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def flow_runs(api_url: str, deployment: str = INCREMENTAL) -> list[dict[str, Any]]:
    """The deployment's flow runs (REST: /deployments/name, /flow_runs/filter), oldest first."""
    flow, _, name = deployment.partition("/")
    r = httpx.get(f"{api_url}/deployments/name/{flow}/{name}", timeout=30)
    r.raise_for_status()
    runs = _api(api_url, "/flow_runs/filter", {"deployments": {"id": {"any_": [r.json()["id"]]}},
                                                "sort": "EXPECTED_START_TIME_ASC", "limit": 200})
    out = []
    for run in runs:
        expected, start, end = (_when(run.get(k)) for k in ("expected_start_time", "start_time", "end_time"))
        out.append({"name": run["name"], "state": run.get("state_type"), "expected": expected, "start": start,
                    "end": end, "late_s": _r(start - expected) if start and expected else None,
                    "run_s": _r(end - start) if start and end else None})
    return out


def _wait_for(what: str, check: Callable[[], bool], timeout_s: float, poll_s: float = 2.0) -> float:
    t0 = time.monotonic()
    while not check():
        if time.monotonic() - t0 > timeout_s:
            raise TimeoutError(f"{what}: not within {timeout_s:.0f} s")
        time.sleep(poll_s)
    return time.monotonic() - t0


def run_prefect(workdir: Path, *, changes: int = 20, span_s: float = 300.0, interval_minutes: int = 1,
                seed: str = "1", drain_s: float = 240.0, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Everything in the module doc; returns the result (summary, changes, flow runs, timings)."""
    from flows.ui import Children, _wait, environment, prefect_cmd
    from tenantsync.emulator.server import EmulatorServer

    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    out: dict[str, Any] = {"interval_minutes": interval_minutes, "span_s": span_s, "seed": seed}
    t_all = time.perf_counter()
    children = Children()
    with EmulatorServer(SAMPLE_FIXTURE, in_process=False) as em:
        port = free_port()
        env = environment(port, em.port)
        env.update(SAMPLE_TOKENS)
        env.update({"PREFECT_HOME": str(workdir / "prefect-home"), "TENANTSYNC_GRAPH_URL": em.url,
                    "TENANTSYNC_REPORTS_DIR": str(workdir / "reports"), "PWD": str(workdir)})
        api = env["PREFECT_API_URL"]
        config = write_config(workdir, interval_minutes=interval_minutes)

        def step(what: str, cmd: list[str]) -> float:
            t = time.perf_counter()
            done = subprocess.run(cmd, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  text=True)
            if done.returncode != 0:
                raise RuntimeError(f"{what} failed ({done.returncode}):\n{done.stdout[-3000:]}")
            log(f"  {what}: {time.perf_counter() - t:.1f} s")
            return time.perf_counter() - t

        try:
            t = time.perf_counter()
            home = workdir / "prefect-home"
            server = children.start("Prefect server", prefect_cmd("server", "start", "--host", "127.0.0.1",
                                                                  "--port", str(port)), env, home / "server.log")
            _wait(f"{api}/health", "the Prefect server", server, 240, home / "server.log")
            out["server_start_s"] = round(time.perf_counter() - t, 1)
            log(f"  Prefect server on {api}: {out['server_start_s']} s")
            out["initial_cycle_s"] = round(step("initial cycle (tenantsync sync)",
                                                [sys.executable, "-m", "app", "sync", str(config)]), 1)
            pairs = linked_pairs(config)
            out["linked_users"] = len(pairs)
            out["deploy_s"] = round(step("tenantsync deploy", [sys.executable, "-m", "app", "deploy", str(config),
                                                                "--work-pool", "tenantsync-process"]), 1)
            children.start("process worker", prefect_cmd("worker", "start", "--pool", "tenantsync-process"),
                           env, home / "worker.log")
            waited = _wait_for("the first scheduled incremental run",
                               lambda: any(r["state"] == "COMPLETED" for r in flow_runs(api)), 300)
            out["first_scheduled_run_after_s"] = round(waited, 1)
            log(f"  first scheduled incremental run completed {waited:.0f} s after the worker started")
            plan = plan_changes(pairs, changes, span_s, seed)
            log(f"  {changes} changes over {span_s:.0f} s, each polled in the target every 0.5 s ...")
            t_changes = time.time()
            with Probe(em.url) as probe:
                measure(probe, plan, drain_s=drain_s, log=log)
                out["polls"] = probe.polls
            window = [r for r in flow_runs(api) if r["start"] and r["start"] >= t_changes - 70]
            out["flow_runs"] = window
        finally:
            children.stop()
    out["changes"] = [{**asdict(c), "latency_s": _r(c.latency_s)} for c in plan]
    out["summary"] = summarize(plan)
    late = [r["late_s"] for r in out["flow_runs"] if r["late_s"] is not None]
    runs = [r["run_s"] for r in out["flow_runs"] if r["run_s"] is not None]
    out["runs_summary"] = {"runs": len(out["flow_runs"]), "late_p50_s": _r(nearest_rank(late, 0.5)),
                           "late_max_s": _r(max(late)) if late else None,
                           "run_p50_s": _r(nearest_rank(runs, 0.5)), "run_max_s": _r(max(runs)) if runs else None}
    out["total_s"] = round(time.perf_counter() - t_all, 1)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    from bench.million import merge_latest
    from bench.run import dirty_files, git_commit, machine, render_goals

    argv = list(sys.argv[1:] if argv is None else argv)
    ap = argparse.ArgumentParser(prog="python -m bench.latency", description=__doc__.split("\n\n")[0])
    ap.add_argument("--changes", type=int, default=20)
    ap.add_argument("--span", type=float, default=300.0, help="seconds over which the changes are spread")
    ap.add_argument("--interval", type=int, default=1, help="settings.interval_minutes of the deployment")
    ap.add_argument("--seed", default="1")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--no-latest", action="store_true", help="do not update bench/latest.json")
    args = ap.parse_args(argv)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    info = machine()
    print(f"change-to-target latency: {args.changes} changes over {args.span:.0f} s, interval_minutes "
          f"{args.interval}; {info['nproc']} cores, load average {info['loadavg_start'][0]}", flush=True)
    error = None
    try:
        result = run_prefect(RESULTS / "work" / "latency", changes=args.changes, span_s=args.span,
                             interval_minutes=args.interval, seed=args.seed, log=lambda s: print(s, flush=True))
    except Exception as exc:
        error = f"{type(exc).__name__}: {str(exc)[-1500:]}"
        result = {"error": error}
        print(f"failed: {error}", flush=True)
    info["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    goal_items = goals(result.get("summary"), error)
    result.update(when=stamp, command="python -m bench.latency " + " ".join(argv), commit=git_commit(),
                  dirty=dirty_files(), machine=info, goals=[{"met": ok, "text": text} for ok, text in goal_items])
    out = args.out or RESULTS / f"results-latency-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, ensure_ascii=False), encoding="utf-8")
    if not args.no_latest and args.out is None:
        merge_latest("latency", result, goal_items, GOAL_PREFIX)
    if "summary" in result:
        s, rs = result["summary"], result["runs_summary"]
        print(f"\nlatencies (s): {', '.join(f'{x:.1f}' if x is not None else '-' for x in s['latencies_s'])}")
        print(f"flow runs in the window: {rs['runs']}, lateness p50 {rs['late_p50_s']} s (max {rs['late_max_s']}), "
              f"duration p50 {rs['run_p50_s']} s (max {rs['run_max_s']})")
    print(render_goals(goal_items))
    print(f"\nresults: {out}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
