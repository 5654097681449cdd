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
