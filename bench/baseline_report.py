"""The SDK baseline (bench/baseline.py) inside the benchmark run: measured, tabled, judged.

For each size N, after the engine's scenarios (``SizeRun.run``), the same emulator process is reset
to the generated fixture (fresh empty target, the throttle buckets full again, same time scale S)
and the baseline runs twice, each pass in a fresh child process like the engine's scenarios: the
initial cycle into the empty target, then the restart on the target it left in step. It runs after
*all* the engine's scenarios of the size, not between restart and incremental, because the reset
replaces the target the engine's incremental cycles work on.

With ``max_users`` (``--baseline-max-users``) and N above it, the baseline runs on a tenant of
``max_users`` users generated with the same seed (same emulator, same S): per-user figures and
rates are measured there, its wall times are multiplied by N / max_users, and every such figure is
labelled as extrapolated. The SDK's cost is about linear in N (a typed parse per user read, two
requests per user written); measured per user it grows a little with N (9.6 ms of restart CPU at
1,000 users, 14 at 10,000), so a sample understates the baseline. It also holds every user of both
tenants as typed models: 436 MB peak at 10,000 users, so about 4 GB at 100,000 without a cap.

Ratios are tenantsync / baseline (below 1: tenantsync takes less; above 1: more of it, e.g. of the
write quota). The goal printed here: restart of 100,000 users in step with at least
GOAL_CPU_RATIO times less engine CPU per user than the baseline.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any

GOAL_CPU_RATIO = 10.0
GOAL_SIZE = 100_000


# ------------------------------------------------------------------------------------------------
# Measuring (called by bench.run.SizeRun inside its emulator)
# ------------------------------------------------------------------------------------------------

def measure(run: Any, max_users: int = 0) -> dict[str, Any]:
    """The baseline's initial and restart passes at ``run.n`` users (or ``max_users``, see the doc)."""
    from bench.generate import ANCHOR_EXTENSION, anchor_app_id, det_uuid, dumps, make_fixture
    from bench.run import SOURCE_TOKEN, TARGET_TOKEN

    n = run.n if not max_users or run.n <= max_users else max_users
    if n == run.n:
        run.em.reset()                                   # the size's own fixture, from its file
    else:
        path = run.workdir / "baseline-fixture.json"
        path.write_text(dumps(make_fixture(n_users=n, n_groups=run.groups, seed=run.seed)), encoding="utf-8")
        run.em.reset(path)
    job = {"url": run.em.url, "source_token": SOURCE_TOKEN, "target_token": TARGET_TOKEN,
           "source_tenant": det_uuid(f"{run.seed}:source-tenant"),       # as make_fixture draws them
           "anchor_attribute": f"extension_{anchor_app_id(TARGET_TOKEN).replace('-', '')}_{ANCHOR_EXTENSION}"}
    factor = run.n / n
    out: dict[str, Any] = {"users": n, "extrapolated": n != run.n, "factor": round(factor, 3)}
    run.log(f"[N={run.n:,}] 8. SDK baseline (bench/baseline.py) at {n:,} users"
            f"{' (sample: times extrapolated)' if n != run.n else ''}: initial cycle ...")
    ini = _measured(run, {**job, "label": "initial"})
    em, scale = ini["emulator"], run.scale
    phase = ((ini["write_last_rel_s"] - ini["write_first_rel_s"])
             if ini["write_first_rel_s"] is not None else 0.0)
    writes = em["writes"]
    ini["derived"] = {
        "created": ini["invited"], "failures": ini["failures"], "writes": writes,
        "wall_s": ini["wall_s"], "wall_s_at_n": round(ini["wall_s"] * factor, 2),
        "read_s": ini["read_s"], "write_phase_s": round(phase, 2),
        "writes_per_s": round(writes / phase, 1) if phase else None,
        "quota_writes_per_s_scaled": _app_rate() * scale,
        "utilisation_write_phase": round(writes / _allowed(phase, scale), 4) if phase > 0 else None,
        "share_429": round(em["429"] / em["calls"], 5) if em["calls"] else 0.0,
        "quota_binding": writes > _app_writes(),
        "cpu_s": ini["cpu_s"], "cpu_ms_per_user": round(1000 * ini["cpu_s"] / n, 4),
        "requests": em["http_requests"], "peak_rss_mb": ini["peak_rss_mb"]}
    out["initial"] = ini
    d = ini["derived"]
    run.log(f"[N={run.n:,}]    {d['wall_s']:.1f} s, {d['created']:,} created, {writes:,} writes "
            f"({d['writes_per_s'] or 0:,.0f}/s; quota {d['quota_writes_per_s_scaled']:,.0f}/s), "
            f"429 share {100 * d['share_429']:.2f} %, failures {d['failures']}, "
            f"CPU {d['cpu_ms_per_user']:.3f} ms/user")
    run.log(f"[N={run.n:,}] 8. SDK baseline: restart in step ...")
    rs = _measured(run, {**job, "label": "restart"})
    rs["derived"] = {"wall_s": rs["wall_s"], "wall_s_at_n": round(rs["wall_s"] * factor, 2),
                     "cpu_s": rs["cpu_s"], "cpu_ms_per_user": round(1000 * rs["cpu_s"] / n, 4),
                     "requests": rs["emulator"]["http_requests"], "writes": rs["emulator"]["writes"],
                     "patched": rs["patched"], "invited": rs["invited"], "peak_rss_mb": rs["peak_rss_mb"]}
    out["restart"] = rs
    run.log(f"[N={run.n:,}]    {rs['wall_s']:.1f} s, {rs['derived']['requests']} requests, "
            f"{rs['derived']['writes']} writes, CPU {rs['derived']['cpu_ms_per_user']:.3f} ms/user, "
            f"peak RSS {rs['peak_rss_mb']:.0f} MB")
    out["ratios"] = ratios(run.out, out)
    return out


