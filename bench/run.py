"""`make bench`: how fast a cycle is against Graph's real limits, and how cost grows.

    python -m bench.run                       # N = 10,000 and 100,000 (under 20 minutes on 2 cores)
    python -m bench.run --quick               # N = 1,000: a minute, to try the harness
    python -m bench.run --sizes 10000 --profile
    python -m bench.run --million             # 1,000,000 users built in step, 100,000 as reference (bench/million.py)
    python -m bench.run --latency             # change-to-target latency, Prefect server + worker (bench/latency.py)
    python -m bench.run --scale-out           # 3 configurations x 10,000 users into one hub (bench/scale_out.py)

For each size N: a synthetic source tenant of N users (bench/generate.py) and an empty target
tenant are loaded into the Graph emulator, which runs in its own process (`in_process=False`), under
the `graph` throttle profile, time-scaled by S (every throttle window divided by S). Each engine
scenario runs in a fresh child process (bench/scenarios.py) so that the engine's CPU time and peak
RSS are its own; request and write counts come from the emulator's counters.

1. initial cycle into the empty target: write-quota utilisation, 429 share, writes per new user,
   projected duration at Graph's real quota beside the published 0.01-0.08 min per object;
2. restart on the target already in step: wall time, requests, writes (must be 0);
3. incremental cycles with 0, 100 and 1,000 source changes (made with Graph PATCHes before the
   cycle, not counted): wall time and requests;
4. engine CPU per user (restart) and peak RSS of the engine processes;
5. provision on demand of one (just changed) user: latency;
6. (full run, or --faults429) the initial cycle of 5,000 users with 5 % random 429s against the
   same with 5 % random 503s (bench/faults.py): the write limiter must not take injected 429s for
   the tenant's budget;
7. (full run, --chaos, or --only chaos) chaos at 5,000 users (bench/chaos.py): 10 % faults incl.
   dropped connections, cycles SIGKILLed at random moments, reruns until done; ✔/✘ for the target
   equal to a clean run's, 0 orphans, 0 duplicates, a complete log, no cycle left running.
8. (every size unless --no-baseline) the SDK baseline (bench/baseline.py, bench/baseline_report.py):
   the same job written with msgraph-sdk the way Microsoft's samples show it, initial cycle and
   restart, on a fresh empty target of the same emulator after the engine's scenarios; the table
   shows it beside tenantsync with the ratios.
The emulator's own capacity (requests/s, measured with httpx from this process, no throttling)
is printed next to the results.

Prints one table and the goals with ✔/✘, and writes bench/results/results-<timestamp>.json
(and a copy at bench/latest.json for a full run).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench import capacity as capacity_mod
from bench import goals as goals_mod
from bench import profiling
from bench.generate import dumps, make_fixture, sync_config_yaml

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
LATEST = ROOT / "bench" / "latest.json"
SOURCE_TOKEN, TARGET_TOKEN = "source-token", "target-token"
CONFIG_NAME = "bench"

# Goals: bench/goals.py (the README's section Performance lists them with the latest figures)
GOAL_SIZE = goals_mod.GOAL_SIZE
PUBLISHED_MIN_PER_OBJECT = (0.01, 0.08)   # docs/entra-behaviour.md#published-initial-cycle-times


incremental_request_goal = goals_mod.incremental_request_goal


# ------------------------------------------------------------------------------------------------
# Running engine jobs
# ------------------------------------------------------------------------------------------------

@dataclass
class EngineRunner:
    """Runs bench.scenarios jobs: in a child process (the benchmark) or inline (the smoke test)."""

    workdir: Path
    env: dict[str, str]
    inline: bool = False
    counter: int = 0

    def run(self, cycles: list[dict[str, Any]], *, label: str, cprofile: Path | None = None,
            pyspy: Path | None = None) -> dict[str, Any]:
        self.counter += 1
        job = {"config": str(self.workdir / "bench.yaml"), "env": self.env, "cycles": cycles,
               "cprofile": str(cprofile) if cprofile else None,
               "pyspy": str(pyspy) if pyspy else None}
        if self.inline:
            from bench.scenarios import run_job
            saved = {k: os.environ.get(k) for k in self.env}
            try:
                return run_job(job)
            finally:
                for k, v in saved.items():
                    if v is None:
                        os.environ.pop(k, None)
                    else:
                        os.environ[k] = v
        job_path = self.workdir / f"job-{self.counter:02d}-{label}.json"
        out_path = self.workdir / f"result-{self.counter:02d}-{label}.json"
        job_path.write_text(json.dumps(job), encoding="utf-8")
        cmd = [sys.executable, "-m", "bench.scenarios", str(job_path), str(out_path)]
        env = {**os.environ, **self.env, "PYTHONPATH": str(ROOT)}
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
        if proc.returncode != 0 or not out_path.exists():
            raise RuntimeError(f"engine job {label} failed ({proc.returncode}):\n"
                               f"{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
        return json.loads(out_path.read_text(encoding="utf-8"))


# ------------------------------------------------------------------------------------------------
# Source changes through Graph (not counted: the emulator's counters are reset afterwards)
# ------------------------------------------------------------------------------------------------

def patch_users(graph_url: str, token: str, changes: dict[str, dict[str, Any]]) -> None:
    """PATCH each user through Graph $batch (20 a call), honouring 429s (the tenant is throttled)."""
    todo = list(changes.items())
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=graph_url, headers=headers, timeout=60.0) as client:
        attempts = 0
        while todo:
            attempts += 1
            if attempts > 10_000:
                raise RuntimeError("source changes kept being throttled")
            chunk, todo = todo[:20], todo[20:]
            body = {"requests": [{"id": str(i), "method": "PATCH", "url": f"/users/{uid}",
                                  "headers": {"Content-Type": "application/json"}, "body": fields}
                                 for i, (uid, fields) in enumerate(chunk)]}
            r = client.post("/$batch", json=body)
            r.raise_for_status()
            wait = 0.0
            for item in r.json()["responses"]:
                status = int(item["status"])
                if status == 429:
                    todo.append(chunk[int(item["id"])])
                    retry = (item.get("headers") or {}).get("Retry-After", "1")
                    wait = max(wait, float(retry))
                elif status >= 300:
                    raise RuntimeError(f"PATCH {chunk[int(item['id'])][0]}: {status} {item.get('body')}")
            if wait:
                time.sleep(wait)


def proc_cpu_s(pid: int | None) -> float | None:
    """utime + stime of a process (the emulator's), in seconds."""
    if not pid:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


# ------------------------------------------------------------------------------------------------
# One size
# ------------------------------------------------------------------------------------------------

@dataclass
class SizeRun:
    n: int
    scale: float
    workdir: Path
    groups: int
    seed: str
    inline: bool = False
    change_counts: tuple[int, ...] = (0, 100, 1000)
    on_demand: int = 5
    profile: bool = False
    baseline: bool = False
    baseline_max_users: int = 0          # 0: the baseline runs on the whole tenant
    log: Any = print
    out: dict[str, Any] = field(default_factory=dict)

    def run(self) -> dict[str, Any]:
        from tenantsync.emulator.server import EmulatorServer

        t_all = time.perf_counter()
        if self.workdir.exists():
            shutil.rmtree(self.workdir)
        self.workdir.mkdir(parents=True)
        t = time.perf_counter()
        fixture = make_fixture(n_users=self.n, n_groups=self.groups, seed=self.seed)
        fixture_path = self.workdir / "fixture.json"
        fixture_path.write_text(dumps(fixture), encoding="utf-8")
        state_url = f"sqlite:///{self.workdir / 'state.db'}"
        (self.workdir / "bench.yaml").write_text(
            sync_config_yaml(fixture, name=CONFIG_NAME, scope="all", state=state_url), encoding="utf-8")
        source_users = fixture["tenants"][0]["users"]
        self.out.update(n=self.n, time_scale=self.scale, groups=self.groups, seed=self.seed,
                        generate_s=round(time.perf_counter() - t, 2))
        del fixture
        self.log(f"[N={self.n:,}] fixture generated in {self.out['generate_s']} s; starting the "
                 f"emulator (own process, throttle=graph, time_scale={self.scale:g})")
        t = time.perf_counter()
        with EmulatorServer(fixture_path, in_process=False, throttle="graph",
                            time_scale=self.scale) as em:
            self.out["emulator_start_s"] = round(time.perf_counter() - t, 2)
            self.em = em
            self.em_pid = getattr(getattr(em, "_proc", None), "pid", None)
            env = {"SOURCE_TOKEN": SOURCE_TOKEN, "TARGET_TOKEN": TARGET_TOKEN,
                   "TENANTSYNC_GRAPH_URL": em.url}
            self.engine = EngineRunner(self.workdir, env, inline=self.inline)
            self.initial()
            self.restart()
            candidates = self.change_candidates(source_users)
            self.out["incremental"] = []
            for n_changes in self.change_counts:
                self.incremental(candidates, n_changes)
            self.on_demand_latency(candidates)
            if self.profile:
                self.profiles(candidates)
            if self.baseline:
                from bench import baseline_report
                self.out["baseline"] = baseline_report.measure(self, self.baseline_max_users)
            self.out["emulator_final_stats"] = {k: v for k, v in em.stats().items() if k != "by_route"}
        self.out["size_total_s"] = round(time.perf_counter() - t_all, 1)
        return self.out

    # -- helpers ---------------------------------------------------------------------------------
    def measured(self, label: str, cycles: list[dict[str, Any]], **kw: Any) -> dict[str, Any]:
        """Run an engine job with the emulator's counters zeroed first; attach them."""
        self.em.reset_stats()
        cpu0 = proc_cpu_s(self.em_pid)
        t = time.perf_counter()
        result = self.engine.run(cycles, label=label, **kw)
        elapsed = time.perf_counter() - t
        cpu1 = proc_cpu_s(self.em_pid)
        stats = self.em.stats()
        envelopes = stats["by_route"].get("POST /$batch", 0)
        result["emulator"] = {
            "http_requests": stats["total_requests"], "batch_envelopes": envelopes,
            "batch_items": stats["batch_items"],
            "calls": stats["total_requests"] - envelopes + stats["batch_items"],
            "writes": stats["writes"], "429": stats["429"], "throttled": stats["throttled"],
            "resource_units": stats["resource_units"], "by_status": stats["by_status"],
            "by_route": stats["by_route"],
            "cpu_s": round(cpu1 - cpu0, 2) if cpu0 is not None and cpu1 is not None else None,
            "job_elapsed_s": round(elapsed, 2),
        }
        return result

    def change_candidates(self, source_users: list[dict[str, Any]]) -> list[str]:
        """Source users the engine keeps in step (linked and active), spread over the tenant."""
        from tenantsync.store import Store
        store = Store.for_url(f"sqlite:///{self.workdir / 'state.db'}")
        try:
            links = store.links(CONFIG_NAME)
        finally:
            store.close()
        active = [u["id"] for u in source_users
                  if u["id"] in links and links[u["id"]].state == "active"]
        self.change_round = 0
        return active

    def make_changes(self, candidates: list[str], n_changes: int) -> list[str]:
        """Change jobTitle of n users (a mapped attribute) through Graph; returns their ids."""
        if not n_changes or not candidates:
            return []
        self.change_round += 1
        n_changes = min(n_changes, len(candidates))
        step = len(candidates) / n_changes
        offset = self.change_round * 7919 % max(1, int(step))
        ids = [candidates[(int(i * step) + offset) % len(candidates)] for i in range(n_changes)]
        patch_users(self.em.url, SOURCE_TOKEN,
                    {uid: {"jobTitle": f"Bench change {self.change_round}.{k}"}
                     for k, uid in enumerate(ids)})
        return ids

    # -- scenarios -------------------------------------------------------------------------------
    def initial(self) -> None:
        from tenantsync.emulator.throttle import Throttle
        self.log(f"[N={self.n:,}] 1. initial cycle into the empty target ...")
        r = self.measured("initial", [{}])
        c, em = r["cycles"][0], r["emulator"]
        created = c["counts"].get("create", 0)
        wall = c["wall_s"]
        st = c["stages"]
        write_phase = ((st["apply_last_rel_s"] - st["apply_first_rel_s"])
                       if st.get("apply_first_rel_s") is not None else 0.0)
        s = self.scale
        app_rate = Throttle.APP_WRITES / Throttle.APP_WRITE_WINDOW          # writes/s at real time
        ten_rate = Throttle.TENANT_WRITES / Throttle.TENANT_WRITE_WINDOW

        def allowed(seconds: float) -> float:
            # the buckets start full: capacity + refill over the (scaled) elapsed time
            return min(Throttle.APP_WRITES + app_rate * s * seconds,
                       Throttle.TENANT_WRITES + ten_rate * s * seconds)

        writes = em["writes"]
        util_write = writes / allowed(write_phase) if write_phase > 0 else None
        util_cycle = writes / allowed(wall) if wall > 0 else None
        # Projection to real Graph: what is not the write phase runs at the engine's own speed
        # (local emulator, so real latency would add to it); the write phase stretches by S.
        projected_s = (wall - write_phase) + write_phase * s
        ideal_s = max(0.0, writes - Throttle.APP_WRITES) / app_rate
        objects = created or 1
        r["derived"] = {
            "created": created, "writes": writes, "wall_s": wall,
            "write_phase_s": round(write_phase, 2),
            "writes_per_new_user": round(writes / created, 3) if created else None,
            "utilisation_write_phase": round(util_write, 4) if util_write is not None else None,
            "utilisation_whole_cycle": round(util_cycle, 4) if util_cycle is not None else None,
            "share_429": round(em["429"] / em["calls"], 5) if em["calls"] else 0.0,
            # the write bucket starts full: below its capacity the quota never binds
            "quota_binding": writes > Throttle.APP_WRITES,
            "achieved_writes_per_s": round(writes / write_phase, 1) if write_phase else None,
            "quota_writes_per_s_scaled": app_rate * s,
            "projected_real_min": round(projected_s / 60, 1),
            "ideal_real_min_at_quota": round(ideal_s / 60, 1),
            "projected_min_per_object": round(projected_s / 60 / objects, 5),
            "published_min": [round(PUBLISHED_MIN_PER_OBJECT[0] * objects, 0),
                              round(PUBLISHED_MIN_PER_OBJECT[1] * objects, 0)],
            "cpu_ms_per_user": round(1000 * c["cpu_s"] / self.n, 4),
            "emulator_cpu_share": (round(em["cpu_s"] / wall, 3) if em["cpu_s"] is not None and wall
                                   else None),
        }
        self.out["initial"] = r
        d = r["derived"]
        self.log(f"[N={self.n:,}]    {wall:.1f} s, {created:,} created, {writes:,} writes, "
                 f"utilisation {_pct(d['utilisation_write_phase'])} (write phase), "
                 f"429 share {_pct(d['share_429'], 2)}, failures {c['counts'].get('failure', 0)}")

    def restart(self) -> None:
        self.log(f"[N={self.n:,}] 2. restart on a target in step ...")
        r = self.measured("restart", [{"restart": True}])
        c, em = r["cycles"][0], r["emulator"]
        r["derived"] = {"wall_s": c["wall_s"], "requests": em["http_requests"], "calls": em["calls"],
                        "writes": em["writes"], "cpu_s": c["cpu_s"],
                        "cpu_ms_per_user": round(1000 * c["cpu_s"] / self.n, 4),
                        "peak_rss_mb": r["peak_rss_mb"],
                        "emulator_cpu_share": (round(em["cpu_s"] / c["wall_s"], 3)
                                               if em["cpu_s"] is not None else None)}
        self.out["restart"] = r
        self.log(f"[N={self.n:,}]    {c['wall_s']:.2f} s, {em['http_requests']} requests, "
                 f"{em['writes']} writes, CPU {r['derived']['cpu_ms_per_user']:.3f} ms/user, "
                 f"peak RSS {r['peak_rss_mb']:.0f} MB")

    def incremental(self, candidates: list[str], n_changes: int) -> None:
        self.log(f"[N={self.n:,}] 3. incremental cycle with {n_changes:,} changes ...")
        changed = self.make_changes(candidates, n_changes)
        r = self.measured(f"incremental-{n_changes}", [{}])
        c, em = r["cycles"][0], r["emulator"]
        r["derived"] = {"changes": len(changed), "wall_s": c["wall_s"], "requests": em["http_requests"],
                        "calls": em["calls"], "writes": em["writes"],
                        "request_goal": incremental_request_goal(len(changed)),
                        "cpu_s": c["cpu_s"], "peak_rss_mb": r["peak_rss_mb"],
                        "updated": c["counts"].get("update", 0)}
        self.out["incremental"].append(r)
        self.log(f"[N={self.n:,}]    {c['wall_s']:.3f} s, {em['http_requests']} requests "
                 f"({em['calls']} calls), {em['writes']} writes")

    def on_demand_latency(self, candidates: list[str]) -> None:
        k = min(self.on_demand, len(candidates))
        self.log(f"[N={self.n:,}] 5. provision on demand of one user (x{k}) ...")
        ids = self.make_changes(candidates, k)
        r = self.measured("on-demand", [{"user_ids": [uid]} for uid in ids])
        lat = [c["wall_s"] * 1000 for c in r["cycles"]]
        r["derived"] = {"latencies_ms": [round(x, 1) for x in lat],
                        "first_ms": round(lat[0], 1) if lat else None,
                        "median_ms": round(statistics.median(lat), 1) if lat else None,
                        "max_ms": round(max(lat), 1) if lat else None,
                        "writes": r["emulator"]["writes"],
                        "requests_per_user": (round(r["emulator"]["http_requests"] / len(lat), 1)
                                              if lat else None)}
        self.out["on_demand"] = r
        self.log(f"[N={self.n:,}]    median {r['derived']['median_ms']} ms "
                 f"(first {r['derived']['first_ms']} ms)")

    def profiles(self, candidates: list[str]) -> None:
        """Profiled runs (not the measured ones: profilers slow the engine down)."""
        self.out["profiles"] = {}
        runs: list[tuple[str, list[dict[str, Any]], int]] = [("restart", [{"restart": True}], 0),
                                                              ("incremental-100", [{}], 100)]
        for label, cycles, n_changes in runs:
            self.make_changes(candidates, n_changes)
            base = RESULTS / f"profile-{label}-{self.n}"
            use_pyspy = profiling.pyspy_path() is not None and not self.inline
            self.log(f"[N={self.n:,}] profiling {label} ({'py-spy + ' if use_pyspy else ''}cProfile) ...")
            # cProfile (main thread only, exact call counts) ...
            r = self.measured(f"profile-{label}", cycles, cprofile=base.with_suffix(".pstats"))
            entry: dict[str, Any] = {"wall_s_under_cprofile": r["cycles"][0]["wall_s"],
                                     "cprofile": profiling.cprofile_top(base.with_suffix(".pstats"))}
            # ... and py-spy (every thread, sampled, little overhead)
            if use_pyspy:
                self.make_changes(candidates, n_changes)
                r2 = self.measured(f"pyspy-{label}", cycles, pyspy=base.with_suffix(".pyspy.txt"))
                entry["wall_s_under_pyspy"] = r2["cycles"][0]["wall_s"]
                entry["pyspy"] = profiling.pyspy_top(base.with_suffix(".pyspy.txt"))
            self.out["profiles"][label] = entry
            (base.with_suffix(".txt")).write_text(profiling.render(label, self.n, entry),
                                                  encoding="utf-8")


# ------------------------------------------------------------------------------------------------
# Report
# ------------------------------------------------------------------------------------------------

def _pct(x: float | None, digits: int = 1) -> str:
    return "-" if x is None else f"{100 * x:.{digits}f} %"


def _num(x: Any, fmt: str = "{:,.2f}") -> str:
    if x is None:
        return "-"
    if isinstance(x, float) and math.isnan(x):
        return "-"
    return fmt.format(x)


def table_rows(runs: list[dict[str, Any]]) -> list[tuple[str, list[str]]]:
    rows: list[tuple[str, list[str]]] = []

    def add(label: str, fn: Any) -> None:
        cells = []
        for r in runs:
            try:
                cells.append(fn(r))
            except (KeyError, TypeError, IndexError, ZeroDivisionError):
                cells.append("-")
        rows.append((label, cells))

    ini = lambda r: r["initial"]["derived"]
    add("time scale S (throttle windows / S)", lambda r: f"{r['time_scale']:g}")
    add("1 initial: users created", lambda r: _num(ini(r)["created"], "{:,}"))
    add("1 initial: wall time (s, scaled run)", lambda r: _num(ini(r)["wall_s"], "{:,.1f}"))
    add("1 initial: write phase (s)", lambda r: _num(ini(r)["write_phase_s"], "{:,.1f}"))
    add("1 initial: writes per new user", lambda r: _num(ini(r)["writes_per_new_user"], "{:.2f}"))
    add("1 initial: write-quota utilisation, write phase",
        lambda r: _pct(ini(r)["utilisation_write_phase"]))
    add("1 initial: write-quota utilisation, whole cycle",
        lambda r: _pct(ini(r)["utilisation_whole_cycle"]))
    add("1 initial: 429 share of Graph calls", lambda r: _pct(ini(r)["share_429"], 2))
    add("1 initial: writes/s achieved vs quota (scaled)",
        lambda r: f"{_num(ini(r)['achieved_writes_per_s'], '{:,.0f}')} / "
                  f"{_num(ini(r)['quota_writes_per_s_scaled'], '{:,.0f}')}")
    add("1 initial: projected real duration (min)", lambda r: _num(ini(r)["projected_real_min"], "{:,.0f}"))
    add("1 initial: projected min per object", lambda r: _num(ini(r)["projected_min_per_object"], "{:.4f}"))
    add("1 initial: published range (min, 0.01-0.08/object)",
        lambda r: f"{ini(r)['published_min'][0]:,.0f}-{ini(r)['published_min'][1]:,.0f}")
    add("2 restart in step: wall time (s)", lambda r: _num(r["restart"]["derived"]["wall_s"]))
    add("2 restart in step: engine CPU (s)", lambda r: _num(r["restart"]["derived"]["cpu_s"], "{:.1f}"))
    add("2 restart in step: begin / read+plan / finish (s)",
        lambda r: "{:.1f} / {:.1f} / {:.1f}".format(*(r["restart"]["cycles"][0]["stages"][k] for k in
                                                   ("begin_s", "read_plan_s", "finish_s"))))
    add("2 restart in step: requests / writes",
        lambda r: f"{r['restart']['derived']['requests']:,} / {r['restart']['derived']['writes']}")
    for i, label in enumerate(("3 incremental", "3 incremental", "3 incremental")):
        add(f"{label} #{i}: changes", lambda r, i=i: _num(r["incremental"][i]["derived"]["changes"], "{:,}"))
        add(f"{label} #{i}: wall time (s)", lambda r, i=i: _num(r["incremental"][i]["derived"]["wall_s"], "{:.3f}"))
        add(f"{label} #{i}: requests (goal) / writes",
            lambda r, i=i: f"{r['incremental'][i]['derived']['requests']} "
                           f"(≤ {r['incremental'][i]['derived']['request_goal']:g}) / "
                           f"{r['incremental'][i]['derived']['writes']}")
    add("4 engine CPU per user, restart (ms)", lambda r: _num(r["restart"]["derived"]["cpu_ms_per_user"], "{:.3f}"))
    add("4 engine CPU per user, initial (ms)", lambda r: _num(ini(r)["cpu_ms_per_user"], "{:.3f}"))
    add("4 peak RSS, engine process (MB): initial / restart",
        lambda r: f"{r['initial']['peak_rss_mb']:,.0f} / {r['restart']['peak_rss_mb']:,.0f}")
    add("4 RSS before the cycle (imports, clients) (MB)",
        lambda r: _num(r["restart"]["rss_before_mb"], "{:,.0f}"))
    add("5 on-demand, one user: median / first (ms)",
        lambda r: f"{r['on_demand']['derived']['median_ms']:,.0f} / {r['on_demand']['derived']['first_ms']:,.0f}")
    add("emulator CPU / wall: initial, restart",
        lambda r: f"{_pct(ini(r)['emulator_cpu_share'], 0)}, "
                  f"{_pct(r['restart']['derived']['emulator_cpu_share'], 0)}")
    from bench import baseline_report
    return rows + baseline_report.table_rows(runs)


def render_table(runs: list[dict[str, Any]], capacity: dict[str, Any] | None) -> str:
    rows = table_rows(runs)
    headers = ["scenario / figure"] + [f"N = {r['n']:,}" for r in runs]
    width0 = max(len(headers[0]), *(len(label) for label, _ in rows))
    widths = [max(len(h), *(len(cells[i]) for _, cells in rows)) for i, h in enumerate(headers[1:])]
    line = lambda cells: "| " + " | ".join(
        [cells[0].ljust(width0)] + [c.rjust(w) for c, w in zip(cells[1:], widths)]) + " |"
    out = [line(headers), "|" + "|".join(["-" * (width0 + 2)] + ["-" * (w + 1) + ":" for w in widths]) + "|"]
    out += [line([label, *cells]) for label, cells in rows]
    if capacity:
        out.append("")
        out.append(capacity_line(capacity))
    return "\n".join(out)


def capacity_line(cap: dict[str, Any]) -> str:
    up, dp, bp = cap.get("users_pages", {}), cap.get("delta_pages", {}), cap.get("batch_patch", {})
    return (f"Emulator capacity (own process, no throttle, {cap.get('users', 0):,}-user tenant, "
            f"{up.get('concurrency', 4)} clients): GET /users?$top=999 {up.get('requests_per_s', 0):,.0f} pages/s "
            f"({up.get('units_per_s', 0):,.0f} users/s); GET /users/delta {dp.get('requests_per_s', 0):,.0f} "
            f"pages/s ({dp.get('units_per_s', 0):,.0f} users/s); $batch of 20 PATCH "
            f"{bp.get('requests_per_s', 0):,.0f} req/s ({bp.get('units_per_s', 0):,.0f} writes/s).")


def goals(runs: list[dict[str, Any]]) -> list[tuple[bool | None, str]]:
    """(met, text) per goal (bench/goals.py), met None when the size a goal is about was not run;
    then the SDK baseline's CPU ratio (bench/baseline_report.py)."""
    from bench import baseline_report
    return goals_mod.of_runs(runs) + baseline_report.goals(runs)


def render_goals(items: list[tuple[bool | None, str]]) -> str:
    mark = {True: "✔", False: "✘", None: "·"}
    return "\n".join(f"{mark[ok]} {text}" for ok, text in items)


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu": cpu, "mem_gb": mem, "python": platform.python_version(),
            "platform": platform.platform(), "loadavg_start": [round(x, 2) for x in os.getloadavg()]}


