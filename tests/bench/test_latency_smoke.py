"""bench/latency.py's harness measures a change landing in the target: an engine loop every
0.5 s (no Prefect) on the sample tenants, three changes; and its statistics and goals."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bench.latency import (
    GOAL_PREFIX,
    SAMPLE_FIXTURE,
    SAMPLE_TOKENS,
    Change,
    EngineLoop,
    Probe,
    goals,
    linked_pairs,
    measure,
    nearest_rank,
    plan_changes,
    summarize,
    write_config,
)
from tenantsync.emulator.server import EmulatorServer


@pytest.fixture
def sample_env(monkeypatch: pytest.MonkeyPatch):
    for name, value in SAMPLE_TOKENS.items():
        monkeypatch.setenv(name, value)
    with EmulatorServer(SAMPLE_FIXTURE) as em:
        monkeypatch.setenv("TENANTSYNC_GRAPH_URL", em.url)
        yield em


def test_a_change_is_measured_landing_in_the_target(sample_env: EmulatorServer, tmp_path: Path) -> None:
    config = write_config(tmp_path, interval_minutes=1)
    assert "interval_minutes: 1" in config.read_text() and str(tmp_path / "state.db") in config.read_text()
    loop = EngineLoop(config, every_s=0.5)
    assert loop.cycle()["kind"] == "initial"          # the initial cycle, as the harness runs it first
    pairs = linked_pairs(config)
    plan = plan_changes(pairs, 3, span_s=1.0, seed="smoke")
    assert len({c.source_id for c in plan}) == 3 and [c.planned_s for c in plan] == sorted(c.planned_s for c in plan)
    with loop, Probe(sample_env.url, poll_s=0.1) as probe:
        measure(probe, plan, drain_s=15.0, log=lambda _: None)
    summary = summarize(plan)
    assert summary["landed"] == 3 and summary["missing"] == 0, summary
    assert all(0 < c.latency_s < 10 for c in plan if c.latency_s is not None)
    assert {c["kind"] for c in loop.cycles} == {"incremental"}
    assert sum(c["counts"]["update"] for c in loop.cycles) == 3
    assert os.path.exists(tmp_path / "state.db")


def test_statistics_and_goals() -> None:
    values = [float(v) for v in range(1, 21)]
    assert nearest_rank(values, 0.5) == 10.0 and nearest_rank(values, 0.95) == 19.0
    assert nearest_rank([], 0.5) is None
    changes = [Change(k, f"s{k}", f"t{k}", "v", 0.0, made_at=100.0, landed_at=100.0 + v)
               for k, v in enumerate(values)] + [Change(20, "s", "t", "v", 0.0, made_at=1.0)]
    s = summarize(changes)
    assert (s["landed"], s["missing"], s["p50_s"], s["p95_s"], s["max_s"]) == (20, 1, 10.0, 19.0, 20.0)
    ((ok, text),) = goals(s)
    assert ok is False and "1 never landed" in text and text.startswith(GOAL_PREFIX)
    s["missing"] = 0
    assert goals(s)[0][0] is True
    assert goals({**s, "p95_s": 91.0})[0][0] is False
    assert goals(None) == [(None, f"{GOAL_PREFIX} (interval_minutes: 1, Prefect server and worker): p50 ≤ 60 s, "
                                  "p95 ≤ 90 s: not run (python -m bench.latency)")]
    assert goals(None, "TimeoutError: x")[0][0] is False
