"""Test connection's external user leave settings check (Configure cross-tenant synchronization,
Step 14): read from the target, said in words, never blocking."""

from __future__ import annotations

from tenantsync import permissions
from tenantsync.ops.connection_test import test_connection

from .opsworld import ADMIN_TOKENS, token, world

NAME = "External user leave settings"


def test_leaving_allowed_is_a_warning_saying_what_follows_for_synced_users(ops):
    report = test_connection(ops.cfg)                     # the documented default: users may leave
    check = report.check(NAME)
    assert (check.status, check.code, check.blocking) == ("warning", "ExternalUsersCanLeave", False)
    assert "allowExternalIdentitiesToLeave = true" in check.message
    assert "provisioned again by the next cycle" in check.message
    assert "External user leave settings' to No" in check.recommended_action
    assert report.ok and report.exit_code == 0            # a warning never fails the test
    assert report.checks[-1].name == NAME


def test_leaving_not_allowed_passes_and_says_synced_users_stay(ops):
    ops.load(world(target={"externalIdentitiesPolicy": {"allowExternalIdentitiesToLeave": False}}))
    check = test_connection(ops.cfg).check(NAME)
    assert check.status == "passed"
    assert "cannot leave the target tenant themselves" in check.message


def test_a_token_without_policy_read_gets_a_warning_naming_the_permission(ops):
    lacking = token("target", [p for p in permissions.needed("target") if p != "Policy.Read.All"])
    ops.load(world(target={"tokens": [lacking, ADMIN_TOKENS["target"]]}))
    ops.mp.setenv("OPS_TGT_TOKEN", lacking)
    check = test_connection(ops.cfg).check(NAME)
    assert (check.status, check.code, check.blocking) == ("warning", "Authorization_RequestDenied", False)
    assert "needs the application permission Policy.Read.All" in check.recommended_action
    assert "externalidentitiespolicy-get" in check.recommended_action
