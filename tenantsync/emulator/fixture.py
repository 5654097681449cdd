"""Load the fixture JSON (format in docs/contracts.md#emulator-fixture) into a Directory."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from tenantsync.emulator import applications as apps
from tenantsync.emulator.applications import valid_extension_value
from tenantsync.emulator.directory import Directory, Tenant
from tenantsync.emulator.fixture_types import type_name, value_problem
from tenantsync.emulator.protocol import GraphHttpError, loads, now_iso
from tenantsync.emulator.schema import USER_FIXTURE_ONLY, looks_like_extension
from tenantsync.emulator.tokens import claims, plain_app_id

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


# externalidentitiespolicy-get (beta): the page's example; external users may leave by default
# (leave-the-organization: "You can usually leave an organization on your own").
DEFAULT_EXTERNAL_IDENTITIES_POLICY: dict[str, Any] = {
    "id": "externalIdentityPolicy",
    "displayName": "External Identities Policy",
    "deletedDateTime": None,
    "allowExternalIdentitiesToLeave": True,
    "allowDeletedIdentitiesDataRemoval": False,
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
    """Build the Directory of a fixture (the fixture itself is not modified).

    Every refusal is a FixtureError naming the tenant, the object and the field (and the file,
    for a fixture read from one): `FILE: tenant T: users[3]: 'x' ...`."""
    data = read_fixture(source)
    if isinstance(source, dict):
        return _directory(data)
    try:
        return _directory(data)
    except FixtureError as exc:
        raise FixtureError(f"{source}: {exc}") from None


def _directory(data: Any) -> Directory:
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
                raise FixtureError(f"tenant {tenant.id}: a token is used twice (tokens are "
                                   "unique across tenants)")
            seen_tokens.add(token)
    return Directory(tenants)


def _typed(spec: dict, key: str, kind: type, name: str, where: str) -> Any:
    """spec[key] if it is absent, null or of type `kind`; else a FixtureError naming it."""
    value = spec.get(key)
    if value is not None and (not isinstance(value, kind)
                              or (kind is not bool and isinstance(value, bool))):
        raise FixtureError(f"{where}: '{key}' must be {name} (got {type_name(value)})")
    return value


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
    display_name = _typed(spec, "displayName", str, "a string", where)
    tenant = Tenant(tenant_id, display_name or default_domain, default_domain)
    _tokens(tenant, _typed(spec, "tokens", list, "a list", where) or [], where)
    _applications(tenant, _typed(spec, "applications", list, "a list", where) or [], where)
    tenant.premium = bool(_typed(spec, "premium", bool, "a boolean", where))
    for i, domain in enumerate(_typed(spec, "domains", list, "a list", where) or []):
        if isinstance(domain, str):
            domain = {"id": domain}
        if not isinstance(domain, dict) or not isinstance(domain.get("id"), str):
            raise FixtureError(f"{where}: domains[{i}]: each domain is a name or an object with "
                               "an 'id' (a string)")
        tenant.domains.append({"isVerified": True, **domain})
    for key in ("authorizationPolicy", "externalIdentitiesPolicy", "crossTenantAccessPolicy"):
        _typed(spec, key, dict, "an object", where)
    tenant.authorization_policy = {**copy.deepcopy(DEFAULT_AUTHORIZATION_POLICY),
                                   **copy.deepcopy(spec.get("authorizationPolicy") or {})}
    tenant.external_identities_policy = {
        **copy.deepcopy(DEFAULT_EXTERNAL_IDENTITIES_POLICY),
        **copy.deepcopy(spec.get("externalIdentitiesPolicy") or {})}
    policy = spec.get("crossTenantAccessPolicy") or {}
    for i, partner in enumerate(_typed(policy, "partners", list, "a list",
                                       f"{where}: crossTenantAccessPolicy") or []):
        at = f"{where}: crossTenantAccessPolicy.partners[{i}]"
        if not isinstance(partner, dict):
            raise FixtureError(f"{at}: expected an object")
        partner = copy.deepcopy(partner)
        partner_id = _require(partner, "tenantId", at)
        sync = _typed(partner, "identitySynchronization", dict, "an object", at)
        partner.pop("identitySynchronization", None)
        tenant.partners[partner_id.lower()] = partner
        if sync is not None:
            tenant.identity_sync[partner_id.lower()] = {"tenantId": partner_id, "displayName": None,
                                                        **sync}
    kinds: dict[str, str] = {}
    loaded = now_iso()
    managers: list[tuple[str, Any, str]] = []      # a user's "manager": a user id of this tenant
    for i, raw in enumerate(_typed(spec, "users", list, "a list", where) or []):
        at = f"{where}: users[{i}]"
        has_manager = isinstance(raw, dict) and "manager" in raw
        manager_id = raw.get("manager") if has_manager else None
        if has_manager:
            raw = {k: v for k, v in raw.items() if k != "manager"}
        uid = _user(tenant, raw, at, kinds, loaded)
        if has_manager:
            managers.append((uid, manager_id, at))
    for uid, manager_id, at in managers:
        if manager_id is None:
            continue
        if not isinstance(manager_id, str) or manager_id not in tenant.users or manager_id == uid:
            raise FixtureError(f"{at}: 'manager' must be the id of another user of this tenant "
                               f"(got {manager_id!r})")
        tenant.set_manager(uid, manager_id, record=False)
    groups = _typed(spec, "groups", list, "a list", where) or []
    group_ids: list[str] = []
    for i, raw in enumerate(groups):
        at = f"{where}: groups[{i}]"
        if not isinstance(raw, dict):
            raise FixtureError(f"{at}: expected an object")
        group = {k: copy.deepcopy(v) for k, v in raw.items() if k != "members"}
        for key, value in group.items():
            if tenant.group_props.canonical(key) != key:
                raise FixtureError(f"{at}: '{key}' is not a Graph group property")
            problem = value_problem("Group", key, value)
            if problem:
                raise FixtureError(f"{at}: {problem}")
        members = _typed(raw, "members", list, "a list of member ids", at) or []
        if not all(isinstance(m, str) for m in members):
            raise FixtureError(f"{at}: 'members' must be a list of member ids (strings)")
        group.setdefault("securityEnabled", True)
        group.setdefault("mailEnabled", False)
        group.setdefault("groupTypes", [])
        if group.get("id") in tenant.groups:
            raise FixtureError(f"{at}: duplicate id {group['id']}")
        group_ids.append(tenant.add_group(group, record=False)["id"])
    for i, (gid, raw) in enumerate(zip(group_ids, groups)):
        for member_id in raw.get("members") or []:
            kind = tenant.object_type(member_id)
            if kind is None:
                raise FixtureError(f"{where}: groups[{i}]: member {member_id} is not a user or "
                                   "group of this tenant")
            tenant.add_member(gid, member_id, kind, record=False)
    _service_principals(tenant, _typed(spec, "servicePrincipals", list, "a list", where) or [],
                        where)
    return tenant


_SP_FIELDS = ("id", "appId", "displayName", "appRoleId", "applicationTemplateId", "assignedTo")


def _service_principals(tenant: Tenant, entries: list, where: str) -> None:
    """`servicePrincipals`: configuration applications that exist already (as instantiating the
    template makes them, service_principals.py), with the users and groups assigned to them."""
    from tenantsync.emulator import service_principals as sps

    for i, raw in enumerate(entries):
        at = f"{where}: servicePrincipals[{i}]"
        if not isinstance(raw, dict):
            raise FixtureError(f"{at}: expected an object")
        for key in raw:
            if key not in _SP_FIELDS:
                raise FixtureError(f"{at}: unknown field '{key}' (fields: {', '.join(_SP_FIELDS)})")
        for key in ("id", "appId", "appRoleId"):
            if raw.get(key) is not None and not apps.is_guid(raw[key]):
                raise FixtureError(f"{at}: '{key}' must be a GUID")
        name = _require(raw, "displayName", at)
        template = str(raw.get("applicationTemplateId") or sps.CTS_TEMPLATE_ID).lower()
        if template not in sps.TEMPLATES:
            raise FixtureError(f"{at}: 'applicationTemplateId' must be one of "
                               f"{', '.join(sps.TEMPLATES)}")
        if (raw.get("id") or "").lower() in tenant.service_principals or (
                raw.get("appId") and apps.find_by_app_id(tenant, raw["appId"])):
            raise FixtureError(f"{at}: duplicate service principal {raw.get('id') or raw['appId']}")
        _app, sp = sps.create_service_principal(tenant, name, template, sp_id=raw.get("id"),
                                                app_id=raw.get("appId"),
                                                app_role_id=raw.get("appRoleId"))
        assigned = _typed(raw, "assignedTo", list, "a list of user or group ids", at) or []
        for principal in assigned:
            if not isinstance(principal, str) or tenant.object_type(principal.lower()) is None:
                raise FixtureError(f"{at}: assignedTo: {principal!r} is not a user or group of "
                                   "this tenant")
            try:
                sps.assign(tenant, sp, principal, sp["appRoles"][0]["id"])
            except GraphHttpError as exc:
                raise FixtureError(f"{at}: assignedTo: {exc.message}") from None


_TOKEN_FIELDS = ("token", "appId", "roles")


def _tokens(tenant: Tenant, entries: Any, where: str) -> None:
    """`tokens`: strings (every permission) or {"token", "appId", "roles"} (tokens.py)."""
    if not isinstance(entries, list):
        raise FixtureError(f"{where}: 'tokens' must be a list")
    for i, entry in enumerate(entries):
        at = f"{where}: tokens[{i}]"
        if isinstance(entry, str):
            entry = {"token": entry}
        if not isinstance(entry, dict):
            raise FixtureError(f"{at}: expected a string or an object with "
                               f"{', '.join(_TOKEN_FIELDS)}")
        for key in entry:
            if key not in _TOKEN_FIELDS:
                raise FixtureError(f"{at}: unknown field '{key}' (fields: "
                                   f"{', '.join(_TOKEN_FIELDS)})")
        token = entry.get("token")
        if not isinstance(token, str) or not token or any(c.isspace() for c in token):
            raise FixtureError(f"{at}: 'token' is required (a non-empty string without spaces)")
        if token in tenant.grants:
            raise FixtureError(f"{at}: duplicate token")
        app_id, roles = entry.get("appId"), entry.get("roles")
        if app_id is not None and not apps.is_guid(app_id):
            raise FixtureError(f"{at}: 'appId' must be a GUID")
        if roles is not None and (not isinstance(roles, list)
                                  or not all(isinstance(r, str) and r for r in roles)):
            raise FixtureError(f"{at}: 'roles' must be a list of permission names")
        jwt = claims(token)
        if jwt is not None:                    # a JWT-shaped token: its claims are the facts
            app_id, roles = _from_claims(tenant, jwt, app_id, roles, at)
        tenant.tokens.append(token)
        tenant.grants[token] = ((app_id or plain_app_id(token)).lower(),
                                None if roles is None else frozenset(roles))


def _from_claims(tenant: Tenant, jwt: dict, app_id: str | None, roles: list | None,
                 at: str) -> tuple[str | None, list | None]:
    tid, c_app, c_roles = jwt.get("tid"), jwt.get("appid"), jwt.get("roles", [])
    if tid is not None and str(tid).lower() != tenant.id.lower():
        raise FixtureError(f"{at}: the token's 'tid' claim names another tenant ({tid})")
    if c_app is not None and not apps.is_guid(c_app):
        raise FixtureError(f"{at}: the token's 'appid' claim is not a GUID")
    if not isinstance(c_roles, list) or not all(isinstance(r, str) for r in c_roles):
        raise FixtureError(f"{at}: the token's 'roles' claim is not a list of names")
    if app_id is not None and c_app is not None and app_id.lower() != c_app.lower():
        raise FixtureError(f"{at}: 'appId' contradicts the token's 'appid' claim")
    if roles is not None and set(roles) != set(c_roles):
        raise FixtureError(f"{at}: 'roles' contradict the token's 'roles' claim")
    return app_id or c_app, c_roles          # no roles claim: no application permission


def _applications(tenant: Tenant, entries: Any, where: str) -> None:
    """`applications` with their `extensionProperties`; then one per token's appId if missing."""
    if not isinstance(entries, list):
        raise FixtureError(f"{where}: 'applications' must be a list")
    for i, raw in enumerate(entries):
        at = f"{where}: applications[{i}]"
        if not isinstance(raw, dict):
            raise FixtureError(f"{at}: expected an object")
        for key in raw:
            if key not in ("id", "appId", "displayName", "extensionProperties"):
                raise FixtureError(f"{at}: unknown field '{key}' (fields: id, appId, "
                                   "displayName, extensionProperties)")
        app_id, object_id = raw.get("appId"), raw.get("id")
        if not apps.is_guid(app_id):
            raise FixtureError(f"{at}: 'appId' is required (a GUID)")
        if object_id is not None and not apps.is_guid(object_id):
            raise FixtureError(f"{at}: 'id' must be a GUID")
        if apps.find_by_app_id(tenant, app_id) or (object_id or "").lower() in tenant.applications:
            raise FixtureError(f"{at}: duplicate application {object_id or app_id}")
        name = raw.get("displayName")
        if name is not None and not isinstance(name, str):
            raise FixtureError(f"{at}: 'displayName' must be a string")
        app = apps.add_application(tenant, app_id, name, object_id and object_id.lower())
        props = raw.get("extensionProperties", [])
        if not isinstance(props, list):
            raise FixtureError(f"{at}: 'extensionProperties' must be a list")
        for j, ext in enumerate(props):
            ext = dict(ext) if isinstance(ext, dict) else ext
            if isinstance(ext, dict) and isinstance(ext.get("name"), str):
                prefix = apps.extension_name(app["appId"], "")
                if ext["name"].startswith(prefix):     # the full name is accepted too
                    ext["name"] = ext["name"][len(prefix):]
                elif ext["name"].startswith("extension_"):
                    raise FixtureError(f"{at} extensionProperties[{j}]: 'name' is the short name "
                                       f"or {prefix}<name> (this application's appId)")
            try:
                apps.register_extension(tenant, app, ext)
            except GraphHttpError as exc:
                raise FixtureError(f"{at} extensionProperties[{j}]: {exc.message}") from None
    for app_id, _roles in tenant.grants.values():
        if apps.find_by_app_id(tenant, app_id) is None:
            apps.add_application(tenant, app_id)


