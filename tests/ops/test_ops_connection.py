"""Test connection on the emulator: each failure with its code, in the order an administrator fixes them."""

from __future__ import annotations

import copy

from tenantsync.errors import ErrorKind, GraphError
from tenantsync.ops.connection_test import (
    B2B_POLICY_CODE,
    B2B_POLICY_DETAILS,
    CHECK_NAMES,
    FORBIDDEN_CODE,
    PREMIUM_CODE,
    SYNC_NOT_ALLOWED,
    has_premium,
    suffix_states,
    test_connection,
)

from .opsworld import PREMIUM_PLAN, SRC, TGT, partner, user, world


def names(report):
    return [c.name for c in report.checks]


def failed(report):
    return [(c.name, c.code) for c in report.checks if c.status == "failed"]


def test_healthy_configuration_passes_every_check_in_order(ops):
    report = test_connection(ops.cfg)
    assert names(report) == list(CHECK_NAMES)
    # a domain is verified in one tenant only: the source's suffix is "Not added" in the target;
    # external users may leave the target (the documented default): a warning, not a failure
    assert [c.status for c in report.checks] == ["passed"] * 9 + ["warning"] * 2, report.render_text()
    assert report.ok and report.exit_code == 0


def test_upn_suffix_verified_in_the_target_passes(ops):
    ops.load(world(target={"domains": [{"id": "emea.ops.example", "isVerified": True}],
                           "externalIdentitiesPolicy": {"allowExternalIdentitiesToLeave": False}}))
    report = test_connection(ops.cfg)
    assert [c.status for c in report.checks] == ["passed"] * len(CHECK_NAMES), report.render_text()


def test_test_connection_writes_nothing_and_never_quarantines(ops):
    ops.mp.setenv("OPS_TGT_TOKEN", "wrong-token")
    before = ops.emulator.stats()
    report = test_connection(ops.cfg)
    assert not report.ok
    assert ops.store.job(ops.cfg.name).code == "NotRun"
    assert ops.store.cycles(ops.cfg.name) == []
    after = ops.emulator.stats()
    assert after.get("writes", 0) == before.get("writes", 0)


def test_wrong_target_token_fails_with_the_graph_error(ops):
    ops.mp.setenv("OPS_TGT_TOKEN", "wrong-token")
    report = test_connection(ops.cfg)
    assert failed(report) == [("Target credentials", "InvalidAuthenticationToken")]
    check = report.check("Target credentials")
    assert check.blocking and "target" in check.recommended_action
    assert "wrong-token" not in report.render_text()
    # what depends on the credentials is not checked, and says so
    assert report.not_checked == list(CHECK_NAMES[4:])
    assert "not checked" in report.render_text() and report.exit_code == 1


def test_wrong_source_token_is_reported_first(ops):
    ops.mp.setenv("OPS_SRC_TOKEN", "wrong-token")
    report = test_connection(ops.cfg)
    # an opaque token: its permissions cannot be read (a warning), then Graph refuses it
    assert [(c.name, c.status) for c in report.checks[:4]] == [
        ("Source permissions", "warning"), ("Target permissions", "passed"),
        ("Source credentials", "failed"), ("Target credentials", "passed")]
    assert report.first_failure.code == "InvalidAuthenticationToken"
    assert "could not be read" in report.check("Source permissions").message


class Denied:
    """A Graph client whose credential is valid but lacks consent (403)."""

    def get_json(self, path, params=None):
        raise GraphError(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.",
                         kind=ErrorKind.FORBIDDEN)


def test_missing_permission_reports_authorization_request_denied(ops):
    report = test_connection(ops.cfg, source_api=Denied())
    check = report.check("Source credentials")
    assert (check.status, check.code) == ("failed", "Authorization_RequestDenied")
    assert check.message == "Insufficient privileges to complete the operation."
    assert "permission" in check.recommended_action and not report.ok


def test_inbound_sync_not_allowed_for_the_source(ops):
    tgt = ops.api("target")
    tgt.request("PATCH", f"/policies/crossTenantAccessPolicy/partners/{SRC}/identitySynchronization",
                {"userSyncInbound": {"isSyncAllowed": False}})
    report = test_connection(ops.cfg)
    assert failed(report) == [("Inbound identity synchronization", SYNC_NOT_ALLOWED)]
    assert "isSyncAllowed" in report.check("Inbound identity synchronization").message


def test_no_identity_sync_policy_in_the_target_at_all(ops):
    fixture = world()
    fixture["tenants"][1]["crossTenantAccessPolicy"] = {"partners": [partner(SRC, inbound=True, outbound=False)]}
    ops.load(fixture)
    report = test_connection(ops.cfg)
    assert failed(report) == [("Inbound identity synchronization", SYNC_NOT_ALLOWED)]


