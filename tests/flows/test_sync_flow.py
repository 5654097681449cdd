"""sync_cycle: results, artifacts, reports, dry run, quarantine + e-mail, deletion approval."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from .flowkit import EMEA_GROUP, HQ, artifacts_of, flow_run_of, free_port, run, source_api

pytestmark = pytest.mark.usefixtures("prefect_harness")


def hq_users(emulator) -> dict[str, dict]:
    return {u["id"]: u for u in emulator.dump(HQ)["users"]}


def test_initial_then_incremental_cycle_with_artifacts_and_reports(make_config, reports_dir):
    from flows.sync import sync_cycle

    cfg = make_config()
    state, result = run(sync_cycle, config=str(cfg), reports_dir=str(reports_dir))

    assert state.is_completed(), state.message
    assert result["ok"] is True and result["kind"] == "initial" and result["job"]["code"] == "Active"
    assert result["counts"]["create"] > 50 and result["counts"]["failure"] == 0
    assert flow_run_of(state).name == "emea-to-hq-initial"

    arts = {a.key: a for a in artifacts_of(state) if a.key}
    assert {"emea-to-hq-counts", "emea-to-hq-summary", "emea-to-hq-progress",
            "emea-to-hq-report-provisioning-log", "emea-to-hq-report-cycles"} <= set(arts)
    assert arts["emea-to-hq-counts"].type == "table"
    assert "create" in str(arts["emea-to-hq-counts"].data)
    summary = arts["emea-to-hq-summary"].data
    assert "Job status" in summary and "What to do" in summary and "Active" in summary
    assert arts["emea-to-hq-progress"].type == "progress" and float(arts["emea-to-hq-progress"].data) == 100
    assert "provisioning-log.csv" in arts["emea-to-hq-report-provisioning-log"].data

    log = Path(result["reports"]["provisioning-log"])
    assert log.exists() and log.parent.parent == reports_dir.resolve() / "emea-to-hq"
    assert log.read_text(encoding="utf-8").startswith("activityDateTime,")
    assert (reports_dir / "emea-to-hq" / "cycles.csv").exists()

    state2, again = run(sync_cycle, config=str(cfg), reports_dir=str(reports_dir))
    assert state2.is_completed() and again["kind"] == "incremental"
    assert again["counts"]["create"] == 0 and again["counts"]["failure"] == 0
    assert flow_run_of(state2).name == "emea-to-hq-incremental"


def test_dry_run_writes_nothing_to_the_target(make_config, reports_dir, world):
    from flows.sync import sync_cycle
    from tenantsync.config import load_config
    from tenantsync.ops.setup import run_setup

    config = make_config()
    # A dry run registers nothing: before setup it refuses, naming it (and writes nothing).
    before = hq_users(world)
    state, refused = run(sync_cycle, config=str(config), dry_run=True, reports_dir=str(reports_dir))
    assert state.is_failed() and "tenantsync setup" in refused["message"] and refused["kind"] == "refused"
    assert run_setup(load_config(config)).anchor.action == "registered"
    before = hq_users(world)
    state, result = run(sync_cycle, config=str(config), dry_run=True, reports_dir=str(reports_dir))
    assert state.is_completed(), state.message
    assert result["dry_run"] is True and result["counts"]["create"] > 50
    assert hq_users(world) == before
    assert flow_run_of(state).name == "emea-to-hq-initial-dry-run"


@pytest.fixture
def smtp_sink():
    from aiosmtpd.controller import Controller

    from blocks import SmtpEmailBlock

    received: list = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            received.append(envelope)
            return "250 OK"

    port = free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    SmtpEmailBlock(host="127.0.0.1", port=port,
                   from_address="tenantsync@test.local").save("tenantsync-smtp", overwrite=True)
    yield received
    SmtpEmailBlock.delete("tenantsync-smtp")
    controller.stop()


def test_wrong_token_quarantines_with_email_then_skips(make_config, reports_dir, smtp_sink, monkeypatch):
    from flows import ProcedureFailed
    from flows.sync import sync_cycle

    cfg = make_config()
    monkeypatch.setenv("HQ_TOKEN", "wrong-token")
    state, result = run(sync_cycle, config=str(cfg), reports_dir=str(reports_dir))
    assert state.is_failed() and state.name == "Quarantined"
    assert isinstance(state.result(raise_on_failure=False), ProcedureFailed)
    assert result["ok"] is False and result["job"]["code"] == "Quarantine"
    assert result["job"]["quarantine"]["reason"] == "EncounteredQuarantineException"
    assert result["error"]["kind"] == "auth"
    summary = next(a for a in artifacts_of(state) if a.key == "emea-to-hq-summary").data
    assert "EncounteredQuarantineException" in summary and "test-connection" in summary
    assert len(smtp_sink) == 1 and smtp_sink[0].rcpt_tos == ["identity-ops@contoso.com"]
    assert b"quarantined" in smtp_sink[0].content

    # the next scheduled run is not due yet: it ends at once, Completed("Skipped"), ok=False
    monkeypatch.setenv("HQ_TOKEN", "hq-token")
    state2, skipped = run(sync_cycle, config=str(cfg), reports_dir=str(reports_dir))
    assert state2.is_completed() and state2.name == "Skipped"
    assert skipped["ok"] is False and skipped["reason"] == "quarantined" and "quarantined until" in skipped["message"]
    assert len(smtp_sink) == 1          # once on entering quarantine, not on every run

    # a restart releases it
    state3, restarted = run(sync_cycle, config=str(cfg), restart=True, reports_dir=str(reports_dir))
    assert state3.is_completed(), state3.message
    assert restarted["job"]["code"] == "Active" and restarted["kind"] == "initial"


def _resume_when_paused(approve: bool, found: list) -> None:
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType
    from prefect.client.schemas.objects import StateType
    from prefect.flow_runs import resume_flow_run

    paused = FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED])))
    deadline = time.monotonic() + 60
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            for fr in client.read_flow_runs(flow_run_filter=paused):
                if fr.state and fr.state.is_paused():
                    found.append(fr.id)
                    resume_flow_run(fr.id, run_input={"approve": approve})
                    return
            time.sleep(0.5)


def _stage_five_deletions(make_config, world, **settings):
    """An initial cycle, then five synced users leave the assigned group (threshold 3)."""
    from flows.sync import sync_cycle
    from tenantsync.store import Store

    cfg = make_config(deletion_threshold=3, **settings)
    state, _ = run(sync_cycle, config=str(cfg), reports_dir=str(cfg.parent / "reports"))
    assert state.is_completed(), state.message
    store = Store.for_url(f"sqlite:///{cfg.parent}/state/emea-to-hq.db")
    linked = sorted(sid for sid, link in store.links("emea-to-hq").items() if link.state == "active")[:5]
    api = source_api(world)
    for sid in linked:
        api.request("DELETE", f"/groups/{EMEA_GROUP}/members/{sid}/$ref")
    api.close()
    return cfg, store, {store.links("emea-to-hq")[s].target_id for s in linked}


def test_deletions_above_threshold_wait_for_approval(make_config, reports_dir, world):
    from flows.sync import sync_cycle

    cfg, store, targets = _stage_five_deletions(make_config, world)

    # 1) nobody answers: after the timeout the five deletions stay staged and the job is quarantined
    state, result = run(sync_cycle, config=str(cfg), approval_timeout_s=2, reports_dir=str(reports_dir))
    assert state.is_failed() and state.name == "Quarantined", state.message
    assert result["staged"] == 5 and result["job"]["quarantine"]["reason"] == "TooManyDeletes"
    assert len(store.staged("emea-to-hq")) == 5
    pending = reports_dir / "emea-to-hq" / "pending-deletions.csv"
    assert pending.exists() and len(pending.read_text(encoding="utf-8").strip().splitlines()) == 6
    keys = {a.key for a in artifacts_of(state)}
    assert {"emea-to-hq-staged-deletions", "emea-to-hq-pending-deletions"} <= keys
    assert targets <= set(hq_users(world))                      # nothing applied

    # 2) an administrator rejects in the UI (here: resume_flow_run from a thread): still staged
    found: list = []
    resumer = threading.Thread(target=_resume_when_paused, args=(False, found), daemon=True)
    resumer.start()
    state, result = run(sync_cycle, config=str(cfg), ignore_quarantine=True, approval_timeout_s=60,
                        reports_dir=str(reports_dir))
    resumer.join(5)
    assert found and state.is_failed() and state.name == "Quarantined", state.message
    assert result["staged"] == 5 and len(store.staged("emea-to-hq")) == 5
    assert targets <= set(hq_users(world))

    # 3) an administrator approves: exactly the staged deletions are applied
    found.clear()
    resumer = threading.Thread(target=_resume_when_paused, args=(True, found), daemon=True)
    resumer.start()
    state, result = run(sync_cycle, config=str(cfg), ignore_quarantine=True, approval_timeout_s=60,
                        reports_dir=str(reports_dir))
    resumer.join(5)
    assert found, "the run never paused"
    assert state.is_completed(), state.message
    assert result["counts"]["delete"] == 5 and result["counts"]["stagedDelete"] == 0
    assert result["job"]["code"] == "Active" and result["staged"] == 0
    assert store.staged("emea-to-hq") == []
    assert not (targets & set(hq_users(world)))          # soft-deleted in HQ
    assert not pending.exists()                           # resolved: the stale list is gone


def test_allow_deletes_applies_the_staged_deletions_of_a_quarantined_job(make_config, reports_dir, world):
    from flows.sync import sync_cycle

    cfg, store, targets = _stage_five_deletions(make_config, world)
    state, result = run(sync_cycle, config=str(cfg), approval_timeout_s=0, reports_dir=str(reports_dir))
    assert state.name == "Quarantined" and result["staged"] == 5
    # the command line's --allow-deletes (ForceDeletes): no pause, no waiting for the backoff
    state, result = run(sync_cycle, config=str(cfg), allow_deletes=True, reports_dir=str(reports_dir))
    assert state.is_completed(), state.message
    assert result["counts"]["delete"] == 5 and result["job"]["code"] == "Active"
    assert store.staged("emea-to-hq") == [] and not (targets & set(hq_users(world)))
