"""test_connection, repair_upn, export_reports, user_source_sync; configurations from blocks; retries."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .flowkit import HQ, ZOE, artifacts_of, run

pytestmark = pytest.mark.usefixtures("prefect_harness")


@pytest.fixture
def short_window(monkeypatch):
    import tasks.limits

    monkeypatch.setattr(tasks.limits, "ON_DEMAND_WINDOW_S", 0.0)


def test_test_connection_passes_on_the_samples(make_config):
    from flows.connection import test_connection

    state, result = run(test_connection, config=str(make_config()))
    assert state.is_completed(), state.message
    assert result["ok"] is True and result["checks"]
    table = next(a for a in artifacts_of(state) if a.key == "emea-to-hq-test-connection")
    assert table.type == "table" and "Source credentials" in str(table.data)


def test_test_connection_fails_on_a_wrong_source_token(make_config, monkeypatch):
    from flows import ProcedureFailed
    from flows.connection import test_connection

    monkeypatch.setenv("EMEA_TOKEN", "not-the-token")
    state, result = run(test_connection, config=str(make_config()))
    assert state.is_failed()
    assert isinstance(state.result(raise_on_failure=False), ProcedureFailed)
    failed = [c for c in result["checks"] if c["status"] == "failed"]
    assert failed and failed[0]["name"] == "Source credentials" and failed[0]["blocking"]
    with pytest.raises(ProcedureFailed, match="Source credentials"):
        test_connection(config=str(make_config()))


def test_repair_upn_repairs_the_pending_user(make_config, reports_dir, short_window, world):
    from flows.repair import repair_upn

    state, result = run(repair_upn, config=str(make_config()), reports_dir=str(reports_dir))
    assert state.is_completed(), state.message
    assert result["pending"] >= 2 and result["repaired"] >= 1
    zoe = next(r for r in result["rows"] if r["sourceId"] == ZOE)
    assert zoe["outcome"] == "repaired" and zoe["newUpn"].startswith("zoe.schmidt_emea.contoso.com#EXT#")
    assert Path(result["reports"]["pending-acceptance"]).read_text(encoding="utf-8").startswith(
        "DisplayName,UserPrincipalName,id,mail,createdDateTime")
    assert Path(result["reports"]["upn-repair"]).exists()
    keys = {a.key for a in artifacts_of(state)}
    assert {"emea-to-hq-upn-repair", "emea-to-hq-upn-repair-table"} <= keys


def test_export_reports_writes_every_cycle(make_config, reports_dir, tmp_path):
    from flows.reports import export_reports
    from flows.sync import sync_cycle

    cfg = str(make_config())
    run(sync_cycle, config=cfg, reports_dir=str(tmp_path / "first"))
    state, result = run(export_reports, config=cfg, out_dir=str(reports_dir))
    assert state.is_completed(), state.message
    assert result["cycle_count"] == 1
    assert (reports_dir / "emea-to-hq" / "summary.html").exists()
    assert any(k.endswith("/provisioning-log") for k in result["files"])
    links = [a for a in artifacts_of(state) if a.key == "emea-to-hq-report-summary"]
    assert links and "summary.html" in links[0].data


def test_configuration_and_connection_from_blocks(make_config, world):
    from blocks import GraphConnectionBlock, SyncConfigBlock
    from flows._common import resolve_config
    from flows.connection import test_connection
    from tenantsync.errors import ConfigError

    text = make_config().read_text(encoding="utf-8")
    text = re.sub(r"(?m)^  hq:\n(    .*\n)+", "", text)          # the target connection lives in a block
    assert "  hq:" not in text
    SyncConfigBlock(yaml=text).save("emea-from-block", overwrite=True)
    with pytest.raises(ConfigError, match="GraphConnectionBlock"):
        resolve_config("emea-from-block")

    from tenantsync.emulator.tokens import plain_app_id

    # client_id: the target app, on whose application setup registers the anchor extension
    GraphConnectionBlock(tenant_id=HQ, graph_url=world.url, auth_kind="static_token",
                         client_id=plain_app_id("hq-token"), secret="hq-token").save("hq", overwrite=True)
    try:
        cfg = resolve_config("emea-from-block")
        hq = cfg.connection("hq")
        assert hq.tenant_id == HQ and hq.auth.secret.get_secret_value() == "hq-token"
        assert "hq-token" not in repr(hq)
        state, result = run(test_connection, config="emea-from-block")
        assert state.is_completed() and result["ok"] is True
    finally:
        GraphConnectionBlock.delete("hq")
        SyncConfigBlock.delete("emea-from-block")
    with pytest.raises(ConfigError, match="no configuration file"):
        resolve_config("no-such-block")


def test_user_source_sync(make_config, reports_dir):
    pytest.importorskip("tenantsync.usersource")
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    from flows.usersource import user_source_sync
    from tenantsync.results import ProcedureResult

    from .flowkit import flow_run_of

    cfg = str(make_config("user-source"))
    state = user_source_sync(return_state=True, config=cfg, reports_dir=str(reports_dir))
    assert state.is_completed(), state.message
    result = state.result()
    assert isinstance(result, ProcedureResult)
    assert (result.procedure, result.config, result.status, result.kind) == (
        "user-source", "emea-user-source", "success", "initial")
    assert result.counts["users_created"] > 100 and result.details["users_read"] > 100
    assert flow_run_of(state).name == "emea-user-source"          # the configuration's name, not said twice
    with get_client(sync_client=True) as client:                   # the stage tasks of the sync's loop
        tasks = {t.name for t in client.read_task_runs(flow_run_filter=FlowRunFilter(
            id=FlowRunFilterId(any_=[state.state_details.flow_run_id])))}
    assert {"begin-cycle", "plan-page-1", "apply-batch-1", "decide", "finish-cycle"} <= tasks
    keys = {a.key for a in artifacts_of(state)}
    assert {"emea-user-source-counts", "emea-user-source-summary",
            "emea-user-source-upn-suffix-readiness"} <= keys
    upn = result.details["upn_suffixes"]
    states = {r["suffix"] if "suffix" in r else next(iter(r.values())): r for r in upn["rows"]}
    assert any("emea.contoso.com" in str(k) for k in states)
    assert all(Path(p).exists() for p in upn["files"].values())
    from flows.reports import export_reports
    state, exported = run(export_reports, config=cfg, out_dir=str(reports_dir))
    assert state.is_completed(), state.message
    assert exported["files"] and all(Path(p).exists() for p in exported["files"].values())
    again = user_source_sync(return_state=True, config=cfg)
    result = again.result()
    assert again.is_completed() and result.kind == "incremental" and result.counts["users_created"] == 0


def test_only_transient_graph_errors_are_retried():
    from prefect.states import Completed, Failed

    from tasks.retry import transient_graph_error
    from tasks.stages import apply_batch, plan_page
    from tenantsync.errors import ErrorKind, GraphError

    def failed(exc):
        return Failed(data=exc)

    retried = {k: transient_graph_error(None, None, failed(GraphError(s, "c", "m", kind=k)))
               for k, s in ((ErrorKind.TRANSIENT, 503), (ErrorKind.AUTH, 401), (ErrorKind.BAD_REQUEST, 400),
                            (ErrorKind.FORBIDDEN, 403), (ErrorKind.NOT_FOUND, 404))}
    assert retried == {ErrorKind.TRANSIENT: True, ErrorKind.AUTH: False, ErrorKind.BAD_REQUEST: False,
                       ErrorKind.FORBIDDEN: False, ErrorKind.NOT_FOUND: False}
    assert transient_graph_error(None, None, failed(ValueError("x"))) is False
    assert transient_graph_error(None, None, Completed()) is False
    for t in (plan_page, apply_batch):
        assert t.retries == 2 and t.retry_condition_fn is transient_graph_error and t.retry_jitter_factor
