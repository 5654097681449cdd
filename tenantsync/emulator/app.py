"""The route table and the ASGI application.

/v1.0/... is served by a thin raw-ASGI layer (fast, and able to drop a connection for fault
injection); /_emulator/... is a Starlette app (control.py). Repeated slashes are collapsed
everywhere, because SDK base-URL mistakes produce `/v1.0//users`.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any, Awaitable, Callable
from urllib.parse import parse_qsl

from starlette.applications import Starlette

from tenantsync.emulator import (batch, control, delta, groups, invitations, phone, policies,
                                 users)
from tenantsync.emulator.core import Emulator
from tenantsync.emulator.faults import FaultSpec
from tenantsync.emulator.protocol import GraphRequest, dumps, loads, normalize_query
from tenantsync.emulator.routing import Route, Router

_PHONE = "/users/{id}/authentication/phoneMethods"
_PARTNERS = "/policies/crossTenantAccessPolicy/partners"
_SYNC = _PARTNERS + "/{tenant_id}/identitySynchronization"

# Literal routes before parameterised ones: the first match wins.
ROUTES: list[Route] = [
    Route("POST", "/$batch", batch.handle_batch),
    Route("GET", "/users/delta", delta.users_delta, ("/users/delta()",)),
    Route("GET", "/users/$count", users.count_users),
    Route("GET", "/users", users.list_users),
    Route("POST", "/users", users.create_user),
    Route("GET", _PHONE, phone.list_phone_methods),
    Route("GET", _PHONE + "/{method_id}", phone.get_phone_method),
    Route("POST", _PHONE + "/{method_id}/disableSmsSignIn", phone.disable_sms_sign_in),
    Route("POST", _PHONE + "/{method_id}/enableSmsSignIn", phone.enable_sms_sign_in),
    Route("GET", "/users/{id}", users.get_user),
    Route("PATCH", "/users/{id}", users.update_user),
    Route("DELETE", "/users/{id}", users.delete_user),
    Route("GET", "/directory/deletedItems/microsoft.graph.user", users.list_deleted_users,
          ("/directory/deletedItems/graph.user",)),
    Route("GET", "/directory/deletedItems/{id}", users.get_deleted_item),
    Route("DELETE", "/directory/deletedItems/{id}", users.delete_deleted_item),
    Route("POST", "/directory/deletedItems/{id}/restore", users.restore_deleted_item),
    Route("POST", "/directoryObjects/getByIds", users.get_by_ids),
    Route("GET", "/groups/delta", delta.groups_delta, ("/groups/delta()",)),
    Route("GET", "/groups", groups.list_groups),
    Route("POST", "/groups", groups.create_group),
    Route("GET", "/groups/{id}/members", groups.list_members),
    Route("POST", "/groups/{id}/members/$ref", groups.add_member_ref),
    Route("DELETE", "/groups/{id}/members/{member_id}/$ref", groups.remove_member_ref),
    Route("GET", "/groups/{id}", groups.get_group),
    Route("PATCH", "/groups/{id}", groups.update_group),
    Route("DELETE", "/groups/{id}", groups.delete_group),
    Route("POST", "/invitations", invitations.create_invitation),
    Route("GET", "/domains", policies.list_domains),
    Route("GET", "/domains/{id}", policies.get_domain),
    Route("GET", "/organization", policies.list_organization),
    Route("GET", "/organization/{id}", policies.get_organization),
    Route("GET", "/policies/authorizationPolicy", policies.get_authorization_policy,
          ("/policies/authorizationPolicy/authorizationPolicy",)),
    Route("PATCH", "/policies/authorizationPolicy", policies.update_authorization_policy,
          ("/policies/authorizationPolicy/authorizationPolicy",)),
    Route("GET", _PARTNERS, policies.list_partners),
    Route("POST", _PARTNERS, policies.create_partner),
    Route("GET", _SYNC, policies.get_identity_sync),
    Route("PUT", _SYNC, policies.put_identity_sync),
    Route("PATCH", _SYNC, policies.update_identity_sync),
    Route("DELETE", _SYNC, policies.delete_identity_sync),
    Route("GET", _PARTNERS + "/{tenant_id}", policies.get_partner),
    Route("PATCH", _PARTNERS + "/{tenant_id}", policies.update_partner),
    Route("DELETE", _PARTNERS + "/{tenant_id}", policies.delete_partner),
]
ROUTER = Router(ROUTES)

_SLASHES = re.compile(r"/{2,}")
_STATIC_HEADERS = [(b"odata-version", b"4.0"), (b"cache-control", b"no-cache"),
                   (b"strict-transport-security", b"max-age=31536000")]

ASGIApp = Callable[[dict, Callable[[], Awaitable[dict]], Callable[[dict], Awaitable[None]]],
                   Awaitable[None]]


def create_emulator(fixture: dict | str | Path | None, *, throttle: str | None = None,
                    time_scale: float = 1.0, faults: str | dict | FaultSpec | None = None,
                    latency_ms: int = 0) -> Emulator:
    """An Emulator wired to the route table."""
    return Emulator(fixture, router=ROUTER, throttle=throttle, time_scale=time_scale,
                    faults=faults, latency_ms=latency_ms)


async def _read_body(receive: Callable[[], Awaitable[dict]]) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    return b"".join(chunks)


async def _drop(send: Callable[[dict], Awaitable[None]]) -> None:
    """Close the connection without answering (uvicorn exposes its transport on `send`)."""
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        raise ConnectionAbortedError("fault injection: connection dropped")
    transport.close()
    if hasattr(cycle, "disconnected"):
        cycle.disconnected = True        # so uvicorn does not try to answer a 500 afterwards


async def _serve_graph(emulator: Emulator, scope: dict, receive: Any, send: Any) -> None:
    raw = await _read_body(receive)
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
    body: Any = None
    if raw:
        try:
            body = loads(raw)
        except ValueError:
            body = raw                  # handlers answer 400 for a body that is not JSON
    server = scope.get("server") or ("127.0.0.1", 80)
    host = headers.get("host") or f"{server[0]}:{server[1]}"
    req = GraphRequest(method=scope["method"].upper(), path=scope["path"][5:] or "/",
                       query=normalize_query(parse_qsl(scope["query_string"].decode("latin-1"),
                                                       keep_blank_values=True)),
                       headers=headers, body=body, base=f"{scope.get('scheme', 'http')}://{host}")
    delay = emulator.delay_seconds
    if delay > 0:
        await asyncio.sleep(delay)
    resp = emulator.handle(req)
    if resp.drop:
        await _drop(send)
        return
    if resp.body is None:
        content = b""
    elif isinstance(resp.body, str):
        content = resp.body.encode()
    elif isinstance(resp.body, bytes):
        content = resp.body
    else:
        content = dumps(resp.body)
    out = [(k.lower().encode("latin-1"), str(v).encode("latin-1")) for k, v in resp.headers.items()]
    out += _STATIC_HEADERS
    out.append((b"content-length", str(len(content)).encode()))
    await send({"type": "http.response.start", "status": resp.status, "headers": out})
    await send({"type": "http.response.body", "body": content})


def build_app(emulator: Emulator) -> ASGIApp:
    """The ASGI application serving `emulator`."""
    control_app = Starlette(routes=control.routes())
    control_app.state.emulator = emulator

    async def app(scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            if "//" in path:
                path = _SLASHES.sub("/", path)
                scope = {**scope, "path": path}
            if path == "/v1.0" or path.startswith("/v1.0/"):
                await _serve_graph(emulator, scope, receive, send)
                return
        await control_app(scope, receive, send)

    app.emulator = emulator  # type: ignore[attr-defined]
    return app
