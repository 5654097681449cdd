"""Random 429s against random 503s: what injected refusals cost the initial cycle.

    python -m bench.run --faults429          # N = 5,000, inside the benchmark run
    python -m bench.faults [N]               # the scenario alone

The same N-user initial cycle into an empty target runs twice, each time against a fresh emulator
(own process, `graph` throttle profile, time scale S, so the write budget binds) that answers 5 %
of the calls (HTTP requests and $batch items alike) with a fault: once a 429, once a 503. An
injected 429 carries no x-ms-throttle-* header (tenantsync/emulator/faults.py): a refusal for
another reason than the tenant's budgets, which the write limiter should retry without cutting
its rate (tenantsync/graph/refusals.py). Goal: the 429 run takes at most 1.5× the 503 run's time.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

FAULT_SHARE = 0.05
FAULT_SEED = 7
GOAL_RATIO = 1.5
DEFAULT_N = 5000


def run_one(n: int, code: str, *, scale: float, workdir: Path, seed: str, groups: int,
            inline: bool, log: Any) -> dict[str, Any]:
    """One initial cycle with ``FAULT_SHARE`` of the calls answered ``code``."""
    from bench.generate import fresh_fixture, sync_config_yaml
    from bench.run import CONFIG_NAME, SOURCE_TOKEN, TARGET_TOKEN, EngineRunner
    from tenantsync.emulator.server import EmulatorServer

    fixture, fixture_path = fresh_fixture(workdir, n_users=n, n_groups=groups, seed=seed)
    (workdir / "bench.yaml").write_text(
        sync_config_yaml(fixture, name=CONFIG_NAME, scope="all",
                         state=f"sqlite:///{workdir / 'state.db'}"), encoding="utf-8")
    del fixture
    spec = f"rate={FAULT_SHARE},codes={code},seed={FAULT_SEED}"
    log(f"[faults N={n:,}] initial cycle, {FAULT_SHARE:.0%} of calls answered {code} ({spec}) ...")
    with EmulatorServer(fixture_path, in_process=False, throttle="graph", time_scale=scale,
                        faults=spec) as em:
        env = {"SOURCE_TOKEN": SOURCE_TOKEN, "TARGET_TOKEN": TARGET_TOKEN,
               "TENANTSYNC_GRAPH_URL": em.url}
        em.reset_stats()
        t = time.perf_counter()
        result = EngineRunner(workdir, env, inline=inline).run([{}], label=f"faults{code}")
        elapsed = time.perf_counter() - t
        stats = em.stats()
    c = result["cycles"][0]
    out = {"code": code, "spec": spec, "wall_s": c["wall_s"], "job_s": round(elapsed, 2),
           "created": c["counts"].get("create", 0), "failures": c["counts"].get("failure", 0),
           "writes": stats["writes"], "429": stats["429"], "throttled": stats["throttled"],
           "by_status": stats["by_status"], "limiter": c.get("limiter", {}),
           "retries": c["graph_target"].get("retries")}
    log(f"[faults N={n:,}]    {code}: {out['wall_s']:.1f} s, {out['created']:,} created, "
        f"{out['failures']} failures, {out['writes']:,} writes, {out['throttled']} budget 429s, "
        f"limiter {out['limiter']}")
    return out


def compare(n: int = DEFAULT_N, *, scale: float = 20.0, workdir: Path, seed: str = "1",
            groups: int = 20, inline: bool = False, log: Any = print) -> dict[str, Any]:
    """Both runs and their ratio; ``goal`` is (met, text) like bench.run's goals."""
    runs = {code: run_one(n, code, scale=scale, workdir=workdir / f"faults{code}", seed=seed,
                          groups=groups, inline=inline, log=log) for code in ("503", "429")}
    a, b = runs["429"], runs["503"]
    ratio = a["wall_s"] / b["wall_s"] if b["wall_s"] else None
    complete = a["failures"] == 0 and b["failures"] == 0 and a["created"] == b["created"]
    met = ratio is not None and ratio <= GOAL_RATIO and complete
    text = (f"N={n:,}: initial cycle with {FAULT_SHARE:.0%} random 429s ≤ {GOAL_RATIO:g}× the time "
            f"with {FAULT_SHARE:.0%} 503s: {a['wall_s']:.1f} s vs {b['wall_s']:.1f} s = "
            f"{ratio:.2f}×" + ("" if complete else
                              f" (created {a['created']:,} / {b['created']:,}, failures "
                              f"{a['failures']} / {b['failures']})"))
    return {"n": n, "time_scale": scale, "runs": runs, "ratio": ratio, "goal": (met, text)}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    n = int(argv[0]) if argv else DEFAULT_N
    root = Path(__file__).resolve().parent / "results" / "work"
    result = compare(n, workdir=root / f"faults-n{n}", log=lambda *a: print(*a, flush=True))
    met, text = result["goal"]
    print(("✔ " if met else "✘ ") + text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
