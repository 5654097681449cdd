"""The demo's own pieces, without Prefect: configuration copies and the Graph changes it makes."""

from __future__ import annotations

from pathlib import Path

import pytest

from app import demo
from tenantsync.config import load_config


def test_configuration_copies_use_the_demo_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TENANTSYNC_GRAPH_URL", "http://127.0.0.1:1/v1.0")
    paths = demo.write_configs(tmp_path / "state")
    assert set(paths) == {"emea-to-hq", "us-to-hq"}
    for name, path in paths.items():
        cfg = load_config(path)
        assert cfg.name == name
        assert cfg.state_url == f"sqlite:///{(tmp_path / 'state' / f'{name}.db').as_posix()}"
        assert cfg.connection(cfg.source.connection).graph_url == "http://127.0.0.1:1/v1.0"


def test_outcome_lines() -> None:
    assert demo.outcome_of({"config": "c", "kind": "initial", "counts": {"create": 3, "failure": 0},
                            "message": "Job status: Active."}) == "initial cycle; create 3"
    assert demo.outcome_of({"config": "c", "ok": True, "message": "c: all blocking checks passed"}) == \
        "all blocking checks passed"
    assert demo.outcome_of({"ok": False}) == "FAILED"


def test_the_source_changes_go_through_graph(monkeypatch: pytest.MonkeyPatch) -> None:
    from tenantsync.emulator import EmulatorServer
    from tenantsync.graph import GraphApi

    for k, v in demo.TOKENS.items():
        monkeypatch.setenv(k, v)
    with EmulatorServer(demo.FIXTURE, port=0) as server:
        monkeypatch.setenv("TENANTSYNC_GRAPH_URL", server.url)
        cfg = load_config(demo.CONFIGS["emea-to-hq"])
        api = GraphApi(cfg.connection("emea"))
        try:
            before = {m["id"] for m in api.group_members(demo.EMEA_ASSIGNED_GROUP)}
            result = demo.change_source_users(api)
            who = result["users"]
            after = {m["id"] for m in api.group_members(demo.EMEA_ASSIGNED_GROUP)}
            assert before - after == {who["unassign"]["id"], who["delete"]["id"]}
            renamed = api.get_json(f"/users/{who['rename']['id']}")
            assert renamed["surname"] == "Nakamura" and renamed["displayName"].endswith(" Nakamura")
            assert api.get_json(f"/users/{who['disable']['id']}?$select=accountEnabled")["accountEnabled"] is False
            assert api.get_json(f"/users/{who['department']['id']}?$select=department")["department"] in (
                "Finance", "Legal")
            deleted = {u["id"] for u in server.dump(demo.EMEA_TENANT).get("deletedItems", [])}
            assert who["delete"]["id"] in deleted
            demo.change_again(api, who["rename"])
            assert api.get_json(f"/users/{who['rename']['id']}?$select=jobTitle")["jobTitle"] == "Identity Architect"
        finally:
            api.close()


# -- the second provisioner (app/demo_service.py) ---------------------------------------------

def test_the_service_configuration_runs_on_its_own_emulator(tmp_path: Path) -> None:
    from app import demo_service

    path = demo_service.write_config(tmp_path / "state", "http://127.0.0.1:2/v1.0")
    cfg = load_config(path)
    assert cfg.name == "emea-to-hq-entra" and cfg.provisioner == "entra"
    assert cfg.state_url == f"sqlite:///{(tmp_path / 'state' / 'emea-to-hq-entra.db').as_posix()}"
    assert {cfg.connection(c).graph_url for c in ("emea", "hq")} == {"http://127.0.0.1:2/v1.0"}


def _hq(users: list[dict]) -> dict:
    return {"users": users}


