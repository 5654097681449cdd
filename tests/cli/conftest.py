"""The sample tenants on an in-process emulator, with the demo's configurations pointed at it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.demo import FIXTURE, TOKENS, write_configs


@pytest.fixture
def samples(tmp_path: Path):
    """(emulator, {configuration name: config file}) with the sample tokens in the environment."""
    from tenantsync.emulator import EmulatorServer

    saved = dict(os.environ)
    server = EmulatorServer(FIXTURE, port=0)
    os.environ.update(TOKENS)
    os.environ["TENANTSYNC_GRAPH_URL"] = server.url
    try:
        yield server, write_configs(tmp_path / "state")
    finally:
        server.stop()
        os.environ.clear()
        os.environ.update(saved)
