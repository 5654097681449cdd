"""The sample tenants on the emulator, and configurations with ``provisioner: entra`` against it."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest

from tenantsync.config import SyncConfig, load_config

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "data" / "samples" / "tenants.json"
ENGINE_CONFIG = REPO / "data" / "configs" / "emea-to-hq.yaml"

EMEA = "2cee517d-601a-44f9-82ff-f26697be201f"
HQ = "7242482c-0038-4818-b3af-70b2766b9f27"
EMEA_GROUP = "15dd8750-8a60-4194-afda-cad956a8afdd"
LIMITED = "emea-limited"      # a source token without the synchronization permissions
# Everything setup needs but Synchronization.ReadWrite.All.
LIMITED_ROLES = ["User.Read.All", "Group.Read.All", "Organization.Read.All", "Policy.Read.All",
                 "Application.ReadWrite.All", "AppRoleAssignment.ReadWrite.All", "Domain.Read.All"]


@pytest.fixture(scope="session")
def sample_world() -> dict:
    world = json.loads(SAMPLES.read_text(encoding="utf-8"))
    emea = next(t for t in world["tenants"] if t["id"] == EMEA)
    emea["tokens"] = [*emea["tokens"], {"token": LIMITED, "roles": LIMITED_ROLES}]
    return world


@pytest.fixture(scope="session")
def emulator(sample_world):
    from tenantsync.emulator.server import EmulatorServer

    with EmulatorServer(sample_world) as server:
        yield server


@pytest.fixture(scope="session")
def prefect_harness():
    """One temporary Prefect server for the flow tests of this folder."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def world(emulator, sample_world, monkeypatch):
    """A fresh copy of the sample tenants for this test; the tokens the configurations name."""
    emulator.reset(copy.deepcopy(sample_world))
    monkeypatch.setenv("TENANTSYNC_GRAPH_URL", emulator.url)
    monkeypatch.setenv("EMEA_TOKEN", "emea-token")
    monkeypatch.setenv("HQ_TOKEN", "hq-token")
    monkeypatch.setenv("EMEA_LIMITED", LIMITED)
    return emulator


@pytest.fixture
def make_config(tmp_path, world):
    """make_config(interval_minutes=15, ..., top={"job_id": "x"}, source_token="EMEA_LIMITED") -> SyncConfig
    of the sample emea-to-hq configuration with provisioner entra, its state in tmp."""

    def make(*, top: dict | None = None, source_token: str = "EMEA_TOKEN", text_edit=None,
             **settings) -> SyncConfig:
        text = ENGINE_CONFIG.read_text(encoding="utf-8")
        text = text.replace("sqlite:///data/state/", f"sqlite:///{tmp_path}/state/")
        (tmp_path / "state").mkdir(exist_ok=True)
        extra = "".join(f"{k}: {v}\n" for k, v in {"provisioner": "entra", **(top or {})}.items())
        text = text.replace("name: emea-to-hq\n", f"name: emea-to-hq\n{extra}", 1)
        text = text.replace("token_env: EMEA_TOKEN", f"token_env: {source_token}")
        for key, value in settings.items():
            text, n = re.subn(rf"(?m)^  {key}: .*$", f"  {key}: {value}", text)
            if not n:
                text = text.replace("settings:\n", f"settings:\n  {key}: {value}\n", 1)
        if text_edit:
            text = text_edit(text)
        path = tmp_path / "emea-to-hq-entra.yaml"
        path.write_text(text, encoding="utf-8")
        return load_config(path, credentials=True)

    return make


def source_tenant(server):
    """The emulator's EMEA tenant (its service principals, jobs, secrets, assignments)."""
    return server.emulator.directory.tenants[EMEA]
