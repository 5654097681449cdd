"""What one cycle of an emulated synchronization job needs: its SyncConfig, its tokens, its policy
check and one run of tenantsync's engine (sync_runner.py schedules the runs).

The job's configuration comes from the job itself, as Microsoft's provisioning service reads it
(cross-tenant-synchronization-configure-graph):
- source = the tenant holding the service principal; target = the secret CompanyId;
- scope = the secret SyncAll ("true": all users) else the users and groups assigned to the
  service principal (appRoleAssignedTo);
- mappings and scoping filters = the job's synchronizationSchema (tenantsync/syncschema.py);
- deletion threshold = the JSON secret SyncNotificationSettings. Its documented example shows
  DeleteThresholdEnabled only; the key of the number is not documented: emulator decision, the
  number is read from DeleteThresholdValue (default 500, accidental-deletions).
The service calls Graph with tokens minted here (tokens.app_token): in both tenants as the sync
application's appId (emulator decision), holding the permissions tenantsync/permissions.py lists.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from pydantic import SecretStr

from tenantsync import permissions
from tenantsync.config import SyncConfig
from tenantsync.cycle import CycleOptions, CycleReport, drive, entra_cycle
from tenantsync.emulator import applications as apps
from tenantsync.emulator.directory import Tenant
from tenantsync.emulator.protocol import GraphHttpError, GraphRequest, dumps, loads, parse_query
from tenantsync.emulator.tokens import app_token
from tenantsync.errors import GraphError
from tenantsync.graph.api import GraphApi
from tenantsync.graph.connection import AuthSettings, GraphConnection
from tenantsync.preflight import prepare_cycle, record_credential_failure
from tenantsync.store import Store
from tenantsync.syncschema import config_parts_from_schema

DEFAULT_THRESHOLD = 500
CHECK_FAILURE = "AzureDirectoryB2BManagementPolicyCheckFailure"   # cross-tenant-synchronization-configure
TOKEN_LIFETIME_S = 10 * 365 * 24 * 3600
# Target attributes of the default Azure2Azure mappings that Microsoft's service writes inside Entra,
# not through Graph (the user resource page: showInAddressList "Do not use in Microsoft Graph"). The
# engine would drop them and log an AttributeNotWritableInGraph warning row per cycle, which the
# service never shows for its own mappings: emulator decision, the job's engine does not map them.
SERVICE_WRITES = frozenset({"showInAddressList"})


def secrets_of(tenant: Tenant, sp_id: str) -> dict[str, str]:
    return {str(s.get("key")): str(s.get("value")) for s in tenant.sync_secrets.get(sp_id, [])}


def deletion_threshold(secrets: dict[str, str]) -> int:
    """SyncNotificationSettings: DeleteThresholdEnabled false -> no threshold (0); the number from
    DeleteThresholdValue (emulator decision: the key is not documented)."""
    try:
        settings = json.loads(secrets.get("SyncNotificationSettings") or "{}")
    except ValueError:
        settings = {}
    if not isinstance(settings, dict):
        return DEFAULT_THRESHOLD
    if settings.get("DeleteThresholdEnabled") is False:
        return 0
    try:
        return max(0, int(settings.get("DeleteThresholdValue", DEFAULT_THRESHOLD)))
    except (TypeError, ValueError):
        return DEFAULT_THRESHOLD


def policy_problem(tenants: dict[str, Tenant], source: Tenant, credentials: dict[str, str]) -> str | None:
    """Why the target refuses synchronization from ``source`` (None: it allows it). The target's
    cross-tenant access policy must allow inbound user sync from the source, and automatic
    redemption must be on outbound in the source and inbound in the target
    (cross-tenant-synchronization-configure-graph)."""
    if credentials.get("AuthenticationType", "SyncPolicy") != "SyncPolicy":
        return "AuthenticationType must be SyncPolicy for cross-tenant synchronization."
    target_id = (credentials.get("CompanyId") or "").lower()
    target = tenants.get(target_id)
    if not target_id or target is None:
        return f"The target tenant '{credentials.get('CompanyId') or ''}' was not found."
    sync = (target.identity_sync.get(source.id.lower()) or {}).get("userSyncInbound") or {}
    if sync.get("isSyncAllowed") is not True:
        return (f"The target tenant {target.id} does not allow user synchronization from {source.id} "
                "(crossTenantAccessPolicy partners identitySynchronization userSyncInbound.isSyncAllowed).")
    inbound = ((target.partners.get(source.id.lower()) or {}).get("automaticUserConsentSettings") or {})
    outbound = ((source.partners.get(target.id.lower()) or {}).get("automaticUserConsentSettings") or {})
    if inbound.get("inboundAllowed") is not True or outbound.get("outboundAllowed") is not True:
        return "Policy permitting auto-redemption of invitations not configured."
    return None


def refusal(problem: str) -> GraphHttpError:
    """validateCredentials' answer (the page documents 204 only; emulator decision: 400 with the code
    the portal's test connection shows)."""
    return GraphHttpError(400, CHECK_FAILURE, "You appear to have entered invalid credentials. " + problem)


def config_name(job_id: str) -> str:
    return "job-" + hashlib.sha1(job_id.encode()).hexdigest()[:16]


