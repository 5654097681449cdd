"""Run names: `<config>-<kind>`, given once as the run starts and the same at its end (flows/run_names.py)."""

from __future__ import annotations

import pytest

from .flowkit import flow_run_of, logs_of, run

pytestmark = pytest.mark.usefixtures("prefect_harness")


def _logs(state) -> list[str]:
    return [log.message for log in logs_of(state)]


@pytest.fixture
def names_when_begun(monkeypatch) -> list[str]:
    """The run's name as the server knows it when the cycle has begun (where runs used to be renamed)."""
    from prefect import get_client, runtime

    import flows.sync

    seen: list[str] = []
    said = flows.sync.said_kind

    def spy(kind: str, notes: list[str]) -> None:
        with get_client(sync_client=True) as client:
            seen.append(client.read_flow_run(runtime.flow_run.id).name)
        said(kind, notes)

    monkeypatch.setattr(flows.sync, "said_kind", spy)
    return seen


def test_a_sync_run_is_named_after_its_kind_from_start_to_end(make_config, reports_dir, world, names_when_begun):
    from flows.sync import sync_cycle

    cfg = str(make_config())
    expected = []
    for params, name, kind in (({"restart": True}, "emea-to-hq-initial", "initial"),         # not ...-sync-restart
                               ({}, "emea-to-hq-incremental", "incremental"),
                               ({"dry_run": True}, "emea-to-hq-incremental-dry-run", "incremental")):
        state, result = run(sync_cycle, config=cfg, reports_dir=str(reports_dir), **params)
        assert state.is_completed(), state.message
        assert result["kind"] == kind and flow_run_of(state).name == name
        expected.append(name)
    assert names_when_begun == expected           # the name the run started with is the one it ends with


def test_an_incremental_run_that_becomes_initial_keeps_its_name_and_says_why(make_config, reports_dir, world,
                                                                            names_when_begun):
    from flows.sync import sync_cycle

    cfg = str(make_config())
    state, _ = run(sync_cycle, config=cfg, reports_dir=str(reports_dir))
    assert state.is_completed(), state.message
    world.expire_delta_tokens()                   # Graph answers the stored delta link 410/syncStateNotFound

    state, result = run(sync_cycle, config=cfg, reports_dir=str(reports_dir))
    assert state.is_completed(), state.message
    assert result["kind"] == "initial"
    assert flow_run_of(state).name == names_when_begun[-1] == "emea-to-hq-incremental"
    said = [m for m in _logs(state) if "keeps its name" in m]
    assert said and "initial cycle" in said[0] and "delta link expired" in said[0]


def test_run_names_use_the_configurations_name(make_config, tmp_path):
    from flows._common import config_label

    assert config_label(str(make_config("user-source"))) == "emea-user-source"     # not the file's stem
    assert config_label("emea-to-hq") == "emea-to-hq"                            # a block's name
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: [", encoding="utf-8")
    assert config_label(str(broken)) == "broken"
