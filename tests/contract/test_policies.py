"""Tenant-wide reads and cross-tenant policies: authorizationpolicy-get, domain-list,
organization-get, crosstenantaccesspolicy-list-partners and the partner's identitySynchronization
(crosstenantaccesspolicyconfigurationpartner-put-identitysynchronization,
crosstenantidentitysyncpolicypartner-get/-update/-delete).

The product checks these before a first cycle: who may invite, which domains are verified,
whether the tenant is premium, whether automatic redemption and cross-tenant sync are allowed.
"""

from __future__ import annotations

from tests.contract.doc import Case, auth, cases, context_is, error_of, expect, page, send
from tests.contract.world import PARTNER_NEW, PARTNER_SYNCED, TENANT

PARTNERS = "/policies/crossTenantAccessPolicy/partners"
PARTNER_KEYS = {"tenantId", "inboundTrust", "automaticUserConsentSettings",
                "b2bCollaborationInbound", "b2bCollaborationOutbound",
                "b2bDirectConnectInbound", "b2bDirectConnectOutbound"}
DOMAIN_KEYS = {"authenticationType", "availabilityStatus", "isAdminManaged", "isDefault",
               "isInitial", "isRoot", "id", "supportedServices"}


def _authorization_policy(resp) -> None:
    body = resp.json()
    context_is(body, "policies/authorizationPolicy/$entity")
    assert body["id"] == "authorizationPolicy"
    assert body["allowInvitesFrom"] == "everyone"
    assert {"allowedToSignUpEmailBasedSubscriptions", "allowedToUseSSPR",
            "allowEmailVerifiedUsersToJoinOrganization", "blockMsolPowerShell", "displayName",
            "description", "defaultUserRolePermissions"} <= set(body), sorted(body)
    assert {"allowedToCreateApps", "allowedToCreateSecurityGroups", "allowedToReadOtherUsers",
            "permissionGrantPoliciesAssigned"} <= set(body["defaultUserRolePermissions"])


def _domains(resp) -> None:
    domains = resp.json()["value"]
    by_id = {d["id"]: d for d in domains}
    assert {"contoso.com", "contoso.onmicrosoft.com"} <= set(by_id), sorted(by_id)
    for domain in domains:
        assert DOMAIN_KEYS <= set(domain), sorted(domain)
    assert [d["id"] for d in domains if d["isDefault"]] == ["contoso.com"]
    assert [d["id"] for d in domains if d["isInitial"]] == ["contoso.onmicrosoft.com"]


def _organization(resp) -> None:
    body = resp.json()
    context_is(body, "organization/$entity")
    assert body["id"] == TENANT and body["displayName"] == "Contoso"
    assert isinstance(body["assignedPlans"], list)
    names = {d["name"] for d in body["verifiedDomains"]}
    assert {"contoso.com", "contoso.onmicrosoft.com"} <= names
    for domain in body["verifiedDomains"]:
        assert {"capabilities", "isDefault", "isInitial", "name", "type"} <= set(domain)


def _organization_list(resp) -> None:
    body = resp.json()
    assert [o["id"] for o in body["value"]] == [TENANT]        # "a collection of one"


def _partners(resp) -> None:
    partners = {p["tenantId"]: p for p in resp.json()["value"]}
    assert set(partners) == {PARTNER_SYNCED, PARTNER_NEW}
    for partner in partners.values():
        assert PARTNER_KEYS <= set(partner), sorted(partner)
        assert set(partner["automaticUserConsentSettings"]) == {"inboundAllowed",
                                                                 "outboundAllowed"}
    assert partners[PARTNER_SYNCED]["automaticUserConsentSettings"]["inboundAllowed"] is True


def _partners_expanded(resp) -> None:
    partners = {p["tenantId"]: p for p in resp.json()["value"]}
    assert partners[PARTNER_SYNCED]["identitySynchronization"] == {
        "tenantId": PARTNER_SYNCED, "displayName": "Fabrikam",
        "userSyncInbound": {"isSyncAllowed": True}}


def _sync_policy(resp) -> None:
    body = resp.json()
    assert body["tenantId"] == PARTNER_SYNCED and body["displayName"] == "Fabrikam"
    assert body["userSyncInbound"] == {"isSyncAllowed": True}


READS = cases(
    Case("authorizationpolicy-get", "200-single-policy", path="/policies/authorizationPolicy",
         check=_authorization_policy),
    Case("domain-list", "200-domains-with-default-and-initial", path="/domains",
         check=_domains),
    Case("organization-get", "200-by-tenant-id", path=f"/organization/{TENANT}",
         check=_organization),
    Case("organization-list", "200-collection-of-one", path="/organization",
         check=_organization_list),
    Case("crosstenantaccesspolicy-list-partners", "200-partner-configurations", path=PARTNERS,
         check=_partners),
    Case("crosstenantaccesspolicy-list-partners", "200-expand-identitySynchronization",
         path=PARTNERS, params={"$select": "tenantId", "$expand": "identitySynchronization"},
         check=_partners_expanded),
    Case("crosstenantidentitysyncpolicypartner-get", "200-sync-policy",
         path=f"{PARTNERS}/{PARTNER_SYNCED}/identitySynchronization", check=_sync_policy),
)


@READS
def test_policy_reads(graph, case):
    send(graph, case)


@page("crosstenantaccesspolicyconfigurationpartner-put-identitysynchronization",
      "204-then-get-returns-it")
def test_put_identity_sync(graph, doc_page):
    url = f"{PARTNERS}/{PARTNER_NEW}/identitySynchronization"
    resp = graph.put(url, headers=auth(), json={"displayName": "Fabrikam",
                                                "userSyncInbound": {"isSyncAllowed": True}})
    expect(resp, 204)
    assert resp.content == b""
    body = expect(graph.get(url, headers=auth()), 200)
    assert body["tenantId"] == PARTNER_NEW and body["displayName"] == "Fabrikam"
    assert body["userSyncInbound"] == {"isSyncAllowed": True}


@page("crosstenantidentitysyncpolicypartner-update", "204-then-get-shows-change")
def test_patch_identity_sync(graph, doc_page):
    url = f"{PARTNERS}/{PARTNER_SYNCED}/identitySynchronization"
    expect(graph.patch(url, headers=auth(), json={"userSyncInbound": {"isSyncAllowed": False}}),
           204)
    body = expect(graph.get(url, headers=auth()), 200)
    assert body["userSyncInbound"] == {"isSyncAllowed": False}
    assert body["displayName"] == "Fabrikam"            # not sent: unchanged


@page("crosstenantidentitysyncpolicypartner-delete", "204-then-get-404")
def test_delete_identity_sync(graph, doc_page):
    url = f"{PARTNERS}/{PARTNER_SYNCED}/identitySynchronization"
    resp = graph.delete(url, headers=auth())
    expect(resp, 204)
    assert resp.content == b""
    error_of(graph.get(url, headers=auth()), 404)
    partners = expect(graph.get(PARTNERS, headers=auth()), 200)["value"]
    assert PARTNER_SYNCED in {p["tenantId"] for p in partners}   # the partner itself stays