def test_the_side_by_side_names_each_difference() -> None:
    from app import demo_service

    emea = demo_service.EMEA_TENANT
    e_anchor, s_anchor = f"extension_{'a' * 32}_tenantsyncSourceAnchor", f"extension_{'b' * 32}_tenantsyncSourceAnchor"
    admin = {"id": "t0", "displayName": "Admin"}                       # not provisioned: left out
    engine = _hq([admin, {"id": "t1", "displayName": "Zoë", "userType": "Member", e_anchor: f"{emea}/s1"},
                  {"id": "t2", "displayName": "Ana", "userType": "Member", e_anchor: f"{emea}/s2"}])
    service = _hq([admin, {"id": "u1", "displayName": "Zoë", "userType": "Member", s_anchor: f"{emea}/s1"},
                   {"id": "u2", "displayName": "Ana", "userType": "Guest", s_anchor: f"{emea}/s2"},
                   {"id": "u3", "displayName": "Bo", "userType": "Member", s_anchor: f"{emea}/s3"}])
    diff = demo_service.differences(engine, service, emea)
    assert diff["both"] == 2 and diff["onlyService"] == 1 and diff["onlyEngine"] == 0
    assert diff["properties"] == {"userType": 1}
    assert diff["anchors"] == {"engine": e_anchor, "service": s_anchor}
    said = demo_service.side_by_side({"created": 2, "writes": 4, "seconds": 1.0},
                                     {"created": 3, "writes": 6, "seconds": 2.0}, diff)
    assert said["ok"] is False          # a user only one of them provisioned
    assert said["summary"].startswith("users created: engine 2, service 3; writes: 4 / 6; wall time: 1.0 s / 2.0 s; ")
    assert "mapped values differ: userType (1 users); only the engine's: 0, only the service's: 1" in said["summary"]
    same = demo_service.differences(engine, engine, emea)
    assert "2 users provisioned by both, the same mapped values" in demo_service.describe_differences(same)


@pytest.mark.prefect
@pytest.mark.timeout(300)
def test_the_demo_runs_the_service_beside_the_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo's service steps after the engine's EMEA → HQ initial cycle, as `make demo` prints them."""
    from prefect.testing.utilities import prefect_test_harness
    from rich.console import Console

    from app import demo_service, runner
    from tenantsync.emulator import EmulatorServer

    for k, v in demo.TOKENS.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("TENANTSYNC_SERVICE_POLL_S", "0.3")
    console = Console(record=True, width=200)
    run = demo.Demo(console, tmp_path / "state", tmp_path / "reports")

    def flow(fn, /, **params):
        return lambda: runner.call(fn, **params).result

    with prefect_test_harness(server_startup_timeout=120), EmulatorServer(demo.FIXTURE, port=0) as server:
        from flows.sync import sync_cycle

        monkeypatch.setenv("TENANTSYNC_GRAPH_URL", server.url)
        run.configs = demo.write_configs(run.state_dir)
        seen = demo_service.measure(run, server)
        engine = seen(run.step("Initial cycle EMEA → HQ", flow(sync_cycle, config=str(run.configs["emea-to-hq"]),
                                                               reports_dir=str(run.reports_dir))))
        demo_service.run_service(run, engine, flow)
    out = console.export_text()
    assert [(s.title, s.ok) for s in run.steps] == [
        ("Initial cycle EMEA → HQ", True),
        ("Setup EMEA → HQ for Microsoft's service (sync application, job, secrets, schema)", True),
        ("Initial cycle EMEA → HQ by Microsoft's service (started, followed to its end)", True),
        ("Change a job title through Graph (the service's tenants)", True),
        (run.steps[4].title, True),
        ("Side by side: the engine and Microsoft's service (EMEA → HQ initial cycle)", True)], out
    assert run.steps[4].title.endswith("on demand by Microsoft's service")
    engine_cycle, service_cycle = run.steps[0].result, run.steps[2].result
    assert engine_cycle["counts"]["create"] == service_cycle["counts"]["create"] > 100
    assert "initial cycle; create 106" in run.steps[2].outcome and "The service's task execution" in out
    assert "Success (Update; jobTitle: " in run.steps[4].outcome and "→ Identity Architect" in run.steps[4].outcome
    compared = run.steps[5].result
    assert compared["engine"]["created"] == compared["service"]["created"] == engine_cycle["counts"]["create"]
    assert compared["service"]["writes"] >= compared["service"]["created"] > 0
    assert compared["differences"]["properties"] == {} and compared["differences"]["onlyService"] == 0
    assert "users created" in out and "Differences: " in out and "the same mapped values" in out
    assert (tmp_path / "reports" / "emea-to-hq-entra" / "cycles.csv").exists()
