"""What an access token says about its application: granted roles, appId, tenant.

Microsoft Entra access tokens for Graph are JWTs; an app-only token carries the granted
application permissions in its ``roles`` claim, the calling application in ``appid`` (v1 tokens)
or ``azp`` (v2), and the tenant in ``tid`` (Microsoft identity platform "Access token claims
reference"). The product only *reads* these claims to tell an administrator what is missing: it
never verifies the signature (Graph does that) and never trusts the claims for anything else.

A token that is not JWT-shaped (an opaque emulator token) has unknown roles: that is not a failure,
Graph's own 403s then say what is missing. A delegated token (``scp`` claim, no ``idtyp: app``)
also has unknown application roles: tenantsync asks for application permissions only.
The token itself is never logged, returned or put in a message.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TokenClaims:
    """The few claims tenantsync reads; ``roles`` is None when they cannot be read."""

    roles: frozenset[str] | None = None
    app_id: str | None = None
    tenant_id: str | None = None

    @property
    def known(self) -> bool:
        return self.roles is not None


UNKNOWN = TokenClaims()


def _b64url_json(part: str) -> Any:
    padded = part + "=" * (-len(part) % 4)
    return json.loads(base64.urlsafe_b64decode(padded.encode("ascii")).decode("utf-8"))


def read_claims(token: str | None) -> TokenClaims:
    """Claims of a JWT-shaped access token; ``UNKNOWN`` for anything else (never raises)."""
    if not token or token.count(".") != 2:
        return UNKNOWN
    header_part, payload_part, _signature = token.split(".")
    try:
        header, payload = _b64url_json(header_part), _b64url_json(payload_part)
    except (ValueError, UnicodeDecodeError):
        return UNKNOWN
    if not isinstance(header, dict) or not isinstance(payload, dict):
        return UNKNOWN
    app_id = _text(payload.get("appid")) or _text(payload.get("azp"))
    tenant = _text(payload.get("tid"))
    roles: frozenset[str] | None = None
    delegated = "scp" in payload and payload.get("idtyp") != "app"
    if not delegated:
        raw = payload.get("roles", [])
        # No "roles" claim in an app-only token means no application permission is granted.
        if isinstance(raw, list) and all(isinstance(r, str) for r in raw):
            roles = frozenset(raw)
    return TokenClaims(roles=roles, app_id=app_id, tenant_id=tenant)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


__all__ = ["UNKNOWN", "TokenClaims", "read_claims"]
