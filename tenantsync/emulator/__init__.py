"""Microsoft Graph v1.0 emulator (the subset tenantsync's connectors use), for several tenants.

Public API: EmulatorServer (server.py), run() and main() (server.py, the `tenantsync emulator`
command), create_emulator()/build_app() (app.py) for embedding the ASGI app.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["EmulatorServer", "run", "main"]

if TYPE_CHECKING:
    from tenantsync.emulator.server import EmulatorServer, main, run


def __getattr__(name: str) -> Any:
    # Lazy: `tenantsync emulator --help` and importing submodules stay cheap.
    if name in __all__:
        from tenantsync.emulator import server
        return getattr(server, name)
    raise AttributeError(name)
