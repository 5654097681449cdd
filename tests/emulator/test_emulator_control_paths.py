"""The control API has no authentication: `POST /_emulator/reset {"path": ...}` loads fixture files
from the folder of the fixture the emulator started with only, never another file of the machine
(/etc/passwd, a symbolic link leading out, `..`), and the emulator listens on 127.0.0.1 only."""

from __future__ import annotations

import json
import os

import httpx
import pytest

from tenantsync.emulator.server import EmulatorServer

from .emulator_world import CONTOSO, NORTHWIND, build_fixture


def _small() -> dict:
    fixture = build_fixture()
    fixture["tenants"][1]["users"] = fixture["tenants"][1]["users"][:10]
    fixture["tenants"][1]["groups"] = []
    return fixture


@pytest.fixture
def started(tmp_path):
    folder = tmp_path / "fixtures"
    (folder / "more").mkdir(parents=True)
    (folder / "start.json").write_text(json.dumps(_small()))
    only_northwind = {"tenants": [t for t in _small()["tenants"] if t["id"] == NORTHWIND]}
    (folder / "more" / "northwind.json").write_text(json.dumps(only_northwind))
    outside = tmp_path / "secret.json"
    outside.write_text(json.dumps(only_northwind))
    os.symlink(outside, folder / "link.json")
    srv = EmulatorServer(folder / "start.json")
    yield srv, folder, outside
    srv.stop()


def _reset(srv: EmulatorServer, body) -> httpx.Response:
    return httpx.post(f"{srv.base}/_emulator/reset", json=body, timeout=30)


def _tenants(srv: EmulatorServer) -> int:
    return httpx.get(f"{srv.base}/_emulator/health", timeout=30).json()["tenants"]


@pytest.mark.parametrize("path", ["/etc/passwd", "../secret.json", "link.json", "more/../../secret.json",
                                  "/proc/self/environ", "more", "missing.json"])
def test_reset_refuses_files_outside_the_fixture_folder(started, path):
    srv, _, _ = started
    before = _tenants(srv)
    r = _reset(srv, {"path": path})
    assert r.status_code == 403, r.text
    assert r.json()["error"]["code"] == "PathNotAllowed"
    assert "root:" not in r.text and "secret" not in r.text.replace("secret.json", "")
    assert _tenants(srv) == before == 3                       # nothing loaded


def test_reset_loads_a_fixture_inside_the_folder(started):
    srv, folder, _ = started
    r = _reset(srv, {"path": "more/northwind.json"})
    assert r.status_code == 200 and r.json()["tenants"] == [NORTHWIND]
    assert _reset(srv, {"path": str(folder / "start.json")}).status_code == 200   # absolute
    assert _tenants(srv) == 3
    assert srv.dump(CONTOSO)["tenant"]["id"] == CONTOSO


def test_reset_by_path_is_refused_without_a_fixture_file():
    srv = EmulatorServer(_small())                            # started from a dict
    try:
        r = _reset(srv, {"path": "anything.json"})
        assert r.status_code == 403 and "send the fixture itself" in r.json()["error"]["message"]
        assert _reset(srv, {"tenants": []}).status_code == 200   # the body still works
    finally:
        srv.stop()


def test_a_malformed_fixture_in_the_folder_is_named(started):
    srv, folder, _ = started
    (folder / "bad.json").write_text(json.dumps(
        {"tenants": [{"id": "t1", "defaultDomain": "a.com", "users": [5]}]}))
    r = _reset(srv, {"path": "bad.json"})
    assert r.status_code == 400 and r.json()["error"] == {
        "code": "InvalidFixture", "message": "tenant t1: users[0]: expected an object"}
    assert _tenants(srv) == 3