def _copy(value: Any) -> Any:
    """Deep copy of JSON data (much cheaper than copy.deepcopy)."""
    if isinstance(value, list):
        return [_copy(v) for v in value]
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    return value


def _key_kind(tenant: Tenant, key: str) -> str:
    if key in USER_FIXTURE_ONLY:
        return "extra"
    if tenant.user_props.canonical(key) == key:
        return "prop"
    return "extension" if looks_like_extension(key) else "bad"


def _user(tenant: Tenant, raw: Any, where: str, kinds: dict[str, str], loaded: str) -> str:
    if not isinstance(raw, dict):
        raise FixtureError(f"{where}: expected an object")
    user: dict = {}
    extra: dict = {}
    for key, value in raw.items():
        kind = kinds.get(key)
        if kind is None:
            kind = kinds[key] = _key_kind(tenant, key)   # memo: 100,000-user fixtures load fast
        if kind == "prop":
            ext = tenant.user_props.extensions.get(key)
            problem = value_problem("User", key, value) if ext is None else (
                None if valid_extension_value(ext, value)
                else f"'{key}' is not a valid {ext.get('dataType', '')} value")
            if problem:
                raise FixtureError(f"{where}: {problem}")
            # copy containers only: the caller's fixture must not change under the emulator
            user[key] = _copy(value) if isinstance(value, (list, dict)) else value
        elif kind == "extra":
            if value is not None and not isinstance(value, str):
                raise FixtureError(f"{where}: '{key}' must be a string")
            extra[key] = value
        elif kind == "extension":
            raise FixtureError(f"{where}: '{key}' is not a directory extension registered in this "
                               "tenant (list it under an application's 'extensionProperties')")
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
    return str(user["id"])
