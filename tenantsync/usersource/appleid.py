"""Managed Apple IDs: none, the user's e-mail, or the userPrincipalName; optionally on the
"appleid" subdomain (``jane@contoso.com`` -> ``jane@appleid.contoso.com``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .config import ManagedAppleId

SUBDOMAIN = "appleid"


def managed_apple_id(user: Mapping[str, Any], setting: ManagedAppleId) -> str | None:
    """The Managed Apple ID of ``user`` (Graph property names) under ``setting``, or None.

    None when the scheme is ``none``, when the chosen address is missing or not an address, and
    for B2B guests' ``#EXT#`` UPNs (not an address anyone can receive mail at)."""
    if setting.scheme == "none":
        return None
    address = user.get("mail") if setting.scheme == "email" else user.get("userPrincipalName")
    if not isinstance(address, str):
        return None
    address = address.strip()
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain or "#EXT#" in address.upper():
        return None
    if setting.appleid_subdomain and not domain.lower().startswith(SUBDOMAIN + "."):
        domain = f"{SUBDOMAIN}.{domain}"
    return f"{local}@{domain}"
