"""Control API under /_emulator (never Graph, never throttled or faulted).

POST  /_emulator/reset                                 body: a fixture, or {"path": file} of
                                                       a file inside the folder of the fixture
                                                       the emulator started with (nowhere else);
                                                       replaces every tenant
POST  /_emulator/tenants/{tid}/users/{uid}/redeem      the guest accepts its invitation
POST  /_emulator/tenants/{tid}/users/{uid}/leave       the B2B user leaves the organisation: its
                                                       account is removed for good and listed in
                                                       `departures` of the dump; `?mode=soft`
                                                       leaves it in deleted items instead (what
                                                       Entra does; the engine reads that as an
                                                       admin's delete, so hard is the default)
POST  /_emulator/faults                                body: {"spec": "rate=..,codes=.."} or the
                                                       spec string, or {"rate":..,"codes":[..]};
                                                       "" turns faults off
GET   /_emulator/faults                                current fault settings
GET   /_emulator/stats        POST /_emulator/stats/reset
POST  /_emulator/expire-delta-tokens                   every delta link and delta nextLink issued
                                                       so far answers 410 Gone (syncStateNotFound,
                                                       with a Location), as an expired one does
GET   /_emulator/tenants/{tid}/dump                    tenant, users (every property, extension and
                                                       fixture fields included), deletedItems,
                                                       groups with members, invitations, departures,
                                                       the provisioning service's state (service
                                                       principals, appRoleAssignments, secret keys
                                                       without values, synchronization jobs with
                                                       schedule and status, provisioningLogCount)
PATCH /_emulator/tenants/{tid}/users/{uid}             set fields without Graph validation:
                                                       fixture fields (smsSignInState, phoneNumber)
                                                       and any user property (recorded for delta)
GET   /_emulator/health
Errors answer {"error": {"code", "message"}} with 400 or 404.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tenantsync.emulator import sync_state
from tenantsync.emulator.directory import Tenant
from tenantsync.emulator.fixture import FixtureError
from tenantsync.emulator.protocol import dumps, loads, now_iso
from tenantsync.emulator.schema import USER_FIXTURE_ONLY


class _Json(JSONResponse):
    def render(self, content: Any) -> bytes:
        return dumps(content)


def _error(status: int, code: str, message: str) -> Response:
    return _Json({"error": {"code": code, "message": message}}, status_code=status)


def _emulator(request: Request):
    return request.app.state.emulator


def _tenant(request: Request) -> Tenant | None:
    return _emulator(request).directory.tenant(request.path_params["tid"])


async def _json(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        return None
    try:
        return loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")


async def health(request: Request) -> Response:
    """GET /_emulator/health."""
    return _Json({"status": "ok", "tenants": len(_emulator(request).directory.tenants)})


async def reset(request: Request) -> Response:
    """POST /_emulator/reset."""
    body = await _json(request)
    if body is None:
        body = {"tenants": []}
    elif isinstance(body, dict) and set(body) == {"path"}:
        body = _fixture_in_folder(_emulator(request).fixture_dir, body["path"])
        if isinstance(body, Response):
            return body
    elif not isinstance(body, dict):
        return _error(400, "InvalidFixture", 'expected a fixture {"tenants": [...]} or '
                      '{"path": "fixture.json"}')
    try:
        _emulator(request).load(body)
    except FixtureError as exc:
        return _error(400, "InvalidFixture", str(exc))
    from tenantsync.emulator.sync_runner import drop_jobs

    drop_jobs(_emulator(request))        # the old tenants' synchronization jobs stop now
    return _Json({"tenants": [t.id for t in _emulator(request).directory.tenants.values()]})


def _fixture_in_folder(folder: Path | None, name: Any) -> Any:
    """The fixture at `name`, only inside `folder` (that of the fixture the emulator started
    with), else a 403: the control API has no authentication, so it must not read arbitrary files
    of the machine (/etc/passwd, a key file) for whoever can reach the port. A relative name is
    taken inside the folder; symbolic links are resolved first, so none leads out of it."""
    if folder is None:
        return _error(403, "PathNotAllowed", "this emulator was not started with a fixture file: "
                      "send the fixture itself as the body")
    if not isinstance(name, str) or not name or "\0" in name:
        return _error(400, "InvalidFixture", "'path' must be a file name")
    target = (folder / name).resolve()
    if not target.is_relative_to(folder) or not target.is_file():
        return _error(403, "PathNotAllowed", f"'path' must name a fixture file inside {folder} "
                      "(the folder of the emulator's fixture); send other fixtures as the body")
    try:
        fd = os.open(target, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        return _error(400, "InvalidFixture", f"cannot read fixture {name}: {exc.strerror}")
    try:
        return loads(raw)
    except ValueError as exc:
        return _error(400, "InvalidFixture", f"{name}: not JSON: {exc}")


def _user_or_error(request: Request) -> tuple[Tenant, dict] | Response:
    """(tenant, live user) named by the path, or the 404 to answer."""
    tenant = _tenant(request)
    if tenant is None:
        return _error(404, "TenantNotFound", f"no tenant {request.path_params['tid']}")
    user = tenant.find_user(request.path_params["uid"])
    if user is None:
        return _error(404, "UserNotFound", f"no live user {request.path_params['uid']}")
    return tenant, user


def _full_user(tenant: Tenant, user: dict) -> dict:
    full = {**copy.deepcopy(user), **tenant.fixture_fields.get(user["id"], {})}
    if user["id"] in tenant.managers:          # as a fixture writes it: the manager's id
        full["manager"] = tenant.managers[user["id"]]
    return full


async def redeem(request: Request) -> Response:
    """POST /_emulator/tenants/{tid}/users/{uid}/redeem."""
    found = _user_or_error(request)
    if isinstance(found, Response):
        return found
    tenant, user = found
    if user.get("externalUserState") != "Accepted":
        tenant.update_user(user["id"], {"externalUserState": "Accepted",
                                        "externalUserStateChangeDateTime": now_iso()})
    return _Json(_full_user(tenant, user))


async def leave(request: Request) -> Response:
    """POST /_emulator/tenants/{tid}/users/{uid}/leave."""
    found = _user_or_error(request)
    if isinstance(found, Response):
        return found
    tenant, user = found
    record = {"id": user["id"], "userPrincipalName": user.get("userPrincipalName"),
              "mail": user.get("mail"), "leftDateTime": now_iso()}
    # Modelled as the B2B account disappearing for good: an account sitting in deleted items is
    # read by the engine as deleted by a target administrator (not restored, as documented).
    mode = request.query_params.get("mode", "hard")
    if mode not in ("hard", "soft"):
        return _error(400, "InvalidMode", "mode must be hard or soft")
    tenant.soft_delete_user(user["id"])
    if mode == "hard":
        tenant.hard_delete_user(user["id"])
    record["mode"] = mode
    tenant.departures.append(record)
    return _Json(record)


async def set_faults(request: Request) -> Response:
    """POST /_emulator/faults."""
    body = await _json(request)
    spec = body.get("spec", "") if isinstance(body, dict) and "spec" in body else body
    try:
        _emulator(request).set_faults(spec or None)
    except (ValueError, TypeError) as exc:
        return _error(400, "InvalidFaultSpec", str(exc))
    return await get_faults(request)


async def get_faults(request: Request) -> Response:
    """GET /_emulator/faults."""
    spec = _emulator(request).faults.spec
    return _Json({"rate": spec.rate, "codes": list(spec.codes), "latency_ms": spec.latency_ms,
                  "seed": spec.seed, "active": spec.active})


async def expire_delta_tokens(request: Request) -> Response:
    """POST /_emulator/expire-delta-tokens."""
    emulator = _emulator(request)
    return _Json({"deltaEpoch": emulator.expire_delta_tokens(),
                  "deltaTokenTtlSeconds": emulator.delta_token_ttl})


async def stats(request: Request) -> Response:
    """GET /_emulator/stats."""
    return _Json(_emulator(request).stats.snapshot())


async def reset_stats(request: Request) -> Response:
    """POST /_emulator/stats/reset."""
    emulator = _emulator(request)
    emulator.stats.reset()
    return _Json(emulator.stats.snapshot())


async def dump(request: Request) -> Response:
    """GET /_emulator/tenants/{tid}/dump."""
    tenant = _tenant(request)
    if tenant is None:
        return _error(404, "TenantNotFound", f"no tenant {request.path_params['tid']}")
    partners = []
    for key, partner in tenant.partners.items():
        entry = copy.deepcopy(partner)
        if key in tenant.identity_sync:
            entry["identitySynchronization"] = copy.deepcopy(tenant.identity_sync[key])
        partners.append(entry)
    return _Json({
        "tenant": {"id": tenant.id, "displayName": tenant.display_name,
                   "defaultDomain": tenant.default_domain, "domains": tenant.domains,
                   "premium": tenant.premium, "authorizationPolicy": tenant.authorization_policy,
                   "crossTenantAccessPolicy": {"partners": partners},
                   "identitySynchronizationWithoutPartner": [
                       s for k, s in tenant.identity_sync.items() if k not in tenant.partners],
                   "changeSequence": tenant.seq},
        "users": [_full_user(tenant, u) for u in tenant.users.values()],
        "deletedItems": [_full_user(tenant, u) for u in tenant.deleted.values()],
        "groups": [{**g, "members": list(tenant.members[g["id"]])}
                   for g in tenant.groups.values()],
        "invitations": tenant.invitations,
        "departures": tenant.departures,
        **sync_state.dump(tenant),           # the provisioning service's state (secret keys only)
    })


async def patch_user(request: Request) -> Response:
    """PATCH /_emulator/tenants/{tid}/users/{uid}."""
    found = _user_or_error(request)
    if isinstance(found, Response):
        return found
    tenant, user = found
    body = await _json(request)
    if not isinstance(body, dict):
        return _error(400, "InvalidBody", "expected a JSON object of fields")
    graph: dict = {}
    extra = tenant.fixture_fields.setdefault(user["id"], {})
    for key, value in body.items():
        if key in USER_FIXTURE_ONLY:
            if value is None:
                extra.pop(key, None)
            else:
                extra[key] = value
            continue
        name = tenant.user_props.canonical(key)       # registered extensions only
        if name is None:
            return _error(400, "UnknownField", f"'{key}' is neither a Graph user property nor "
                          f"a fixture field ({', '.join(sorted(USER_FIXTURE_ONLY))})")
        graph[name] = value
    if graph:
        tenant.update_user(user["id"], graph)
    return _Json(_full_user(tenant, user))


async def _not_found(request: Request, exc: Exception) -> Response:
    status = getattr(exc, "status_code", 404)
    if status == 405:
        return _error(405, "MethodNotAllowed", f"{request.method} is not allowed on "
                      f"{request.url.path}")
    return _error(404, "NotFound", f"no control endpoint {request.url.path} (see "
                  "docs/internals.md, emulator control API)")


def exception_handlers() -> dict:
    """Unknown control paths answer the control API's JSON error, not a plain-text 404."""
    return {404: _not_found, 405: _not_found}


def routes() -> list[Route]:
    """Starlette routes of the control API."""
    user = "/_emulator/tenants/{tid}/users/{uid}"
    return [
        Route("/_emulator/health", health, methods=["GET"]),
        Route("/_emulator/reset", reset, methods=["POST"]),
        Route(user + "/redeem", redeem, methods=["POST"]),
        Route(user + "/leave", leave, methods=["POST"]),
        Route(user, patch_user, methods=["PATCH"]),
        Route("/_emulator/faults", set_faults, methods=["POST"]),
        Route("/_emulator/faults", get_faults, methods=["GET"]),
        Route("/_emulator/expire-delta-tokens", expire_delta_tokens, methods=["POST"]),
        Route("/_emulator/stats", stats, methods=["GET"]),
        Route("/_emulator/stats/reset", reset_stats, methods=["POST"]),
        Route("/_emulator/tenants/{tid}/dump", dump, methods=["GET"]),
    ]
