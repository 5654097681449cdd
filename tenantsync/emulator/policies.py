"""/domains, /organization, /policies/authorizationPolicy and cross-tenant access partners."""

from __future__ import annotations

import copy

from tenantsync.emulator.directory import Tenant
from tenantsync.emulator.protocol import GraphHttpError, GraphRequest, GraphResponse, bad_request, read_json_body

_SERVICES = ["Email", "OfficeCommunicationsOnline"]
_DOMAIN_FIELDS = ("id", "authenticationType", "availabilityStatus", "isAdminManaged",
                  "isDefault", "isInitial", "isRoot", "isVerified",
                  "passwordNotificationWindowInDays", "passwordValidityPeriodInDays",
                  "supportedServices", "state")
AAD_PREMIUM_PLAN = "41781fb2-bc02-4b7c-bd55-b576c07bb09d"      # AAD_PREMIUM (Entra ID P1)
AUTHZ_WRITABLE = {"allowInvitesFrom", "allowedToSignUpEmailBasedSubscriptions",
                  "allowedToUseSSPR", "allowEmailVerifiedUsersToJoinOrganization",
                  "allowUserConsentForRiskyApps", "blockMsolPowerShell", "guestUserRoleId",
                  "defaultUserRolePermissions", "description", "displayName"}
INVITE_SETTINGS = ("none", "adminsAndGuestInviters", "adminsGuestInvitersAndAllMembers",
                   "everyone")
PARTNER_FIELDS = ("tenantId", "isServiceProvider", "isInMultiTenantOrganization", "inboundTrust",
                  "automaticUserConsentSettings", "b2bCollaborationInbound",
                  "b2bCollaborationOutbound", "b2bDirectConnectInbound",
                  "b2bDirectConnectOutbound", "tenantRestrictions")
SYNC_FIELDS = ("tenantId", "displayName", "userSyncInbound")


def _missing(what: str, key: str) -> GraphHttpError:
    return GraphHttpError(404, "Directory_ObjectNotFound",
                          f"Resource not found: {what} '{key}' does not exist.")


def merge(target: dict, changes: dict) -> None:
    """PATCH semantics: complex (object) values are patched property by property."""
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


# -- domains and organization -------------------------------------------------------------
def tenant_domains(tenant: Tenant) -> list[dict]:
    """The tenant's domains as Graph's domain resources (the initial domain first)."""
    explicit_default = any(d.get("isDefault") for d in tenant.domains)
    out = [{"id": tenant.default_domain, "authenticationType": "Managed",
            "availabilityStatus": None, "isAdminManaged": True,
            "isDefault": not explicit_default, "isInitial": True, "isRoot": True,
            "isVerified": True, "passwordNotificationWindowInDays": None,
            "passwordValidityPeriodInDays": None, "supportedServices": list(_SERVICES),
            "state": None}]
    for spec in tenant.domains:
        verified = bool(spec.get("isVerified", True))
        domain = {"id": spec["id"], "authenticationType": "Managed", "availabilityStatus": None,
                  "isAdminManaged": True, "isDefault": False, "isInitial": False,
                  "isRoot": True, "isVerified": verified,
                  "passwordNotificationWindowInDays": None, "passwordValidityPeriodInDays": None,
                  "supportedServices": list(_SERVICES) if verified else [], "state": None}
        domain.update({k: v for k, v in spec.items() if k in _DOMAIN_FIELDS})
        out.append(domain)
    return out


def list_domains(req: GraphRequest) -> GraphResponse:
    """GET /domains."""
    return GraphResponse(200, {"@odata.context": req.context("domains"),
                               "value": tenant_domains(req.home_tenant)})


def get_domain(req: GraphRequest, id: str) -> GraphResponse:
    """GET /domains/{id}."""
    for domain in tenant_domains(req.home_tenant):
        if domain["id"].lower() == id.lower():
            return GraphResponse(200, {"@odata.context": req.context("domains/$entity"),
                                       **domain})
    raise GraphHttpError(404, "Request_ResourceNotFound", f"Domain '{id}' does not exist.")


def organization(tenant: Tenant) -> dict:
    """The tenant's organization resource."""
    plans = []
    if tenant.premium:
        plans.append({"assignedDateTime": tenant.created, "capabilityStatus": "Enabled",
                      "service": "AADPremiumService", "servicePlanId": AAD_PREMIUM_PLAN})
    return {
        "id": tenant.id, "deletedDateTime": None, "displayName": tenant.display_name,
        "tenantType": "AAD", "createdDateTime": tenant.created, "businessPhones": [],
        "city": None, "country": None, "countryLetterCode": None, "postalCode": None,
        "preferredLanguage": "en", "state": None, "street": None,
        "marketingNotificationEmails": [], "securityComplianceNotificationMails": [],
        "securityComplianceNotificationPhones": [], "technicalNotificationMails": [],
        "onPremisesLastSyncDateTime": None, "onPremisesSyncEnabled": None,
        "privacyProfile": None, "provisionedPlans": [], "assignedPlans": plans,
        "verifiedDomains": [{"capabilities": ", ".join(d["supportedServices"]),
                             "isDefault": d["isDefault"], "isInitial": d["isInitial"],
                             "name": d["id"], "type": d["authenticationType"]}
                            for d in tenant_domains(tenant) if d["isVerified"]],
    }