def test_auto_redemption_off_in_the_target(ops):
    ops.api("target").request("PATCH", f"/policies/crossTenantAccessPolicy/partners/{SRC}",
                              {"automaticUserConsentSettings": {"inboundAllowed": False}})
    report = test_connection(ops.cfg)
    assert failed(report) == [("Automatic redemption", B2B_POLICY_CODE)]
    check = report.check("Automatic redemption")
    assert check.message.startswith("You appear to have entered invalid credentials")
    assert check.details == B2B_POLICY_DETAILS == "Policy permitting auto-redemption of invitations not configured."
    assert "target tenant does not allow inbound" in check.recommended_action


def test_auto_redemption_off_in_the_source(ops):
    ops.api("source").request("PATCH", f"/policies/crossTenantAccessPolicy/partners/{TGT}",
                              {"automaticUserConsentSettings": {"outboundAllowed": False}})
    report = test_connection(ops.cfg)
    assert failed(report) == [("Automatic redemption", B2B_POLICY_CODE)]
    assert "source tenant does not allow outbound" in report.check("Automatic redemption").recommended_action


def test_guest_invitations_forbidden_in_the_target(ops):
    ops.api("target").request("PATCH", "/policies/authorizationPolicy", {"allowInvitesFrom": "none"})
    report = test_connection(ops.cfg)
    assert failed(report) == [("Guest invitations", FORBIDDEN_CODE)]
    assert "allowInvitesFrom = none" in report.check("Guest invitations").message


def test_guest_invitations_limited_to_admins_pass(ops):
    ops.api("target").request("PATCH", "/policies/authorizationPolicy", {"allowInvitesFrom": "adminsAndGuestInviters"})
    assert test_connection(ops.cfg).check("Guest invitations").status == "passed"


def test_tenant_without_premium_cannot_use_automatic_redemption(ops):
    fixture = world(target={"premium": False})
    ops.load(fixture)
    report = test_connection(ops.cfg)
    assert ("Premium licences", PREMIUM_CODE) in failed(report)
    check = report.check("Premium licences")
    assert check.blocking and "target tenant" in check.message and "source" not in check.message
    assert not report.ok


def test_upn_suffixes_not_verified_or_not_added_are_a_warning_only(ops):
    fixture = world()
    src = fixture["tenants"][0]
    src["domains"] += [{"id": "lab.ops.example", "isVerified": True}, {"id": "new.ops.example", "isVerified": True}]
    src["users"] += [user(700, userPrincipalName="a@lab.ops.example"), user(701, userPrincipalName="b@new.ops.example")]
    fixture["tenants"][1]["domains"] = [{"id": "emea.ops.example", "isVerified": True},
                                        {"id": "lab.ops.example", "isVerified": False}]
    ops.load(fixture)
    report = test_connection(ops.cfg)
    check = report.check("UPN suffixes")
    assert check.status == "warning" and not check.blocking and check.code == "UpnSuffixNotVerified"
    assert "lab.ops.example (1 user): Not verified" in check.message
    assert "new.ops.example (1 user): Not added" in check.message
    assert "emea.ops.example (11 users): Verified" in check.message
    assert "UPN suffix lab.ops.example (1 user) is added to the target tenant but not verified" in check.details
    assert "emea.ops.example" not in check.details
    assert report.ok                                   # a warning never blocks


def test_checks_are_listed_in_fixing_order_when_several_fail(ops):
    fixture = copy.deepcopy(world(target={"premium": False, "authorizationPolicy": {"allowInvitesFrom": "none"}}))
    fixture["tenants"][1]["crossTenantAccessPolicy"] = {"partners": [partner(SRC, inbound=False, outbound=False,
                                                                             sync=False)]}
    ops.load(fixture)
    report = test_connection(ops.cfg)
    assert failed(report) == [("Inbound identity synchronization", SYNC_NOT_ALLOWED), ("Premium licences", PREMIUM_CODE),
                              ("Automatic redemption", B2B_POLICY_CODE), ("Guest invitations", FORBIDDEN_CODE)]
    md = report.render_markdown()
    assert md.index("Inbound identity") < md.index("Premium") < md.index("Automatic") < md.index("Guest")


def test_premium_rule_reads_enabled_p1_or_p2_plans():
    assert has_premium({"assignedPlans": [PREMIUM_PLAN]})
    assert has_premium({"assignedPlans": [{"capabilityStatus": "Enabled",
                                           "servicePlanId": "eec0eb4f-6444-4f95-aba0-50c24d67f998"}]})
    assert not has_premium({"assignedPlans": [{**PREMIUM_PLAN, "capabilityStatus": "Deleted"}]})
    assert not has_premium({"assignedPlans": [{"capabilityStatus": "Enabled", "service": "exchange"}]})
    assert not has_premium({})


def test_suffix_states_follow_entra_connect_labels():
    domains = [{"id": "Contoso.com", "isVerified": True}, {"id": "lab.contoso.com", "isVerified": False}]
    assert suffix_states({"contoso.com": 1, "lab.contoso.com": 1, "x.org": 1}, domains) == {
        "contoso.com": "Verified", "lab.contoso.com": "Not verified", "x.org": "Not added"}
