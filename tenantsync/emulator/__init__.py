"""Microsoft Graph v1.0 emulator (the subset tenantsync's connectors use), for several tenants.

Public API (server.py): EmulatorServer, run() (the `tenantsync emulator` command), main(argv);
app.py: create_emulator() and build_app() to embed the ASGI app.

Modules, one job each:
  server.py      EmulatorServer, run(), main()          app.py        route table + ASGI app
  core.py        pipeline: fault, auth, route, throttle  control.py    /_emulator control API
  asgi.py        raw-ASGI layer for /v1.0 (and /beta)   leave.py      beta: external user leave settings
  directory.py   tenant state, every change recorded     changelog.py  delta bookkeeping
  fixture.py     fixture JSON -> Directory               schema.py     Graph property names
  odata.py       $filter/$select/$orderby/$top           listing.py    collection paging
  users.py groups.py invitations.py policies.py phone.py delta.py batch.py   Graph handlers
  throttle.py    'graph' throttling profile              faults.py     fault injection
  stats.py       request counters                        protocol.py   wire conventions
  routing.py     path templates
  tokens.py      JWT-shaped app tokens, claims          permissions.py  per-route app permissions
  applications.py  /applications, directory extensions (registered extension_* names only)
  limits.py      request size, property lengths, $filter bounds (hostile input)
  fixture_types.py  value types of fixture users and groups (named FixtureErrors)
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