def _measured(run: Any, job: dict[str, Any]) -> dict[str, Any]:
    """One pass with the emulator's counters zeroed first (as SizeRun.measured does for the engine)."""
    from bench.run import ROOT, proc_cpu_s

    label = job["label"]
    run.em.reset_stats()
    cpu0 = proc_cpu_s(run.em_pid)
    t = time.perf_counter()
    if run.inline:
        from bench.baseline import run_job
        result = run_job(job)
    else:
        job_path = run.workdir / f"baseline-{label}-job.json"
        out_path = run.workdir / f"baseline-{label}-result.json"
        job_path.write_text(json.dumps(job), encoding="utf-8")
        proc = subprocess.run([sys.executable, "-m", "bench.baseline", str(job_path), str(out_path)],
                              cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                              capture_output=True, text=True)
        if proc.returncode != 0 or not out_path.exists():
            raise RuntimeError(f"baseline {label} failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n"
                               f"{proc.stderr[-4000:]}")
        result = json.loads(out_path.read_text(encoding="utf-8"))
    elapsed = time.perf_counter() - t
    cpu1 = proc_cpu_s(run.em_pid)
    stats = run.em.stats()
    envelopes = stats["by_route"].get("POST /$batch", 0)
    result["emulator"] = {
        "http_requests": stats["total_requests"], "batch_items": stats["batch_items"],
        "calls": stats["total_requests"] - envelopes + stats["batch_items"],
        "writes": stats["writes"], "429": stats["429"], "throttled": stats["throttled"],
        "by_status": stats["by_status"], "by_route": stats["by_route"],
        "cpu_s": round(cpu1 - cpu0, 2) if cpu0 is not None and cpu1 is not None else None,
        "job_elapsed_s": round(elapsed, 2)}
    return result


def _app_writes() -> int:
    from tenantsync.emulator.throttle import Throttle
    return Throttle.APP_WRITES