def job_config(directory: Any, tenant: Tenant, job: Any, base: str, tokens: dict[tuple[str, str], str]
               ) -> SyncConfig:
    """The SyncConfig a job's cycles run (module docstring). ValueError: the target is unknown or
    nothing is assigned. ``tokens`` keeps the tokens minted for the job (one per tenant)."""
    secrets = secrets_of(tenant, job.sp_id)
    target = directory.tenant(secrets.get("CompanyId") or "")
    if target is None:
        raise ValueError(f"The target tenant '{secrets.get('CompanyId') or ''}' was not found.")
    mappings, filters = config_parts_from_schema(job.schema)
    mappings = [m for m in mappings if m.target not in SERVICE_WRITES]
    if (secrets.get("SyncAll") or "false").lower() == "true":
        scope: dict[str, Any] = {"mode": "all"}
    else:
        assigned = [a for a in list(tenant.app_role_assignments)
                    if (a.get("resourceId") or "").lower() == job.sp_id.lower()]
        users = [a["principalId"] for a in assigned if a.get("principalType") == "User"]
        groups = [a["principalId"] for a in assigned if a.get("principalType") == "Group"]
        if not users and not groups:
            raise ValueError("No users or groups are assigned to the application, and SyncAll is not true: "
                             "cross-tenant synchronization needs at least one assignment.")
        scope = {"mode": "assigned", "assignments": {"users": users, "groups": groups}}
    scope["filters"] = [[c.model_dump(exclude_none=True) for c in g] for g in filters]
    app_id = str(tenant.service_principals[job.sp_id].get("appId") or job.sp_id)
    conns = {}
    for side, side_tenant in (("source", tenant), ("target", target)):
        key = (side, side_tenant.id)
        if key not in tokens:
            tokens[key] = mint(directory, side_tenant, app_id, permissions.needed(side))  # type: ignore[arg-type]
        conns[side] = GraphConnection(name=side, tenant_id=side_tenant.id, graph_url=f"{base}/v1.0",
                                      allow_http=True, auth=AuthSettings(kind="static_token", client_id=app_id,
                                                                         secret=SecretStr(tokens[key])))
    return SyncConfig.model_validate({
        "name": config_name(job.id), "source": {"connection": "source"}, "target": {"connection": "target"},
        "scope": scope, "mappings": [m.model_dump() for m in mappings], "default_mappings": False,
        "settings": {"deletion_threshold": deletion_threshold(secrets)}, "connections": conns})


def mint(directory: Any, tenant: Tenant, app_id: str, roles: list[str]) -> str:
    """A new app token of the sync application in ``tenant``, known to the emulator from now on."""
    token = app_token(tenant.id, app_id, roles, lifetime_s=TOKEN_LIFETIME_S)
    tenant.grants[token] = (app_id.lower(), frozenset(roles))
    tenant.tokens.append(token)
    directory.by_token[token] = tenant
    if apps.find_by_app_id(tenant, app_id) is None:
        apps.add_application(tenant, app_id)
    return token


class InProcess(httpx.AsyncBaseTransport):
    """Graph calls answered by Emulator.handle in the caller's thread. For provisionOnDemand only:
    its route runs on the server's event loop, which an HTTP call back to the same server would
    wait for forever (emulator decision; the calls are throttled and counted all the same)."""

    def __init__(self, emulator: Any, base: str) -> None:
        self.emulator, self.base = emulator, base

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        raw = await request.aread()
        path = request.url.path
        version, rest = path[1:5], path[5:] or "/"
        query, refused = parse_query(request.url.query.decode("latin-1"))
        body = None
        if raw:
            try:
                body = loads(raw)
            except ValueError:
                body = raw
        req = GraphRequest(method=request.method.upper(), path=rest, query=query, refusal=refused,
                           headers={k.lower(): v for k, v in request.headers.items()}, body=body,
                           base=self.base, version=version)
        resp = self.emulator.handle(req)
        if resp.drop:
            raise httpx.ReadError("connection dropped", request=request)
        content = b"" if resp.body is None else (resp.body.encode() if isinstance(resp.body, str)
                                                   else resp.body if isinstance(resp.body, bytes)
                                                   else dumps(resp.body))
        return httpx.Response(resp.status, headers=resp.headers, content=content, request=request)


@contextmanager
def apis(cfg: SyncConfig, transport: httpx.AsyncBaseTransport | None) -> Iterator[tuple[GraphApi, GraphApi]]:
    source = GraphApi(cfg.connection("source"), read_only=True, transport=transport)
    try:
        target = GraphApi(cfg.connection("target"), transport=transport)
    except BaseException:
        source.close()
        raise
    try:
        yield source, target
    finally:
        source.close()
        target.close()


def run_engine(cfg: SyncConfig, store: Store, options: CycleOptions,
               transport: httpx.AsyncBaseTransport | None = None) -> CycleReport:
    """One tenantsync cycle (service.open_cycle's steps, with the job's own clients)."""
    with apis(cfg, transport) as (source, target):
        try:
            ready = prepare_cycle(cfg, source, target, store, on_demand=bool(options.user_ids))
        except GraphError as exc:
            record_credential_failure(cfg, store, options, exc)
            raise
        cycle = entra_cycle(cfg, source_api=source, target_api=target, store=store, options=options,
                            anchor_attribute=ready.anchor_attribute)
        return drive(cycle)
