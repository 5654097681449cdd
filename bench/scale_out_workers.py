"""The workers of the scale-out benchmark (bench/scale_out.py): each configuration's initial cycle in
its own OS process, all started at one instant, the target client's counters sampled.

    python -m bench.scale_out_workers JOB.json RESULT.json      # one worker (bench/scale_out.py starts them)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_S = 0.2

# ------------------------------------------------------------------------------------------------
# One configuration's initial cycle (in its own process), sampled
# ------------------------------------------------------------------------------------------------

def run_cycle(job: dict[str, Any]) -> dict[str, Any]:
    """Build the clients, wait for the start (``_wait_for_start``), run the initial cycle; counters
    of the target client are sampled every SAMPLE_S seconds: [t, writes sent, 429s]. With a
    ``budget`` (sql, prefect) the Prefect layer's shared write gate is installed first."""
    for key, value in (job.get("env") or {}).items():
        os.environ[key] = str(value)
    from tenantsync.config import load_config
    from tenantsync.cycle import drive, entra_cycle
    from tenantsync.graph.api import GraphApi
    from tenantsync.store import Store

    if job.get("budget") in ("sql", "prefect"):
        from flows import _budget  # the shared write gate, as in a worker (flows/_budget.py)
        _budget.install()
    cfg = load_config(job["config"])
    store = Store.for_url(cfg.state_url)
    source_api = GraphApi(cfg.connection(cfg.source.connection), read_only=True)
    target_api = GraphApi(cfg.connection(cfg.target.connection or "target"))
    samples: list[tuple[float, int, int]] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            st = target_api.stats
            samples.append((round(time.time(), 3), st.writes, st.throttled))
            done.wait(SAMPLE_S)

    _wait_for_start(job)
    sampler = threading.Thread(target=sample, daemon=True)
    started = time.time()
    sampler.start()
    try:
        report = drive(entra_cycle(cfg, source_api=source_api, target_api=target_api, store=store))
    finally:
        done.set()
        sampler.join()
        st = target_api.stats
        samples.append((round(time.time(), 3), st.writes, st.throttled))
        source_api.close()
        target_api.close()
        store.close()
    lim = target_api.limiter.state
    return {"config": cfg.name, "started": started, "ended": samples[-1][0],
            "wall_s": round(samples[-1][0] - started, 3), "counts": dict(report.counts),
            "target": target_api.stats.as_dict(), "samples": samples,
            "limiter": {"rate": lim.rate, "estimate": lim.estimate, "cuts": lim.cuts}}


def _wait_for_start(job: dict[str, Any]) -> None:
    """Say ready (a file), then wait for the go file and its start time (epoch s)."""
    if not job.get("go"):
        time.sleep(max(0.0, float(job.get("start_at") or 0) - time.time()))
        return
    Path(job["ready"]).write_text("ready", encoding="utf-8")
    go = Path(job["go"])
    while not go.exists():
        time.sleep(0.05)
    time.sleep(max(0.0, float(go.read_text(encoding="utf-8") or 0) - time.time()))


def _start_together(jobs: list[dict[str, Any]], procs: list[Any], go: Path) -> None:
    """Once every worker has built its clients (its ready file), start them all in 0.5 s."""
    while not all(Path(j["ready"]).exists() for j in jobs):
        if any(p.poll() is not None for p, _ in procs):
            break                                   # a worker died: its error is read below
        time.sleep(0.05)
    tmp = go.with_suffix(".tmp")
    tmp.write_text(str(time.time() + 0.5), encoding="utf-8")
    tmp.replace(go)


def run_concurrent(configs: list[Path], env: dict[str, str], workdir: Path, *,
                   extra: dict[str, Any] | None = None, inline: bool = False) -> list[dict[str, Any]]:
    """Every configuration's initial cycle at once: an OS process each (threads if ``inline``)."""
    start_at = time.time() + (1.0 if inline else 6.0)     # after every process has imported
    jobs = [{"config": str(p), "env": env, "start_at": start_at, **(extra or {})} for p in configs]
    if inline:
        out: list[Any] = [None] * len(jobs)
        saved = {k: os.environ.get(k) for k in env}

        def one(i: int) -> None:
            out[i] = run_cycle(jobs[i])

        threads = [threading.Thread(target=one, args=(i,)) for i in range(len(jobs))]
        try:
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        finally:
            if any(job.get("budget") in ("sql", "prefect") for job in jobs):
                from tenantsync.graph import shared_budget
                shared_budget.install(None)
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        if any(r is None for r in out):
            raise RuntimeError("a configuration's cycle failed (see the log above)")
        return out
    procs: list[tuple[subprocess.Popen[bytes], Path]] = []
    go = workdir / "go"
    go.unlink(missing_ok=True)
    for i, job in enumerate(jobs):
        job.update(ready=str(workdir / f"ready-{i}"), go=str(go))
        Path(job["ready"]).unlink(missing_ok=True)
        jp, rp = workdir / f"job-{i}.json", workdir / f"result-{i}.json"
        jp.write_text(json.dumps(job), encoding="utf-8")
        rp.unlink(missing_ok=True)
        with open(workdir / f"worker-{i}.log", "wb") as log_file:     # a pipe left unread could fill
            procs.append((subprocess.Popen(
                [sys.executable, "-m", "bench.scale_out_workers", str(jp), str(rp)], cwd=ROOT,
                env={**os.environ, **env, "PYTHONPATH": str(ROOT)}, stdout=log_file, stderr=subprocess.STDOUT), rp))
    results = []
    try:
        _start_together(jobs, procs, go)
        for i, (proc, rp) in enumerate(procs):
            proc.wait()
            if proc.returncode != 0 or not rp.exists():
                err = (workdir / f"worker-{i}.log").read_text(encoding="utf-8", errors="replace")
                raise RuntimeError(f"worker failed ({proc.returncode}):\n{err[-4000:]}")
            results.append(json.loads(rp.read_text(encoding="utf-8")))
    finally:
        for proc, _ in procs:              # one failed (or we were interrupted): stop the others
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return results



def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print("usage: python -m bench.scale_out_workers JOB.json RESULT.json", file=sys.stderr)
        return 2
    job = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    Path(argv[1]).write_text(json.dumps(run_cycle(job)), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