def _app_rate() -> float:
    from tenantsync.emulator.throttle import Throttle
    return Throttle.APP_WRITES / Throttle.APP_WRITE_WINDOW


def _allowed(seconds: float, scale: float) -> float:
    """Writes the buckets allowed in ``seconds`` of a run at time scale ``scale`` (they start full):
    the same formula as bench.run's initial scenario."""
    from tenantsync.emulator.throttle import Throttle
    return min(Throttle.APP_WRITES + _app_rate() * scale * seconds,
               Throttle.TENANT_WRITES + Throttle.TENANT_WRITES / Throttle.TENANT_WRITE_WINDOW * scale * seconds)


def _div(a: Any, b: Any) -> float | None:
    if a is None or b is None or not b:
        return None
    return round(a / b, 4)


def ratios(engine: dict[str, Any], base: dict[str, Any]) -> dict[str, float | None]:
    """tenantsync / baseline, per figure (the baseline's wall times at N, extrapolated if sampled)."""
    ei, er = engine["initial"]["derived"], engine["restart"]["derived"]
    bi, br = base["initial"]["derived"], base["restart"]["derived"]
    return {"initial_wall": _div(ei["wall_s"], bi["wall_s_at_n"]),
            "utilisation_write_phase": _div(ei["utilisation_write_phase"], bi["utilisation_write_phase"]),
            "share_429": _div(ei["share_429"], bi["share_429"]),
            "initial_cpu_per_user": _div(ei["cpu_ms_per_user"], bi["cpu_ms_per_user"]),
            "restart_wall": _div(er["wall_s"], br["wall_s_at_n"]),
            "restart_cpu_per_user": _div(er["cpu_ms_per_user"], br["cpu_ms_per_user"]),
            "restart_peak_rss": _div(engine["restart"]["peak_rss_mb"], br["peak_rss_mb"])}


# ------------------------------------------------------------------------------------------------
# Report
# ------------------------------------------------------------------------------------------------

def _x(r: float | None) -> str:
    if r is None:
        return "-"
    return f"{r:.3f}×" if r < 0.1 else f"{r:.2f}×"


def _pct(x: float | None, digits: int = 1) -> str:
    return "-" if x is None else f"{100 * x:.{digits}f} %"


def table_rows(runs: list[dict[str, Any]]) -> list[tuple[str, list[str]]]:
    """Rows for bench.run's table (none when no size ran the baseline). A figure and, after ·,
    the ratio tenantsync / baseline; * marks wall times extrapolated from a smaller tenant."""
    if not any(r.get("baseline") for r in runs):
        return []
    rows: list[tuple[str, list[str]]] = []

    def add(label: str, fn: Any) -> None:
        cells = []
        for r in runs:
            b = r.get("baseline")
            try:
                cells.append(fn(r, b, b["ratios"]) if b else "not run")
            except (KeyError, TypeError, IndexError, ZeroDivisionError):
                cells.append("-")
        rows.append((label, cells))

    bi = lambda b: b["initial"]["derived"]
    br = lambda b: b["restart"]["derived"]
    star = lambda b: "*" if b["extrapolated"] else ""
    add("8 SDK baseline: users in the tenant it ran on",
        lambda r, b, x: f"{b['users']:,}" + (f" (* = ×{b['factor']:g})" if b["extrapolated"] else ""))
    add("8 SDK baseline 1 initial: users created / failures",
        lambda r, b, x: f"{bi(b)['created']:,} / {bi(b)['failures']}")
    add("8 SDK baseline 1 initial: wall time (s) · tenantsync/baseline",
        lambda r, b, x: f"{bi(b)['wall_s_at_n']:,.1f}{star(b)} · {_x(x['initial_wall'])}")
    add("8 SDK baseline 1 initial: reading (s) / write phase (s)",
        lambda r, b, x: f"{bi(b)['read_s'] * b['factor']:,.1f}{star(b)} / "
                        f"{bi(b)['write_phase_s'] * b['factor']:,.1f}{star(b)}")
    add("8 SDK baseline 1 initial: writes/s achieved vs quota (scaled)",
        lambda r, b, x: f"{bi(b)['writes_per_s'] or 0:,.0f} / {bi(b)['quota_writes_per_s_scaled']:,.0f}")
    add("8 SDK baseline 1 initial: write-quota utilisation · ratio",
        lambda r, b, x: f"{_pct(bi(b)['utilisation_write_phase'])} · {_x(x['utilisation_write_phase'])}")
    add("8 SDK baseline 1 initial: 429 share of Graph calls · ratio",
        lambda r, b, x: f"{_pct(bi(b)['share_429'], 2)} · {_x(x['share_429'])}")
    add("8 SDK baseline 1 initial: CPU per user (ms) · ratio",
        lambda r, b, x: f"{bi(b)['cpu_ms_per_user']:.3f} · {_x(x['initial_cpu_per_user'])}")
    add("8 SDK baseline 2 restart: wall time (s) · ratio",
        lambda r, b, x: f"{br(b)['wall_s_at_n']:,.2f}{star(b)} · {_x(x['restart_wall'])}")
    add("8 SDK baseline 2 restart: requests / writes",
        lambda r, b, x: f"{br(b)['requests']:,} / {br(b)['writes']}")
    add("8 SDK baseline 2 restart: CPU per user (ms) · ratio",
        lambda r, b, x: f"{br(b)['cpu_ms_per_user']:.3f} · {_x(x['restart_cpu_per_user'])}")
    add("8 SDK baseline: peak RSS (MB): initial / restart",
        lambda r, b, x: f"{bi(b)['peak_rss_mb']:,.0f} / {br(b)['peak_rss_mb']:,.0f}")
    return rows


