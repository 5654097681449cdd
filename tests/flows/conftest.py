"""Prefect flow tests: one Prefect test harness per session, the emulator with the sample tenants.

PREFECT_HOME and friends are set here at import time, before anything imports Prefect (the
suite-wide tests/conftest.py does the same with setdefault, so running tests/flows alone is safe).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path

os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="tenantsync-prefect-"))
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.update({"EMEA_TOKEN": "emea-token", "US_TOKEN": "us-token", "HQ_TOKEN": "hq-token"})

import pytest

from .flowkit import CONFIGS, SAMPLES


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.prefect)
            item.add_marker(pytest.mark.xdist_group("prefect"))


@pytest.fixture(scope="session")
def prefect_harness():
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="session")
def sample_world() -> dict:
    return json.loads(SAMPLES.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def emulator(sample_world):
    from tenantsync.emulator.server import EmulatorServer

    with EmulatorServer(sample_world) as server:
        yield server


@pytest.fixture
def world(emulator, sample_world, monkeypatch):
    """A fresh copy of the sample tenants for this test, and configs pointing at it."""
    emulator.reset(sample_world)
    monkeypatch.setenv("TENANTSYNC_GRAPH_URL", emulator.url)
    return emulator


@pytest.fixture
def make_config(tmp_path, world):
    """make_config('emea-to-hq', deletion_threshold=3, ...) -> path of a copy whose state lives in tmp."""

    def make(name: str = "emea-to-hq", **settings) -> Path:
        text = (CONFIGS / f"{name}.yaml").read_text(encoding="utf-8")
        text = text.replace("sqlite:///data/state/", f"sqlite:///{tmp_path}/state/")
        assert "data/state" not in text
        (tmp_path / "state").mkdir(exist_ok=True)      # tenantsync creates no state directory
        for key, value in settings.items():
            text, n = re.subn(rf"(?m)^  {key}: .*$", f"  {key}: {value}", text)
            if not n:
                text = text.replace("settings:\n", f"settings:\n  {key}: {value}\n", 1)
        path = tmp_path / f"{name}.yaml"
        path.write_text(text, encoding="utf-8")
        return path

    return make


@pytest.fixture
def reports_dir(tmp_path) -> Path:
    return tmp_path / "reports"


