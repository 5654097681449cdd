"""The benchmark's goals (bench/goals.py): met or not from given figures, and what a run lacks."""

from __future__ import annotations

from typing import Any

from bench import goals as g
from bench.run import goals as run_goals
from bench.run import render_goals


def test_utilisation_needs_95_percent_and_under_a_thousandth_of_429s():
    assert g.utilisation(10_000, 0.953, 0.0009)[0] is True
    assert g.utilisation(10_000, 0.949, 0.0)[0] is False
    met, text = g.utilisation(100_000, 0.99, 0.0011)       # the 0.11 % 429s at 10,000
    assert met is False and text.endswith("99.0 %, 0.11 % 429s")
    met, text = g.utilisation(300, None, 0.0, binding=False, writes=580)
    assert met is None and "the 580 writes fit in the write bucket" in text


def test_restart_cpu_goal_is_per_user_and_wants_no_writes():
    assert g.restart_cpu(100_000, 0.150) == (True, "N=100,000: restart in step, engine CPU ≤ 0.15 ms per user "
                                                   "and 0 writes: 0.150 ms, 0 writes")
    assert g.restart_cpu(100_000, 0.156)[0] is False
    assert g.restart_cpu(100_000, 0.10, writes=3)[0] is False


def test_peak_rss_and_incremental_time():
    assert g.peak_rss(100_000, 290.0) == (True, "N=100,000: peak RSS of the engine process ≤ 300 MB (VmHWM): 290 MB")
    assert g.peak_rss(100_000, 383.0)[0] is False
    assert g.incremental_time(100_000, 100, 0.98)[0] is True
    assert g.incremental_time(100_000, 100, 1.2) == (False, "N=100,000: incremental cycle of 100 changes ≤ 1 s: 1.20 s")


def test_incremental_requests_are_10_plus_one_per_20_changes():
    assert g.incremental_requests(100_000, 100, 15) == (
        True, "N=100,000: incremental cycle of 100 changes ≤ 10 + changes/20 = 15 requests: 15")
    assert g.incremental_requests(100_000, 100, 16)[0] is False
    assert g.incremental_requests(10_000, 1000, 60)[0] is True
    met, text = g.incremental_requests(10_000, 1000, 109)
    assert met is False and text.endswith("= 60 requests: 109")


def _run(n: int, *, util: float, share: float, cpu: float, rss: float,
         inc: dict[int, tuple[int, float]]) -> dict[str, Any]:
    """The parts of one bench/run.py size result the goals read."""
    return {"n": n,
            "initial": {"peak_rss_mb": 150.0,
                        "derived": {"utilisation_write_phase": util, "share_429": share,
                                    "quota_binding": True, "writes": 2 * n}},
            "restart": {"peak_rss_mb": rss, "derived": {"cpu_ms_per_user": cpu, "writes": 0}},
            "incremental": [{"peak_rss_mb": 120.0,
                             "derived": {"changes": k, "requests": req, "wall_s": wall}}
                            for k, (req, wall) in inc.items()]}


def test_a_full_run_lists_every_goal_with_its_figure():
    runs = [_run(10_000, util=0.993, share=0.0011, cpu=0.09, rss=144.0, inc={0: (2, 0.05), 100: (9, 0.1),
                                                                              1000: (58, 0.5)}),
            _run(100_000, util=0.967, share=0.0004, cpu=0.156, rss=290.0, inc={0: (2, 0.09), 100: (9, 0.2),
                                                                                1000: (109, 0.98)})]
    lines = render_goals(run_goals(runs)).splitlines()
    assert lines[:7] == [
        "✘ N=10,000: initial cycle, write-quota utilisation ≥ 95 % with < 0.1 % 429s: 99.3 %, 0.11 % 429s",
        "✔ N=100,000: initial cycle, write-quota utilisation ≥ 95 % with < 0.1 % 429s: 96.7 %, 0.04 % 429s",
        "✘ N=100,000: restart in step, engine CPU ≤ 0.15 ms per user and 0 writes: 0.156 ms, 0 writes",
        "✔ N=100,000: peak RSS of the engine process ≤ 300 MB (VmHWM): 290 MB",
        "✔ N=100,000: incremental cycle of 100 changes ≤ 1 s: 0.20 s",
        "✔ N=10,000: incremental cycle of 100 changes ≤ 10 + changes/20 = 15 requests: 9",
        "✔ N=10,000: incremental cycle of 1,000 changes ≤ 10 + changes/20 = 60 requests: 58",
    ]
    assert lines[8] == "✘ N=100,000: incremental cycle of 1,000 changes ≤ 10 + changes/20 = 60 requests: 109"
    # the baseline's ratio: this run had no baseline
    assert lines[9].startswith("· restart of 100,000 users in step: ≥ 10× less CPU per user than the SDK "
                               "baseline") and "baseline not run" in lines[9]


def test_sizes_not_run_are_listed_as_not_run():
    items = g.of_runs([_run(1_000, util=0.5, share=0.0, cpu=0.2, rss=100.0, inc={100: (12, 0.1)})])
    unjudged = [text for met, text in items if met is None]
    assert any(t.startswith("N=10,000: initial cycle") and "not run" in t for t in unjudged)
    assert any(t.startswith("N=100,000: initial cycle") and "not run" in t for t in unjudged)
    assert any(t.startswith("N=100,000: restart in step") and "not run" in t for t in unjudged)
    assert (True, "N=1,000: incremental cycle of 100 changes ≤ 10 + changes/20 = 15 requests: 12") in items


def test_the_readme_block_shows_the_million_and_latency_runs_kept_in_the_results():
    from bench.readme import render
    results = {"machine": {"nproc": 2, "cpu": "test cpu", "mem_gb": 23.5, "python": "3.11", "loadavg_start": [7.2]},
               "command": "python -m bench.run", "when": "20261130-080000", "commit": "abc1234", "total_s": 600.0,
               "table": "| scenario / figure | N = 10,000 |", "goals": [{"met": False, "text": "a goal: 1.0"}],
               "million": {"command": "python -m bench.million --seed 1", "when": "20261130-070415",
                           "commit": "def5678", "total_s": 906.0, "machine": {"loadavg_start": [8.7]},
                           "table": "| in step, no initial cycle | N = 1,000,000 |"},
               "latency": {"command": "python -m bench.latency", "when": "20261129-120000", "commit": "0123abc",
                           "machine": {"loadavg_start": [4.8]},
                           "summary": {"changes": 20, "landed": 20, "p50_s": 28.07, "p95_s": 59.64, "max_s": 63.0},
                           "runs_summary": {"runs": 7, "late_p50_s": 14.75, "run_p50_s": 6.58}}}
    block = render(results)
    assert "at commit `abc1234`" in block and "load average 7.2 at the start" in block and "2 cores" in block
    assert "| in step, no initial cycle | N = 1,000,000 |" in block
    assert "on 2026-11-30 at commit `def5678`, 15.1 minutes, load average 8.7" in block
    assert "20 of 20 changes landed, p50 28.1 s, p95 59.6 s" in block and "commit `0123abc`" in block
    assert block.rstrip().endswith("- ✘ a goal: 1.0")