def list_organization(req: GraphRequest) -> GraphResponse:
    """GET /organization."""
    return GraphResponse(200, {"@odata.context": req.context("organization"),
                               "value": [organization(req.home_tenant)]})


def get_organization(req: GraphRequest, id: str) -> GraphResponse:
    """GET /organization/{id}."""
    if id.lower() != req.home_tenant.id.lower():
        raise GraphHttpError(404, "Request_ResourceNotFound", f"Resource '{id}' does not exist.")
    return GraphResponse(200, {"@odata.context": req.context("organization/$entity"),
                               **organization(req.home_tenant)})


# -- authorization policy ------------------------------------------------------------------
def get_authorization_policy(req: GraphRequest) -> GraphResponse:
    """GET /policies/authorizationPolicy."""
    return GraphResponse(200, {"@odata.context": req.context("policies/authorizationPolicy/"
                                                             "$entity"),
                               **copy.deepcopy(req.home_tenant.authorization_policy)})


def update_authorization_policy(req: GraphRequest) -> GraphResponse:
    """PATCH /policies/authorizationPolicy; 204."""
    body = {k: v for k, v in read_json_body(req).items() if not k.startswith("@odata.")}
    unknown = sorted(set(body) - AUTHZ_WRITABLE)
    if unknown:
        raise bad_request(f"Property '{unknown[0]}' does not exist or cannot be set on "
                          "authorizationPolicy.")
    if "allowInvitesFrom" in body and body["allowInvitesFrom"] not in INVITE_SETTINGS:
        raise bad_request(f"Invalid value '{body['allowInvitesFrom']}' for allowInvitesFrom "
                          f"(allowed: {', '.join(INVITE_SETTINGS)}).")
    for key, value in body.items():            # a Boolean stays a Boolean, an object an object
        current = req.home_tenant.authorization_policy.get(key)
        for kind in (bool, dict):
            if isinstance(current, kind) and value is not None and not isinstance(value, kind):
                raise bad_request(f"Invalid value specified for property '{key}' of resource "
                                  "'AuthorizationPolicy'.")
    merge(req.home_tenant.authorization_policy, body)
    return GraphResponse(204)


# -- cross-tenant access partners ----------------------------------------------------------
def project_partner(partner: dict) -> dict:
    """A partner configuration with every v1.0 property present."""
    out = {name: copy.deepcopy(partner.get(name)) for name in PARTNER_FIELDS}
    if out["automaticUserConsentSettings"] is None:
        out["automaticUserConsentSettings"] = {"inboundAllowed": None, "outboundAllowed": None}
    return out


def _partner(req: GraphRequest, tenant_id: str) -> dict:
    partner = req.home_tenant.partners.get(tenant_id.lower())
    if partner is None:
        raise _missing("partner configuration", tenant_id)
    return partner


def _partner_body(req: GraphRequest, *, creating: bool) -> dict:
    body = {k: v for k, v in read_json_body(req).items() if not k.startswith("@odata.")}
    unknown = sorted(set(body) - set(PARTNER_FIELDS))
    if unknown:
        raise bad_request(f"Property '{unknown[0]}' does not exist on "
                          "crossTenantAccessPolicyConfigurationPartner.")
    if creating and not isinstance(body.get("tenantId"), str):
        raise bad_request("Invalid value specified for property 'tenantId'.")
    return body


def list_partners(req: GraphRequest) -> GraphResponse:
    """GET /policies/crossTenantAccessPolicy/partners[?$select=...&$expand=identitySynchronization].

    crosstenantaccesspolicy-list-partners, Example 2: `$expand=identitySynchronization` nests each
    partner's user synchronization policy (null when the partner has none).
    """
    select = _partner_select(req.query.get("$select"))
    expand = (req.query.get("$expand") or "").strip()
    if expand and expand.lower() != "identitysynchronization":
        raise bad_request(f"Could not find a property named '{expand}' on type "
                          "'microsoft.graph.crossTenantAccessPolicyConfigurationPartner'.")
    value = []
    for key, partner in req.home_tenant.partners.items():
        item = project_partner(partner)
        if select is not None:
            item = {name: item[name] for name in select}
        if expand:
            sync = req.home_tenant.identity_sync.get(key)
            item["identitySynchronization"] = None if sync is None else {
                name: copy.deepcopy(sync.get(name)) for name in SYNC_FIELDS}
        value.append(item)
    return GraphResponse(200, {"@odata.context": req.context("policies/crossTenantAccessPolicy/"
                                                             "partners"),
                               "value": value})