def goals(runs: list[dict[str, Any]]) -> list[tuple[bool | None, str]]:
    """Restart of 100,000 users in step: ≥ 10× less engine CPU per user than the baseline."""
    what = f"restart of {GOAL_SIZE:,} users in step: ≥ {GOAL_CPU_RATIO:g}× less CPU per user than the SDK baseline"
    big = next((r for r in runs if r["n"] == GOAL_SIZE), None)
    if big is None:
        return [(None, f"{what}: not run (add {GOAL_SIZE} to --sizes)")]
    b = big.get("baseline")
    if not b:
        return [(None, f"{what}: baseline not run (--no-baseline)")]
    eng = big["restart"]["derived"]["cpu_ms_per_user"]
    base = b["restart"]["derived"]["cpu_ms_per_user"]
    times = base / eng if eng else float("inf")
    where = f" (baseline measured on {b['users']:,} users)" if b["extrapolated"] else ""
    return [(times >= GOAL_CPU_RATIO,
             f"{what}: {eng:.3f} ms vs {base:.3f} ms = {times:,.1f}× less{where}")]


def readme_note(results: dict[str, Any]) -> str | None:
    """A sentence for the README block saying what the baseline is, when the run has one."""
    runs = [r for r in results.get("runs") or [] if r.get("baseline")]
    if not runs:
        return None
    sampled = [r for r in runs if r["baseline"].get("extrapolated")]
    return ("Rows 8: the SDK baseline (`bench/baseline.py`), what an administrator writes from "
            "Microsoft's msgraph-sdk samples (typed models, `users.get()` + `PageIterator`, one "
            "`invitations.post` and one `users.by_user_id().patch` per user, the SDK's default "
            "RetryHandler, 4 users at a time; on the second pass one listing of the target and a PATCH "
            "only where an attribute differs), run in its own process on the same tenant, emulator and "
            "time scale after the engine's scenarios. After · : tenantsync / baseline. The baseline is "
            "CPU-bound below the scaled write quota (its writes/s row), so its utilisation and 429 share "
            "measure its speed, not its handling of throttling."
            + (" * : wall time measured on a smaller tenant of the same seed and multiplied by the "
               "size ratio." if sampled else ""))
