"""What a user of the sample tenants (data/samples/tenants.json) relies on."""

from __future__ import annotations

import re
from pathlib import Path
from types import ModuleType
from typing import Any

from tenantsync.emulator.fixture import load_directory

DATA = Path(__file__).resolve().parents[2] / "data"

ATTRIBUTES = ("givenName", "surname", "displayName", "userPrincipalName", "mail", "mailNickname", "department",
              "jobTitle", "city", "state", "country", "postalCode", "streetAddress", "employeeId",
              "preferredLanguage", "usageLocation", "companyName", "officeLocation", "createdDateTime")
ACCENTED = re.compile(r"[^\x00-\x7f]")


def _find(items: list[dict[str, Any]], object_id: str) -> dict[str, Any]:
    return next(o for o in items if o["id"] == object_id)


def test_three_tenants_with_their_domains_tokens_and_licences(tenants):
    emea, us, hq = tenants["Contoso EMEA"], tenants["Contoso US"], tenants["Contoso HQ"]
    assert emea["defaultDomain"] == "contosoemea.onmicrosoft.com"
    assert emea["domains"] == [{"id": "emea.contoso.com", "isVerified": True}]
    assert us["defaultDomain"] == "contosous.onmicrosoft.com"
    assert us["domains"] == [{"id": "us.contoso.com", "isVerified": True}]
    assert hq["defaultDomain"] == "contosohq.onmicrosoft.com"
    assert {d["id"]: d["isVerified"] for d in hq["domains"]} == {"contoso.com": True, "notverified.contoso.com": False}
    assert [t["tokens"] for t in (emea, us, hq)] == [["emea-token"], ["us-token"], ["hq-token"]]
    for t in (emea, us, hq):
        assert t["premium"] is True
        assert t["authorizationPolicy"] == {"allowInvitesFrom": "everyone"}


def test_automatic_redemption_is_configured_both_ways_for_each_source(tenants):
    emea, us, hq = tenants["Contoso EMEA"], tenants["Contoso US"], tenants["Contoso HQ"]
    for source in (emea, us):
        out = _partner(source, hq["id"])
        assert out["automaticUserConsentSettings"]["outboundAllowed"] is True
        inbound = _partner(hq, source["id"])
        assert inbound["automaticUserConsentSettings"]["inboundAllowed"] is True
        assert inbound["identitySynchronization"]["userSyncInbound"]["isSyncAllowed"] is True
    assert {p["tenantId"] for p in hq["crossTenantAccessPolicy"]["partners"]} == {emea["id"], us["id"]}


def _partner(tenant: dict[str, Any], partner_id: str) -> dict[str, Any]:
    return next(p for p in tenant["crossTenantAccessPolicy"]["partners"] if p["tenantId"] == partner_id)


def test_sources_have_over_a_hundred_realistic_users_each(tenants):
    emea, us = tenants["Contoso EMEA"], tenants["Contoso US"]
    assert len(emea["users"]) >= 100 and len(us["users"]) >= 100
    assert len(emea["users"]) + len(us["users"]) >= 200
    for tenant, domain in ((emea, "emea.contoso.com"), (us, "us.contoso.com")):
        generated = [u for u in tenant["users"] if u["userType"] == "Member" and u.get("employeeId")]
        assert len(generated) >= 100
        for u in generated:
            missing = [a for a in ATTRIBUTES if not u.get(a)]
            assert not missing, (u["userPrincipalName"], missing)
            assert u["userPrincipalName"].endswith("@" + domain)
            assert u["mailNickname"] == u["userPrincipalName"].split("@")[0]
            assert u["smsSignInState"] in ("notAllowedByPolicy", "notEnabled", "ready")
        assert len({u["department"] for u in generated}) >= 8
        assert len({u["city"] for u in generated}) >= 5
        assert sum(ACCENTED.search(u["displayName"]) is not None for u in generated) >= 10


def test_upns_are_unique_per_tenant_and_ids_unique_everywhere(fixture):
    ids = [t["id"] for t in fixture["tenants"]]
    for t in fixture["tenants"]:
        upns = [u["userPrincipalName"].lower() for u in t["users"]]
        assert len(upns) == len(set(upns)), t["displayName"]
        ids += [o["id"] for o in t["users"] + t["groups"]]
    assert len(ids) == len(set(ids))


def test_group_members_are_users_or_groups_of_the_same_tenant(fixture):
    for t in fixture["tenants"]:
        known = {o["id"] for o in t["users"] + t["groups"]}
        for g in t["groups"]:
            assert set(g["members"]) <= known, g["displayName"]
            assert len(g["members"]) == len(set(g["members"])), g["displayName"]


def test_pending_b2b_user_in_hq_belongs_to_a_renamed_in_scope_emea_user(samples, tenants):
    emea, hq = tenants["Contoso EMEA"], tenants["Contoso HQ"]
    pending = _find(hq["users"], samples.HQ_PENDING_USER)
    zoe = _find(emea["users"], samples.EMEA_RENAMED_USER)
    assert pending["userType"] == "Guest"
    assert pending["externalUserState"] == "PendingAcceptance"
    assert re.fullmatch(r"[^@#]+_emea\.contoso\.com#EXT#@contosohq\.onmicrosoft\.com", pending["userPrincipalName"])
    assert pending["mail"] == zoe["mail"] != pending["userPrincipalName"]
    old_upn = pending["userPrincipalName"].split("#EXT#")[0].replace("_emea.contoso.com", "@emea.contoso.com")
    assert zoe["userPrincipalName"] != old_upn
    assert pending["createdDateTime"] < "2020"
    # Zoë herself is in scope of emea-to-hq: a direct member of the assigned group, enabled, internal.
    assert zoe["id"] in _find(emea["groups"], samples.EMEA_SYNC_GROUP)["members"]
    assert zoe["userType"] == "Member" and zoe["accountEnabled"] is True
    assert zoe["smsSignInState"] != "ready"
    assert re.search(samples.SCOPING_FILTER[emea["id"]], zoe["userPrincipalName"])


