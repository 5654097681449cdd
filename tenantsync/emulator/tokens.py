"""Emulator access tokens: the unsigned JWT shape, its claims, and the appId of an opaque token.

Why JWT-shaped: Microsoft Graph's app-only access tokens are JWTs whose `roles` claim lists the
application permissions granted to the app ("Microsoft identity platform access tokens", claims
reference: aud, iss, tid, appid, roles, idtyp). A fixture that carries such a token lets the
product read what it holds exactly as it would against Graph. The emulator signs nothing
(`alg: none`); it trusts the fixture, not the signature.

An opaque token (any other string) names an application whose appId is derived from the token,
so the same token always means the same application (and the token itself appears nowhere).
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

GRAPH_AUDIENCE = "https://graph.microsoft.com"
_APP_NAMESPACE = "tenantsync-emulator-app:"


def plain_app_id(token: str) -> str:
    """The appId of an opaque token: stable, derived from the token, never revealing it."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, _APP_NAMESPACE + token))


def _b64(data: dict) -> str:
    raw = json.dumps(data, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(part: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def app_token(tenant_id: str, app_id: str, roles: list[str] | tuple[str, ...] | frozenset[str],
              *, lifetime_s: int = 3600) -> str:
    """An unsigned app-only access token for `app_id` in `tenant_id` holding `roles`.

    Claims as in Graph's v1 app tokens: aud, iss, tid, appid, roles, idtyp "app", iat/nbf/exp.
    The emulator does not check exp (fixtures outlive any lifetime); clients may.
    """
    now = int(time.time())
    payload = {"aud": GRAPH_AUDIENCE, "iss": f"https://sts.windows.net/{tenant_id}/",
               "tid": tenant_id, "appid": app_id, "roles": sorted(set(roles)), "idtyp": "app",
               "iat": now, "nbf": now, "exp": now + int(lifetime_s), "ver": "1.0"}
    return f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(payload)}."


def claims(token: str) -> dict | None:
    """The payload of a JWT-shaped token (header.payload.signature, base64url JSON), else None."""
    parts = token.split(".")
    if len(parts) != 3 or not parts[0] or not parts[1]:
        return None
    try:
        header, payload = _unb64(parts[0]), _unb64(parts[1])
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(header, dict) or not isinstance(payload, dict):
        return None
    return payload
