"""bench/million.py's builder: the target and state store it builds "in step" are what a real initial
cycle leaves, and a restart on them writes nothing. Small (300 users), engine inline."""

from __future__ import annotations

import base64
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from bench.generate import make_fixture, sync_config_yaml
from bench.million import (
    GOAL_PREFIX,
    Shape,
    build_store,
    copy_to_latest,
    goals,
    load_cfg,
    merge_latest,
    populate,
    prepare,
    save_watermark,
    shells,
)
from bench.run import CONFIG_NAME, SOURCE_TOKEN, TARGET_TOKEN, EngineRunner
from tenantsync.emulator.server import EmulatorServer

N, SEED = 300, "smoke-million"
VOLATILE = ("id", "createdDateTime", "externalUserStateChangeDateTime")   # drawn or stamped at creation


def _target_users(em: EmulatorServer, fixture: dict[str, Any], anchor: str) -> dict[str, dict[str, Any]]:
    users = em.dump(fixture["tenants"][1]["id"])["users"]
    return {u[anchor]: {k: v for k, v in u.items() if k not in VOLATILE} for u in users}


def _store(path: Path) -> dict[str, Any]:
    with sqlite3.connect(path) as db:
        links = {s: st for s, st in db.execute("SELECT source_id, state FROM ts_links")}
        snaps = {o: json.loads(d) for o, d in db.execute("SELECT object_id, data FROM ts_snapshots")}
        prints = dict(db.execute("SELECT part, digest FROM ts_config_fingerprints").fetchall())
        (mark,) = db.execute("SELECT delta_link FROM ts_watermarks WHERE resource = 'users'").fetchone()
    token = mark.split("$deltatoken=", 1)[1]
    state = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    return {"links": links, "snapshots": snaps, "fingerprint": prints,
            "delta": {k: state.get(k) for k in ("r", "s", "f", "n", "xm", "mm")}}


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A real initial cycle of the same generated source into an empty target."""
    work = tmp_path_factory.mktemp("real")
    fixture = make_fixture(n_users=N, n_groups=0, seed=SEED)
    (work / "bench.yaml").write_text(sync_config_yaml(fixture, name=CONFIG_NAME, scope="all",
                                                      state=f"sqlite:///{work / 'state.db'}"), encoding="utf-8")
    anchor = load_cfg(work / "bench.yaml").settings.anchor_attribute
    with EmulatorServer(fixture) as em:
        env = {"SOURCE_TOKEN": SOURCE_TOKEN, "TARGET_TOKEN": TARGET_TOKEN, "TENANTSYNC_GRAPH_URL": em.url}
        r = EngineRunner(work, env, inline=True).run([{}], label="initial")
        assert r["cycles"][0]["kind"] == "initial" and r["cycles"][0]["counts"]["failure"] == 0
        target = _target_users(em, fixture, anchor)
    return {"target": target, **_store(work / "state.db")}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The builder's tenants (in an in-process emulator) and store, then cycles on them."""
    work = tmp_path_factory.mktemp("built")
    config = prepare(work / "n", SEED)
    fixture = shells(SEED)
    cfg = load_cfg(config)
    with EmulatorServer(fixture) as em:
        assert em.emulator is not None                 # in-process: the directory is reachable
        counts = populate(em.emulator, fixture, Shape.of(cfg, fixture["tenants"][1]["defaultDomain"]), N, SEED)
        store = build_store(config, N, SEED, work / "candidates.txt")
        save_watermark(config, em.url, SOURCE_TOKEN)
        target = _target_users(em, fixture, cfg.settings.anchor_attribute)
        state = _store(work / "n" / "state.db")
        env = {"SOURCE_TOKEN": SOURCE_TOKEN, "TARGET_TOKEN": TARGET_TOKEN, "TENANTSYNC_GRAPH_URL": em.url}
        runner = EngineRunner(work / "n", env, inline=True)
        cycles = {}
        for label, spec in (("incremental", {}), ("restart", {"restart": True})):
            em.reset_stats()
            cycles[label] = (runner.run([spec], label=label)["cycles"][0], em.stats())
    return {"counts": counts, "store": store, "target": target, "cycles": cycles, **state,
            "candidates": (work / "candidates.txt").read_text().split()}


