"""The benchmark's goals (the README's section Performance): each judged from measured figures.

Every function takes figures, not a run, and returns ``(met, text)``: met is True (✔), False (✘)
or None (not measurable or not run), and the text names the goal and the measured figure. ``of_runs``
applies them to bench/run.py's results; the 1,000,000-user goals are bench/million.py's and the
change-to-target latency bench/latency.py's, the SDK baseline's CPU ratio bench/baseline_report.py's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

Goal = tuple[bool | None, str]

UTILISATION = 0.95                 # initial cycle, write phase, at 10,000 and 100,000 users
SHARE_429 = 0.001                  # < 0.1 % of the Graph calls answered 429
UTILISATION_SIZES = (10_000, 100_000)
GOAL_SIZE = 100_000                # the size of the restart, RSS and incremental-time goals
CPU_MS_PER_USER = 0.15             # restart in step, engine process
RSS_MB = 300.0                     # peak RSS (VmHWM) of the engine process
INCREMENTAL_S = 1.0                # 100 changes in 100,000 users
INCREMENTAL_CHANGES = (100, 1000)  # request goal: 10 + changes / 20


def incremental_request_goal(changes: int) -> float:
    return 10 + changes / 20


def _pct(x: float | None, digits: int = 1) -> str:
    return "-" if x is None else f"{100 * x:.{digits}f} %"


def utilisation(n: int, util: float | None, share_429: float, *, binding: bool = True,
                writes: int = 0) -> Goal:
    what = f"N={n:,}: initial cycle, write-quota utilisation ≥ 95 % with < 0.1 % 429s"
    if not binding:
        return (None, f"{what}: not measurable, the {writes:,} writes fit in the write bucket (3,000), "
                      f"{_pct(share_429, 2)} 429s")
    ok = util is not None and util >= UTILISATION and share_429 < SHARE_429
    return (ok, f"{what}: {_pct(util)}, {_pct(share_429, 2)} 429s")


def restart_cpu(n: int, cpu_ms_per_user: float, writes: int = 0) -> Goal:
    return (cpu_ms_per_user <= CPU_MS_PER_USER and writes == 0,
            f"N={n:,}: restart in step, engine CPU ≤ {CPU_MS_PER_USER:g} ms per user and 0 writes: "
            f"{cpu_ms_per_user:.3f} ms, {writes} writes")


def peak_rss(n: int, mb: float) -> Goal:
    return (mb <= RSS_MB, f"N={n:,}: peak RSS of the engine process ≤ {RSS_MB:,.0f} MB (VmHWM): {mb:,.0f} MB")


def incremental_requests(n: int, changes: int, requests: int) -> Goal:
    goal = incremental_request_goal(changes)
    return (requests <= goal, f"N={n:,}: incremental cycle of {changes:,} changes ≤ 10 + changes/20 = "
                              f"{goal:g} requests: {requests}")


def incremental_time(n: int, changes: int, wall_s: float) -> Goal:
    return (wall_s <= INCREMENTAL_S, f"N={n:,}: incremental cycle of {changes:,} changes ≤ "
                                     f"{INCREMENTAL_S:g} s: {wall_s:.2f} s")


def of_runs(runs: Sequence[dict[str, Any]]) -> list[Goal]:
    """The goals of bench/run.py's sizes; a goal whose size was not run is listed as not run."""
    out: list[Goal] = []
    by_n = {r["n"]: r for r in runs}
    for r in runs:           # judged at every size run; the goal names 10,000 and 100,000
        d = r["initial"]["derived"]
        out.append(utilisation(r["n"], d["utilisation_write_phase"], d["share_429"],
                               binding=d.get("quota_binding", True), writes=d.get("writes", 0)))
    out += [(None, f"N={n:,}: initial cycle, write-quota utilisation ≥ 95 % with < 0.1 % 429s: "
                   f"not run (add {n} to --sizes)") for n in UTILISATION_SIZES if n not in by_n]
    big = by_n.get(GOAL_SIZE)
    if big is None:
        out.append((None, f"N={GOAL_SIZE:,}: restart in step, engine CPU ≤ {CPU_MS_PER_USER:g} ms per user, "
                          f"peak RSS ≤ {RSS_MB:,.0f} MB, 100 changes ≤ {INCREMENTAL_S:g} s: not run "
                          f"(add {GOAL_SIZE} to --sizes)"))
    else:
        rs = big["restart"]["derived"]
        out.append(restart_cpu(GOAL_SIZE, rs["cpu_ms_per_user"], rs["writes"]))
        out.append(peak_rss(GOAL_SIZE, max(big["initial"]["peak_rss_mb"], big["restart"]["peak_rss_mb"],
                                           *(i["peak_rss_mb"] for i in big["incremental"]))))
        inc = next((i for i in big["incremental"] if i["derived"]["changes"] == 100), None)
        if inc is not None:
            out.append(incremental_time(GOAL_SIZE, 100, inc["derived"]["wall_s"]))
    for r in runs:
        for i in r["incremental"]:
            d = i["derived"]
            if d["changes"] in INCREMENTAL_CHANGES:
                out.append(incremental_requests(r["n"], d["changes"], d["requests"]))
    return out
