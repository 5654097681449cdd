"""Load the fixture JSON (format in DESIGN.md "Emulator fixture") into a Directory."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from tenantsync.emulator.directory import Directory, Tenant
from tenantsync.emulator.protocol import loads, now_iso
from tenantsync.emulator.schema import GROUPS, USER_FIXTURE_ONLY, USERS

DEFAULT_AUTHORIZATION_POLICY: dict[str, Any] = {
    "id": "authorizationPolicy",
    "displayName": "Authorization Policy",
    "description": "Used to manage authorization related settings across the company.",
    "deletedDateTime": None,
    "allowInvitesFrom": "everyone",
    "allowedToSignUpEmailBasedSubscriptions": True,
    "allowedToUseSSPR": True,
    "allowEmailVerifiedUsersToJoinOrganization": False,
    "allowUserConsentForRiskyApps": None,
    "blockMsolPowerShell": False,
    "guestUserRoleId": "10dae51f-b6af-4016-8d66-8c2a99b929b3",
    "defaultUserRolePermissions": {
        "allowedToCreateApps": True, "allowedToCreateSecurityGroups": True,
        "allowedToCreateTenants": True, "allowedToReadBitlockerKeysForOwnedDevice": True,
        "allowedToReadOtherUsers": True,
        "permissionGrantPoliciesAssigned": [
            "ManagePermissionGrantsForSelf.microsoft-user-default-legacy"]},
}


class FixtureError(ValueError):
    """The fixture is malformed; the message names the tenant, object and field."""


def read_fixture(source: dict | str | Path) -> dict:
    """The fixture as a dict, from a dict or a JSON file path."""
    if isinstance(source, dict):
        return source
    try:
        with open(source, "rb") as fh:
            return loads(fh.read())
    except (OSError, ValueError) as exc:
        raise FixtureError(f"cannot read fixture {source}: {exc}") from None


def load_directory(source: dict | str | Path) -> Directory:
    """Build the Directory of a fixture (the fixture itself is not modified)."""
    data = read_fixture(source)
    if not isinstance(data, dict) or not isinstance(data.get("tenants"), list):
        raise FixtureError('fixture: expected {"tenants": [...]}')
    tenants = [_tenant(spec, i) for i, spec in enumerate(data["tenants"])]
    seen_ids: set[str] = set()
    seen_tokens: set[str] = set()
    for tenant in tenants:
        if tenant.id.lower() in seen_ids:
            raise FixtureError(f"tenant {tenant.id}: duplicate tenant id")
        seen_ids.add(tenant.id.lower())
        for token in tenant.tokens:
            if token in seen_tokens:
                raise FixtureError(f"tenant {tenant.id}: a token is used by two tenants")
            seen_tokens.add(token)
    return Directory(tenants)


def _require(spec: dict, key: str, where: str) -> str:
    value = spec.get(key)
    if not isinstance(value, str) or not value:
        raise FixtureError(f"{where}: '{key}' is required (a non-empty string)")
    return value


def _tenant(spec: Any, index: int) -> Tenant:
    where = f"tenants[{index}]"
    if not isinstance(spec, dict):
        raise FixtureError(f"{where}: expected an object")
    tenant_id = _require(spec, "id", where)
    where = f"tenant {tenant_id}"
    default_domain = _require(spec, "defaultDomain", where)
    tenant = Tenant(tenant_id, spec.get("displayName") or default_domain, default_domain)
    tokens = spec.get("tokens", [])
    if not isinstance(tokens, list) or not all(isinstance(t, str) and t for t in tokens):
        raise FixtureError(f"{where}: 'tokens' must be a list of strings")
    tenant.tokens = list(tokens)
    tenant.premium = bool(spec.get("premium", False))
    for domain in spec.get("domains", []):
        if isinstance(domain, str):
            domain = {"id": domain}
        if not isinstance(domain, dict) or not isinstance(domain.get("id"), str):
            raise FixtureError(f"{where}: each domain needs an 'id'")
        tenant.domains.append({"isVerified": True, **domain})
    tenant.authorization_policy = {**copy.deepcopy(DEFAULT_AUTHORIZATION_POLICY),
                                   **copy.deepcopy(spec.get("authorizationPolicy") or {})}
    for partner in (spec.get("crossTenantAccessPolicy") or {}).get("partners", []):
        partner = copy.deepcopy(partner)
        partner_id = _require(partner, "tenantId", f"{where} partner")
        sync = partner.pop("identitySynchronization", None)
        tenant.partners[partner_id.lower()] = partner
        if sync is not None:
            tenant.identity_sync[partner_id.lower()] = {"tenantId": partner_id, "displayName": None,
                                                        **sync}
    kinds: dict[str, str] = {}
    loaded = now_iso()
    for i, raw in enumerate(spec.get("users", [])):
        _user(tenant, raw, f"{where} users[{i}]", kinds, loaded)
    groups = spec.get("groups", [])
    group_ids: list[str] = []
    for i, raw in enumerate(groups):
        if not isinstance(raw, dict):
            raise FixtureError(f"{where} groups[{i}]: expected an object")
        group = {k: copy.deepcopy(v) for k, v in raw.items() if k != "members"}
        for key in group:
            if GROUPS.canonical(key) != key:
                raise FixtureError(f"{where} groups[{i}]: '{key}' is not a Graph group property")
        group.setdefault("securityEnabled", True)
        group.setdefault("mailEnabled", False)
        group.setdefault("groupTypes", [])
        if group.get("id") in tenant.groups:
            raise FixtureError(f"{where} groups[{i}]: duplicate id {group['id']}")
        group_ids.append(tenant.add_group(group, record=False)["id"])
    for gid, raw in zip(group_ids, groups):
        for member_id in raw.get("members", []):
            kind = tenant.object_type(member_id)
            if kind is None:
                raise FixtureError(f"{where} group {gid}: member {member_id} is not a user or "
                                   "group of this tenant")
            tenant.add_member(gid, member_id, kind, record=False)
    return tenant


def _copy(value: Any) -> Any:
    """Deep copy of JSON data (much cheaper than copy.deepcopy)."""
    if isinstance(value, list):
        return [_copy(v) for v in value]
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    return value


def _key_kind(key: str) -> str:
    if key in USER_FIXTURE_ONLY:
        return "extra"
    return "prop" if USERS.canonical(key) == key else "bad"


def _user(tenant: Tenant, raw: Any, where: str, kinds: dict[str, str], loaded: str) -> None:
    if not isinstance(raw, dict):
        raise FixtureError(f"{where}: expected an object")
    user: dict = {}
    extra: dict = {}
    for key, value in raw.items():
        kind = kinds.get(key)
        if kind is None:
            kind = kinds[key] = _key_kind(key)      # memo: 100,000-user fixtures load fast
        if kind == "prop":
            # copy containers only: the caller's fixture must not change under the emulator
            user[key] = _copy(value) if isinstance(value, (list, dict)) else value
        elif kind == "extra":
            extra[key] = value
        else:
            raise FixtureError(f"{where}: '{key}' is not a Graph user property (or a "
                               f"fixture field: {', '.join(sorted(USER_FIXTURE_ONLY))})")
    upn = _require(user, "userPrincipalName", where)
    if upn.lower() in tenant.upn_index:
        raise FixtureError(f"{where}: duplicate userPrincipalName {upn}")
    if user.get("id") in tenant.users:
        raise FixtureError(f"{where}: duplicate id {user['id']}")
    tenant.add_user(user, record=False, created=loaded)
    if extra:
        tenant.fixture_fields[user["id"]] = extra