def git_commit() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def dirty_files() -> list[str]:
    """Engine files that differ from the commit (the tree is shared with other engineers)."""
    try:
        out = subprocess.run(["git", "status", "--porcelain", "--", "tenantsync"], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return []
    return [line[3:] for line in out.splitlines() if line.strip()]


def measure_capacity(n: int, seed: str, groups: int, seconds: float, workdir: Path) -> dict[str, Any]:
    from tenantsync.emulator.server import EmulatorServer
    workdir.mkdir(parents=True, exist_ok=True)
    fixture = make_fixture(n_users=n, n_groups=groups, seed=seed)
    path = workdir / "capacity-fixture.json"
    path.write_text(dumps(fixture), encoding="utf-8")
    ids = [u["id"] for u in fixture["tenants"][0]["users"]]
    with EmulatorServer(path, in_process=False) as em:
        cap = capacity_mod.measure(em.url, SOURCE_TOKEN, ids, seconds=seconds)
    cap["users"] = n
    path.unlink()
    return cap


def choose_scale(n: int, requested: float | None) -> float:
    """Time scale S: Graph's 20 writes/s become 20·S writes/s. It must stay well under what the
    engine and the emulator can do together on 2 cores (else utilisation measures the machine, not
    the write limiter): S = 20 (400 writes/s) up to 20,000 users, S = 50 (1,000 writes/s) above,
    so that the 200,000 writes of N = 100,000 take about 3.5 minutes."""
    if requested:
        return requested
    return 20.0 if n <= 20_000 else 50.0


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default=None, help="comma-separated user counts (default 10000,100000)")
    ap.add_argument("--quick", action="store_true", help="a small run: N=1000, fewer changes")
    ap.add_argument("--time-scale", type=float, default=None,
                    help="divide Graph's throttle windows by this (default: by size, 10-100)")
    ap.add_argument("--groups", type=int, default=20)
    ap.add_argument("--seed", default="1")
    ap.add_argument("--profile", action="store_true",
                    help="also profile restart and incremental (100 changes) at the largest size")
    ap.add_argument("--capacity-seconds", type=float, default=3.0)
    ap.add_argument("--inline", action="store_true",
                    help="run the engine in this process (smoke test; CPU/RSS figures then include the harness)")
    ap.add_argument("--out", type=Path, default=None, help="results JSON (default bench/results/results-<ts>.json)")
    ap.add_argument("--no-latest", action="store_true", help="do not update bench/latest.json")
    ap.add_argument("--no-baseline", action="store_true", help="skip the SDK baseline (bench/baseline.py)")
    ap.add_argument("--baseline-max-users", type=int, default=20_000,
                    help="above this size the baseline runs on a tenant this big and its times are "
                         "extrapolated (0: always the whole tenant; default 20000)")
    ap.add_argument("--faults429", action="store_true",
                    help="also compare 5 %% random 429s with 5 %% 503s at 5,000 users "
                         "(bench/faults.py; part of the default full run)")
    ap.add_argument("--chaos", action="store_true",
                    help="also run the chaos scenario at 5,000 users (bench/chaos.py; part of the full run)")
    ap.add_argument("--only", choices=["chaos"], default=None,
                    help="run only this scenario (no sizes, no capacity measurement)")
    ap.add_argument("--million", action="store_true",
                    help="run only 1,000,000 users built in step, and 100,000 as its reference (bench/million.py)")
    ap.add_argument("--latency", action="store_true",
                    help="run only the change-to-target latency on a Prefect server (bench/latency.py)")
    ap.add_argument("--scale-out", action="store_true",
                    help="run only 3 configurations of 10,000 users into one hub at once, and one of "
                         "30,000 as reference (bench/scale_out.py; about 6 minutes)")
    args = ap.parse_args(argv)
    if args.scale_out:                   # into bench/latest.json under its own key, scale_out
        from bench import scale_out
        return scale_out.main(["--seed", args.seed] + (["--no-latest"] if args.no_latest else []))
    if args.only == "chaos":
        return chaos_only(args)
    if args.million or args.latency:     # each goes into bench/latest.json under its own key
        from bench import latency, million
        rc = million.main(["--seed", args.seed]) if args.million else 0
        return rc or (latency.main([]) if args.latency else 0)
    if args.sizes:
        sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    else:
        sizes = [1000] if args.quick else [10_000, 100_000]
    changes = (0, 100, 1000) if not args.quick else (0, 100)
    started = time.perf_counter()
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    RESULTS.mkdir(parents=True, exist_ok=True)
    work = RESULTS / "work"
    info = machine()
    print(f"tenantsync benchmark — sizes {', '.join(f'{n:,}' for n in sizes)}; machine: "
          f"{info['nproc']} cores, {info['cpu']}, Python {info['python']}; load average "
          f"{info['loadavg_start'][0]} (other processes share these cores)", flush=True)
    cap_n = min(sizes)
    print(f"measuring the emulator's capacity ({cap_n:,}-user tenant, no throttle) ...", flush=True)
    cap = measure_capacity(cap_n, args.seed, args.groups, args.capacity_seconds if not args.quick else 1.0,
                           work)
    print(capacity_line(cap), flush=True)
    runs = []
    for n in sizes:
        run = SizeRun(n=n, scale=choose_scale(n, args.time_scale), workdir=work / f"n{n}",
                      groups=args.groups, seed=args.seed, inline=args.inline,
                      change_counts=tuple(c for c in changes if c <= max(1, n // 2)),
                      profile=args.profile and n == max(sizes),
                      baseline=not args.no_baseline, baseline_max_users=args.baseline_max_users,
                      log=lambda *a: print(*a, flush=True))
        runs.append(run.run())
    faults = None
    if args.faults429 or not (args.quick or args.sizes):
        from bench import faults as faults_mod
        faults = faults_mod.compare(workdir=work / "faults", seed=args.seed, groups=args.groups,
                                    inline=args.inline, log=lambda *a: print(*a, flush=True))
    chaos = None
    if args.chaos or not (args.quick or args.sizes):
        from bench import chaos as chaos_mod
        chaos = chaos_mod.run(workdir=work / "chaos", seed=args.seed, groups=args.groups,
                              log=lambda *a: print(*a, flush=True))
    total = time.perf_counter() - started
    table = render_table(runs, cap) + (chaos_table(chaos) if chaos else "")
    goal_items = goals(runs) + ([faults["goal"]] if faults else []) + (chaos["criteria"] if chaos else [])
    command = "python -m bench.run" + (" " + " ".join(argv if argv is not None else sys.argv[1:])
                                       if (argv if argv is not None else sys.argv[1:]) else "")
    info["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    results = {"when": stamp, "command": command.strip(), "commit": git_commit(), "dirty": dirty_files(),
               "machine": info,
               "total_s": round(total, 1), "capacity": cap, "runs": runs, "faults429": faults, "chaos": chaos,
               "goals": [{"met": ok, "text": text} for ok, text in goal_items],
               "table": table}
    out = args.out or RESULTS / f"results-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1, ensure_ascii=False), encoding="utf-8")
    if not args.quick and not args.inline and not args.no_latest and args.out is None:
        from bench.million import copy_to_latest
        copy_to_latest(out, LATEST)      # keeps the --million and --latency sections of the last ones
    print()
    print(table)
    print()
    print("Goals:")
    print(render_goals(goal_items))
    print(f"\nresults: {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}; "
          f"total {total / 60:.1f} min", flush=True)
    return 0


def chaos_table(chaos: dict[str, Any]) -> str:
    from bench import chaos as chaos_mod
    rows = chaos_mod.table_rows(chaos) + [(f"chaos: {what}", ("✔ " if ok else "✘ ") + measured)
                                          for ok, what, measured in chaos_mod.checks(chaos)]
    width = max(len(label) for label, _ in rows)
    return "\n\n" + "\n".join(f"| {label.ljust(width)} | {value} |" for label, value in rows)


def chaos_only(args: argparse.Namespace) -> int:
    """``--only chaos``: the chaos scenario alone, its table and criteria, results saved."""
    from bench import chaos as chaos_mod
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    started = time.perf_counter()
    chaos = chaos_mod.run(workdir=RESULTS / "work" / "chaos", seed=args.seed, groups=args.groups,
                          log=lambda *a: print(*a, flush=True))
    out = args.out or RESULTS / f"results-chaos-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"when": stamp, "command": "python -m bench.run --only chaos",
                               "commit": git_commit(), "dirty": dirty_files(), "machine": machine(),
                               "total_s": round(time.perf_counter() - started, 1), "chaos": chaos},
                              indent=1, ensure_ascii=False, default=str), encoding="utf-8")
    print(chaos_table(chaos).strip())
    print()
    print(render_goals(chaos["criteria"]))
    print(f"\nresults: {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
