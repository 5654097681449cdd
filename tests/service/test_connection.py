"""Test connection with provisioner entra: validateCredentials, then the same policy checks."""

from __future__ import annotations

from tenantsync.ops.connection_test import test_connection as run_test_connection
from tenantsync.ops.setup import run_setup

from .conftest import EMEA, HQ


def checks(report) -> dict[str, tuple[str, str]]:
    return {c.name: (c.status, c.code) for c in report.checks}


def test_configured_service_passes_with_its_saved_credentials(make_config, world):
    cfg = make_config()
    run_setup(cfg)
    report = run_test_connection(cfg)
    assert report.ok, report.render_text()
    found = checks(report)
    assert found["Provisioning service credentials"] == ("passed", "")
    assert "saved credentials" in report.check("Provisioning service credentials").message
    # the engine's policy checks run too; its anchor extension does not concern the service
    assert {"Inbound identity synchronization", "Automatic redemption", "Premium licences"} <= set(found)
    assert "Anchor extension" not in found
    assert report.as_dict()["checks"] and "notChecked" in report.as_dict()


def test_before_setup_says_to_run_setup(make_config, world):
    report = run_test_connection(make_config())
    assert not report.ok
    check = report.check("Provisioning service credentials")
    assert (check.status, check.code, check.blocking) == ("failed", "NotConfigured", True)
    assert "tenantsync setup" in check.recommended_action


def test_target_that_refuses_sync_fails_validation_and_the_policy_check(make_config, world):
    cfg = make_config()
    run_setup(cfg)
    hq = world.emulator.directory.tenants[HQ]          # the target's administrator withdraws the sync
    hq.identity_sync[EMEA] = {"userSyncInbound": {"isSyncAllowed": False}}
    report = run_test_connection(cfg)
    assert not report.ok
    found = checks(report)
    assert found["Inbound identity synchronization"][0] == "failed"
    check = report.check("Provisioning service credentials")
    assert check.status == "failed" and check.blocking
    assert "does not allow user synchronization" in check.message
    assert "inbound" in check.recommended_action


def test_missing_permission_is_named(make_config, world):
    run_setup(make_config())
    report = run_test_connection(make_config(source_token="EMEA_LIMITED"))
    assert not report.ok
    check = report.check("Provisioning service credentials")
    assert check.status == "failed" and "Synchronization.ReadWrite.All" in check.recommended_action