def test_the_built_target_is_what_an_initial_cycle_creates(real: dict[str, Any], built: dict[str, Any]) -> None:
    assert built["counts"]["source_users"] == N
    assert built["counts"]["created"] == len(real["target"]) > 250
    assert built["target"] == real["target"]          # every attribute, keyed by the anchor


def test_the_built_store_is_what_an_initial_cycle_leaves(real: dict[str, Any], built: dict[str, Any]) -> None:
    assert built["links"] == real["links"]
    assert built["snapshots"] == real["snapshots"]
    assert built["fingerprint"] == real["fingerprint"]
    assert built["delta"] == real["delta"]            # the same $select, page size, manager tracking
    assert built["store"]["links"] == len(real["links"]) and set(built["candidates"]) <= set(real["links"])


def test_cycles_on_the_built_state_write_nothing(built: dict[str, Any]) -> None:
    inc, inc_stats = built["cycles"]["incremental"]
    assert inc["kind"] == "incremental"                # the built delta link and fingerprint are accepted
    assert inc_stats["writes"] == 0 and inc_stats["total_requests"] <= 3
    restart, stats = built["cycles"]["restart"]
    assert restart["kind"] == "initial" and stats["writes"] == 0
    assert restart["counts"]["update"] == 0 and restart["counts"]["create"] == 0
    assert restart["counts"]["failure"] == 0 and restart["counts"]["skipped"] >= N - 15


def _run(n: int, restart_s: float, inc_s: float, rss: float) -> dict[str, Any]:
    return {"n": n, "emulator_build": {"source_users": n, "target_users": n},
            "derived": {"restart_wall_s": restart_s, "restart_cpu_s": restart_s / 2, "restart_writes": 0, "restart_requests": 2 * n // 999,
                        "restart_cpu_ms_per_user": 0.2, "restart_peak_rss_mb": rss,
                        "incremental": {"1000": {"wall_s": inc_s, "cpu_s": inc_s / 4, "requests": 60}},
                        "engine_peak_rss_mb": rss, "emulator_rss_mb": 5000.0, "emulator_hwm_mb": 5100.0}}


def test_goals_and_latest(tmp_path: Path) -> None:
    items = goals([_run(100_000, 20.0, 0.5, 300.0), _run(1_000_000, 210.0, 0.6, 1400.0)])
    assert [ok for ok, _ in items] == [False, True, True, None]     # 10.5× is over 10×
    cpu_only = _run(1_000_000, 190.0, 0.6, 1400.0)
    cpu_only["derived"]["restart_cpu_s"] = 110.0                     # wall 9.5×, engine CPU 11×
    assert goals([_run(100_000, 20.0, 0.5, 300.0), cpu_only])[0][0] is False
    assert all(text.startswith(GOAL_PREFIX) for _, text in items)
    assert "(10.5×; engine CPU 10.5×" in items[0][1] and "5,000 MB RSS" in items[3][1]
    failed = goals([_run(100_000, 20.0, 0.5, 300.0), {"n": 1_000_000, "error": "MemoryError: x"}])
    assert failed == [(False, f"{GOAL_PREFIX}: restart in step and incremental cycle of 1,000 changes ≤ 10× "
                              "the 100,000-user figure, peak RSS ≤ 1.5 GB: not measured: MemoryError: x")]
    latest = tmp_path / "latest.json"
    latest.write_text(json.dumps({"goals": [{"met": True, "text": "other"},
                                            {"met": False, "text": f"{GOAL_PREFIX}: old"}]}))
    merge_latest("million", {"runs": []}, items, GOAL_PREFIX, latest)
    data = json.loads(latest.read_text())
    assert data["million"] == {"runs": []} and [g["text"] for g in data["goals"]][0] == "other"
    assert len(data["goals"]) == 1 + len(items)
    # a full run's results replace latest.json but keep the million and latency sections and goals
    data["latency"] = {"summary": {}}
    data["goals"].append({"met": True, "text": "change-to-target latency: 40 s"})
    latest.write_text(json.dumps(data))
    full = tmp_path / "results.json"
    full.write_text(json.dumps({"runs": [1], "goals": [{"met": True, "text": "new"}]}))
    copy_to_latest(full, latest)
    kept = json.loads(latest.read_text())
    assert kept["runs"] == [1] and kept["million"] == {"runs": []} and kept["latency"] == {"summary": {}}
    assert [g["text"] for g in kept["goals"]] == ["new", *(t for _, t in items), "change-to-target latency: 40 s"]
