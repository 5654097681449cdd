"""The Graph connector: the only code that talks to Microsoft Graph (or the emulator).

Public surface: GraphApi (sync face, raw JSON), GraphConnection/AuthSettings (config models),
build_credential/build_client (SDK factory), classify/to_graph_error (error policy).
Exports resolve lazily so that importing the config models does not import msgraph (~0.3 s).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "GraphApi": "api", "DeltaRound": "api",
    "build_client": "client", "build_credential": "client",
    "AuthSettings": "connection", "GraphConnection": "connection",
    "RetryPolicy": "core", "Stats": "core",
    "classify": "errors", "to_graph_error": "errors",
    "LimiterSettings": "quota", "WriteLimiter": "quota",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(f"tenantsync.graph.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'tenantsync.graph' has no attribute {name!r}")
