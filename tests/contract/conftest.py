"""One in-process emulator for the contract cases, reset to the doc-example tenant per test."""

from __future__ import annotations

import httpx
import pytest

from tenantsync.emulator.server import EmulatorServer
from tests.contract.world import build_fixture


@pytest.fixture(scope="session")
def contract_server() -> EmulatorServer:
    srv = EmulatorServer(build_fixture())
    yield srv
    srv.stop()


@pytest.fixture
def emu(contract_server: EmulatorServer) -> EmulatorServer:
    """The session server back at the pristine tenant, faults off."""
    contract_server.reset()
    contract_server.set_faults(None)
    return contract_server


@pytest.fixture
def graph(emu: EmulatorServer) -> httpx.Client:
    """Raw HTTP to the emulator's /v1.0 root (requests carry their own Authorization)."""
    with httpx.Client(base_url=emu.url, timeout=30) as client:
        yield client
