"""Smoke test of the faults429 benchmark scenario (bench/faults.py) at N=200: both runs complete
the same users with no failure, the injected 429s are retried as bare refusals (not the budget's),
and the goal line renders. Never timings: the ratio is measured by the benchmark."""

from __future__ import annotations

from bench import faults
from bench.run import render_goals


def test_random_429s_and_503s_runs_complete_and_compare(tmp_path):
    lines: list[str] = []
    result = faults.compare(200, workdir=tmp_path, seed="smoke", groups=3, inline=True,
                            log=lines.append)
    r429, r503 = result["runs"]["429"], result["runs"]["503"]
    assert r429["created"] == r503["created"] > 150
    assert r429["failures"] == r503["failures"] == 0
    assert r429["by_status"].get("429", 0) > 0 and r503["by_status"].get("429", 0) == 0
    limiter = r429["limiter"]
    assert limiter["random_refusals"] > 0 and limiter["cuts"] == 0
    assert result["ratio"] is not None
    text = render_goals([result["goal"]])
    assert text[0] in "✔✘" and "N=200: initial cycle with 5% random 429s" in text
    assert f"{r429['wall_s']:.1f} s vs {r503['wall_s']:.1f} s = {result['ratio']:.2f}×" in text
