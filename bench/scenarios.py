"""Engine side of the benchmark: run one engine job and measure it.

A job is a JSON object::

    {"config": "/path/bench.yaml", "env": {"SOURCE_TOKEN": ..., "TENANTSYNC_GRAPH_URL": ...},
     "cycles": [{"restart": false, "user_ids": []}, ...],     # run one after another
     "cprofile": "/path/out.pstats" | null,                    # profile the cycles (main thread)
     "pyspy": "/path/out.txt" | null}                          # sample the cycles (every thread)

``python -m bench.scenarios JOB.json RESULT.json`` runs it in a fresh process (what ``bench.run``
does: the emulator lives in another process, so only the engine's CPU and memory are measured
here); ``run_job(job)`` runs it in the calling process (the smoke test).

The result holds, per cycle: wall seconds, process CPU seconds (every thread of this process:
the engine's main thread and the Graph connector's event-loop thread), the stage breakdown
(begin / read+plan / decide / apply / finish), the CycleReport counts and the GraphApi counters;
and for the process: peak RSS (VmHWM, see _peak_rss_mb) and the RSS before the first cycle (imports,
clients: the floor every engine process pays).
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any


def _rss_now_mb() -> float:
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float("nan")


def _peak_rss_mb() -> float:
    """Peak RSS of this process's own memory: VmHWM. Not ru_maxrss: Linux carries the parent's
    high-water mark into ru_maxrss across fork/vfork + exec (exec_mmap), so a child of a big
    parent (the benchmark holds the 100,000-user fixture) would report the parent's size."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0     # KiB on Linux


def _ru_maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


class _StageClock:
    """Wraps a Cycle's step methods to time them; `drive()` is then used unchanged."""

    def __init__(self, cycle: Any) -> None:
        self.t0 = time.perf_counter()
        self.marks: dict[str, float] = {}
        self.plan_s = 0.0
        self.apply_s = 0.0
        self.pages = 0
        self.batches = 0
        self.first_apply: float | None = None
        self.last_apply: float | None = None
        for name in ("begin", "decide", "finish"):
            self._wrap_step(cycle, name)
        plan_page, apply = cycle.plan_page, cycle.apply

        def timed_plan(page: Any) -> Any:
            t = time.perf_counter()
            try:
                return plan_page(page)
            finally:
                self.plan_s += time.perf_counter() - t
                self.pages += 1

        def timed_apply(batch: Any) -> Any:
            t = time.perf_counter()
            if self.first_apply is None:
                self.first_apply = t
            try:
                return apply(batch)
            finally:
                self.last_apply = time.perf_counter()
                self.apply_s += self.last_apply - t
                self.batches += 1

        cycle.plan_page, cycle.apply = timed_plan, timed_apply

    def _wrap_step(self, cycle: Any, name: str) -> None:
        fn = getattr(cycle, name)

        def timed(*a: Any, **k: Any) -> Any:
            self.marks[f"{name}_start"] = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                self.marks[f"{name}_end"] = time.perf_counter()

        setattr(cycle, name, timed)

    def breakdown(self) -> dict[str, float]:
        m = self.marks
        rel = lambda key: round(m[key] - self.t0, 4) if key in m else None
        out: dict[str, Any] = {
            "begin_s": _span(m, "begin"),
            # between begin and decide: source pages read (prefetched one ahead) and planned
            "read_plan_s": (round(m["decide_start"] - m["begin_end"], 4)
                            if "decide_start" in m and "begin_end" in m else None),
            "plan_cpu_side_s": round(self.plan_s, 4),
            "decide_s": _span(m, "decide"),
            "apply_s": round(self.apply_s, 4),
            "finish_s": _span(m, "finish"),
            "pages": self.pages,
            "batches": self.batches,
            "apply_first_rel_s": (round(self.first_apply - self.t0, 4)
                                  if self.first_apply is not None else None),
            "apply_last_rel_s": (round(self.last_apply - self.t0, 4)
                                 if self.last_apply is not None else None),
            "decide_start_rel_s": rel("decide_start"),
        }
        return out


def _span(marks: dict[str, float], name: str) -> float | None:
    if f"{name}_start" in marks and f"{name}_end" in marks:
        return round(marks[f"{name}_end"] - marks[f"{name}_start"], 4)
    return None