def _partner_select(raw: str | None) -> list[str] | None:
    if not raw:
        return None
    by_lower = {name.lower(): name for name in PARTNER_FIELDS}
    names = []
    for part in raw.split(","):
        name = by_lower.get(part.strip().lower())
        if name is None:
            raise bad_request(f"Could not find a property named '{part.strip()}' on type "
                              "'microsoft.graph.crossTenantAccessPolicyConfigurationPartner'.")
        names.append(name)
    return names


def create_partner(req: GraphRequest) -> GraphResponse:
    """POST /policies/crossTenantAccessPolicy/partners; 201, 409 when it exists."""
    body = _partner_body(req, creating=True)
    key = body["tenantId"].lower()
    if key in req.home_tenant.partners:
        raise GraphHttpError(409, "Request_MultipleObjectsWithSameKeyValue",
                             "Another object with the same value for property tenantId already "
                             "exists.")
    req.home_tenant.partners[key] = copy.deepcopy(body)
    return GraphResponse(201, {"@odata.context": req.context("policies/crossTenantAccessPolicy/"
                                                             "partners/$entity"),
                               **project_partner(req.home_tenant.partners[key])})


def get_partner(req: GraphRequest, tenant_id: str) -> GraphResponse:
    """GET /policies/crossTenantAccessPolicy/partners/{tenantId}."""
    return GraphResponse(200, {"@odata.context": req.context("policies/crossTenantAccessPolicy/"
                                                             "partners/$entity"),
                               **project_partner(_partner(req, tenant_id))})


def update_partner(req: GraphRequest, tenant_id: str) -> GraphResponse:
    """PATCH /policies/crossTenantAccessPolicy/partners/{tenantId}; 204."""
    partner = _partner(req, tenant_id)
    body = _partner_body(req, creating=False)
    if body.get("tenantId") not in (None, partner["tenantId"]):
        raise bad_request("Property 'tenantId' is read-only and cannot be changed.")
    body.pop("tenantId", None)
    merge(partner, body)
    return GraphResponse(204)


def delete_partner(req: GraphRequest, tenant_id: str) -> GraphResponse:
    """DELETE /policies/crossTenantAccessPolicy/partners/{tenantId}; 204."""
    _partner(req, tenant_id)
    del req.home_tenant.partners[tenant_id.lower()]
    req.home_tenant.identity_sync.pop(tenant_id.lower(), None)
    return GraphResponse(204)


# -- identity synchronization policy of a partner ------------------------------------------
def _sync_body(req: GraphRequest) -> dict:
    body = {k: v for k, v in read_json_body(req).items() if not k.startswith("@odata.")}
    unknown = sorted(set(body) - set(SYNC_FIELDS))
    if unknown:
        raise bad_request(f"Property '{unknown[0]}' does not exist on "
                          "crossTenantIdentitySyncPolicyPartner.")
    return body


def _sync(req: GraphRequest, tenant_id: str) -> dict:
    sync = req.home_tenant.identity_sync.get(tenant_id.lower())
    if sync is None:
        raise _missing("identity synchronization policy for partner", tenant_id)
    return sync


def get_identity_sync(req: GraphRequest, tenant_id: str) -> GraphResponse:
    """GET .../partners/{tenantId}/identitySynchronization."""
    sync = _sync(req, tenant_id)
    return GraphResponse(200, {
        "@odata.context": req.context(f"policies/crossTenantAccessPolicy/partners('{tenant_id}')"
                                      "/identitySynchronization/$entity"),
        **{name: copy.deepcopy(sync.get(name)) for name in SYNC_FIELDS}})


def put_identity_sync(req: GraphRequest, tenant_id: str) -> GraphResponse:
    """PUT .../identitySynchronization: create; 204 (409 when it exists: use PATCH)."""
    if tenant_id.lower() in req.home_tenant.identity_sync:
        raise GraphHttpError(409, "Request_MultipleObjectsWithSameKeyValue",
                             "An identity synchronization policy for this partner already "
                             "exists; update it with PATCH.")
    body = _sync_body(req)
    body.pop("tenantId", None)
    req.home_tenant.identity_sync[tenant_id.lower()] = {"tenantId": tenant_id, "displayName": None,
                                                   "userSyncInbound": None, **body}
    return GraphResponse(204)


def update_identity_sync(req: GraphRequest, tenant_id: str) -> GraphResponse:
    """PATCH .../identitySynchronization; 204."""
    sync = _sync(req, tenant_id)
    body = _sync_body(req)
    body.pop("tenantId", None)
    merge(sync, body)
    return GraphResponse(204)


def delete_identity_sync(req: GraphRequest, tenant_id: str) -> GraphResponse:
    """DELETE .../identitySynchronization; 204."""
    _sync(req, tenant_id)
    del req.home_tenant.identity_sync[tenant_id.lower()]
    return GraphResponse(204)