def test_special_source_users_are_direct_members_of_the_assigned_group(samples, tenants):
    emea, us = tenants["Contoso EMEA"], tenants["Contoso US"]
    assigned = set(_find(emea["groups"], samples.EMEA_SYNC_GROUP)["members"])
    sms = _find(emea["users"], samples.EMEA_SMS_USER)
    assert sms["smsSignInState"] == "ready" and sms["mobilePhone"] and sms["accountEnabled"] is True
    disabled = _find(emea["users"], samples.EMEA_DISABLED_USER)
    assert disabled["accountEnabled"] is False and disabled["userType"] == "Member"
    for tenant, guest_id, group_id in ((emea, samples.EMEA_GUEST, samples.EMEA_SYNC_GROUP),
                                       (us, samples.US_GUEST, samples.US_SYNC_GROUP)):
        guest = _find(tenant["users"], guest_id)
        assert guest["userType"] == "Guest" and guest["externalUserState"] == "Accepted"
        assert guest["userPrincipalName"].endswith("#EXT#@" + tenant["defaultDomain"])
        assert guest_id in _find(tenant["groups"], group_id)["members"]
    assert {sms["id"], disabled["id"], samples.EMEA_SERVICE_ACCOUNT} <= assigned
    svc = _find(emea["users"], samples.EMEA_SERVICE_ACCOUNT)
    assert not re.search(samples.SCOPING_FILTER[emea["id"]], svc["userPrincipalName"])


def test_nested_groups_sit_in_the_assigned_group_with_members_who_are_not_direct_members(samples, tenants):
    for tenant, sync_id, nested_id, only_nested in (
            (tenants["Contoso EMEA"], samples.EMEA_SYNC_GROUP, samples.EMEA_CONTRACTORS_GROUP, samples.EMEA_CONTRACTOR),
            (tenants["Contoso US"], samples.US_SYNC_GROUP, samples.US_INTERNS_GROUP, samples.US_INTERN)):
        sync, nested = _find(tenant["groups"], sync_id), _find(tenant["groups"], nested_id)
        assert sync["displayName"] == "CTS - HQ sync"
        assert nested_id in sync["members"]
        user_members = [m for m in nested["members"] if any(u["id"] == m for u in tenant["users"])]
        assert only_nested in user_members and len(user_members) >= 2
        assert not set(user_members) & set(sync["members"])


def test_most_source_users_are_direct_members_of_the_assigned_group(samples, tenants):
    for tenant, sync_id in ((tenants["Contoso EMEA"], samples.EMEA_SYNC_GROUP),
                            (tenants["Contoso US"], samples.US_SYNC_GROUP)):
        members = set(_find(tenant["groups"], sync_id)["members"])
        internal = [u for u in tenant["users"] if u["userType"] == "Member"]
        assert sum(u["id"] in members for u in internal) >= 0.8 * len(internal)
        assert any(g["displayName"].startswith("Dept - ") for g in tenant["groups"])


def test_hq_has_internal_members_and_unrelated_guests_that_sync_must_not_touch(samples, tenants):
    hq = tenants["Contoso HQ"]
    for uid in (samples.HQ_ADMIN, samples.HQ_MEGAN, samples.HQ_ADELE, samples.HQ_ALEX):
        u = _find(hq["users"], uid)
        assert u["userType"] == "Member" and u["externalUserState"] is None and "#EXT#" not in u["userPrincipalName"]
    assert _find(hq["users"], samples.HQ_PARTNER_GUEST)["externalUserState"] == "Accepted"
    assert _find(hq["users"], samples.HQ_PARTNER_PENDING)["externalUserState"] == "PendingAcceptance"


def test_readme_documents_every_pinned_id(samples, fixture):
    readme = (DATA / "samples" / "README.md").read_text(encoding="utf-8")
    all_ids = {t["id"] for t in fixture["tenants"]} | {o["id"] for t in fixture["tenants"]
                                                       for o in t["users"] + t["groups"]}
    pinned = {v for k, v in vars(samples).items() if k.isupper() and isinstance(v, str)
              and re.fullmatch(r"[0-9a-f-]{36}", v)}
    assert len(pinned) >= 20
    for object_id in pinned:
        assert object_id in all_ids
        assert f"`{object_id}`" in readme


def test_committed_samples_are_what_the_script_produces(samples: ModuleType):
    assert samples.main(["--check"]) == 0


def test_the_script_is_deterministic(samples: ModuleType):
    from bench.generate import dumps
    assert dumps(samples.build(), pretty=True) == dumps(samples.build(), pretty=True)


def test_the_emulator_accepts_the_sample_fixture(fixture: dict[str, Any]):
    directory = load_directory(DATA / "samples" / "tenants.json")
    assert sorted(directory.tenants) == sorted(t["id"] for t in fixture["tenants"])
    for tenant in fixture["tenants"]:
        assert len(directory.tenants[tenant["id"]].users) == len(tenant["users"])