def run_job(job: dict[str, Any]) -> dict[str, Any]:
    """Run the job's cycles in this process; see the module doc for the result."""
    for key, value in (job.get("env") or {}).items():
        os.environ[key] = str(value)
    t_import = time.perf_counter()
    from tenantsync.config import load_config
    from tenantsync.cycle import CycleOptions, drive, entra_cycle
    from tenantsync.graph.api import GraphApi
    from tenantsync.store import Store

    cfg = load_config(job["config"])
    store = Store.for_url(cfg.state_url)
    if cfg.target.connection is None:
        raise ValueError(f"{job['config']}: the benchmark needs a Graph target (target.connection)")
    source_api = GraphApi(cfg.connection(cfg.source.connection))
    target_api = GraphApi(cfg.connection(cfg.target.connection))
    setup_s = time.perf_counter() - t_import
    rss_before = _rss_now_mb()
    profiler = None
    if job.get("cprofile"):
        import cProfile
        profiler = cProfile.Profile()
    cycles: list[dict[str, Any]] = []
    spy = _start_pyspy(job["pyspy"]) if job.get("pyspy") else None
    try:
        for spec in job.get("cycles") or [{}]:
            options = CycleOptions(restart=bool(spec.get("restart")),
                                   user_ids=tuple(spec.get("user_ids") or ()))
            src0, tgt0 = source_api.stats.as_dict(), target_api.stats.as_dict()
            cpu0, wall0 = time.process_time(), time.perf_counter()
            if profiler is not None:
                profiler.enable()
            try:
                cycle = entra_cycle(cfg, source_api=source_api, target_api=target_api, store=store,
                                    options=options)
                clock = _StageClock(cycle)
                report = drive(cycle)
            finally:
                if profiler is not None:
                    profiler.disable()
            wall = time.perf_counter() - wall0
            cpu = time.process_time() - cpu0
            src1, tgt1 = source_api.stats.as_dict(), target_api.stats.as_dict()
            failures = [{"source_id": a.source_id, "code": a.error_code, "reason": a.reason[:300]}
                        for a in report.actions if a.status == "failure"][:5]
            cycles.append({
                "kind": report.kind, "wall_s": round(wall, 4), "cpu_s": round(cpu, 4),
                "counts": dict(report.counts), "message": report.message,
                "stages": clock.breakdown(),
                "graph_source": {k: src1[k] - src0.get(k, 0) for k in src1},
                "graph_target": {k: tgt1[k] - tgt0.get(k, 0) for k in tgt1},
                "limiter": _limiter_state(target_api),
                "failures_sample": failures,
            })
            del report, cycle, clock
    finally:
        if spy is not None:
            _stop_pyspy(spy)
        source_api.close()
        target_api.close()
        if profiler is not None:
            profiler.dump_stats(job["cprofile"])
    return {"setup_s": round(setup_s, 3), "rss_before_mb": round(rss_before, 1),
            "peak_rss_mb": round(_peak_rss_mb(), 1), "ru_maxrss_mb": round(_ru_maxrss_mb(), 1),
            "cycles": cycles, "pid": os.getpid()}


def _start_pyspy(out: str) -> Any:
    """py-spy sampling this process from now on (raw collapsed stacks, idle threads left out)."""
    import subprocess

    from bench.profiling import pyspy_path
    cmd = [pyspy_path() or "py-spy", "record", "--pid", str(os.getpid()), "--format", "raw",
           "--rate", "250", "--output", out, "--nonblocking"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(0.5)          # let it attach before the cycle starts
    if proc.poll() is not None:
        err = proc.stderr.read().decode() if proc.stderr else ""   # stderr=PIPE: always a stream
        raise RuntimeError(f"py-spy did not start: {err[-500:]}")
    return proc


def _stop_pyspy(proc: Any) -> None:
    import signal
    proc.send_signal(signal.SIGINT)       # py-spy writes its output on Ctrl-C
    try:
        proc.wait(timeout=30)
    except Exception:
        proc.kill()


def _limiter_state(api: Any) -> dict[str, Any]:
    try:
        st = api.limiter.state
        return {"rate": st.rate, "estimate": st.estimate, "cuts": st.cuts,
                "throttle_events": st.throttle_events,
                "random_refusals": getattr(st, "random_refusals", None),
                "walls": getattr(st, "walls", None)}
    except Exception:   # the limiter's shape is not ours: report what we can
        return {}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print("usage: python -m bench.scenarios JOB.json RESULT.json", file=sys.stderr)
        return 2
    job = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    result = run_job(job)
    Path(argv[1]).write_text(json.dumps(result, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
