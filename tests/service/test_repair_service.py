"""provisioner: entra: the pending-acceptance UPN repair done through the service's provisionOnDemand,
one request per user, with the engine's reports (pending-acceptance.csv, upn-repair.csv)."""

from __future__ import annotations

import csv
from typing import Any

import pytest

from .test_cycle_service import ZOE, hq_users, svc_config, svc_emulator, svc_harness, svc_world  # noqa: F401

ZOE_PENDING = "28c3823a-0966-4f71-afff-858b141b0bea"          # HQ's hand-invited, never redeemed user
REPAIRED_UPN = "zoe.schmidt_emea.contoso.com#EXT#@contosohq.onmicrosoft.com"


@pytest.fixture
def no_window(monkeypatch):
    import tasks.limits

    monkeypatch.setattr(tasks.limits, "ON_DEMAND_WINDOW_S", 0.0)


@pytest.mark.prefect
@pytest.mark.usefixtures("svc_harness", "no_window")
def test_pending_upn_is_repaired_by_provision_on_demand(svc_config, svc_emulator, tmp_path, monkeypatch):  # noqa: F811
    from flows.repair import repair_upn
    from tenantsync.config import load_config
    from tenantsync.connectors.sync_jobs import SyncJobs
    from tenantsync.store import Store

    config = svc_config()
    asked: list[list[str]] = []
    real = SyncJobs.provision_on_demand

    def spy(self: SyncJobs, sp_id: str, job_id: str, rule_id: str, object_ids: list[str], *a: Any) -> Any:
        asked.append(list(object_ids))
        return real(self, sp_id, job_id, rule_id, object_ids, *a)

    monkeypatch.setattr(SyncJobs, "provision_on_demand", spy)
    assert hq_users(svc_emulator)[ZOE_PENDING]["userPrincipalName"].startswith("zoe.muller_")
    state = repair_upn(config=str(config), reports_dir=str(tmp_path / "reports"), return_state=True)
    assert state.is_completed(), state.message
    assert asked == [[ZOE]]                                   # one provisionOnDemand request per user
    assert hq_users(svc_emulator)[ZOE_PENDING]["userPrincipalName"] == REPAIRED_UPN
    here = tmp_path / "reports" / "emea-to-hq-entra"
    with (here / "upn-repair.csv").open(encoding="utf-8", newline="") as f:
        rows = {r["id"]: r for r in csv.DictReader(f)}
    assert rows[ZOE_PENDING]["outcome"] == "repaired" and rows[ZOE_PENDING]["newUpn"] == REPAIRED_UPN
    assert rows[ZOE_PENDING]["sourceId"] == ZOE and rows[ZOE_PENDING]["matchedBy"] == "mail"
    cfg = load_config(config)
    kinds = [c["kind"] for c in Store.for_url(cfg.state_url).cycles(cfg.name)]
    assert kinds == ["on-demand"]                             # recorded like the engine's on-demand run


@pytest.mark.prefect
@pytest.mark.usefixtures("svc_harness")
def test_repair_before_setup_fails_saying_to_run_setup(svc_config, tmp_path):  # noqa: F811
    from flows.repair import repair_upn

    config = svc_config(setup=False)                          # no sync application, no job yet
    state = repair_upn(config=str(config), reports_dir=str(tmp_path / "reports"), return_state=True)
    assert state.is_failed()
    result = state.result(raise_on_failure=False)
    result = getattr(result, "result", result).as_dict()
    assert result["reason"] == "setup-required"
    assert "tenantsync setup" in result["message"], result["message"]
    assert not (tmp_path / "reports" / "emea-to-hq-entra" / "upn-repair.csv").exists()
