"""EmulatorServer modes, the command-line entry and the fixture loader."""

from __future__ import annotations

import json
import socket

import httpx
import pytest

from tenantsync.emulator.fixture import FixtureError, load_directory
from tenantsync.emulator.server import EmulatorServer, main

from .emulator_world import CONTOSO, CONTOSO_TOKEN, NORTHWIND_TOKEN, build_fixture


def _small() -> dict:
    fixture = build_fixture()
    fixture["tenants"][1]["users"] = fixture["tenants"][1]["users"][:10]
    fixture["tenants"][1]["groups"] = []
    return fixture


def test_subprocess_mode_serves_and_stops_cleanly(tmp_path):
    path = tmp_path / "fixture.json"
    path.write_text(json.dumps(_small()))
    srv = EmulatorServer(path, in_process=False, faults="rate=0", latency_ms=1)
    try:
        assert srv.url == f"http://127.0.0.1:{srv.port}/v1.0"
        r = httpx.get(srv.url + "/users", headers={"Authorization": f"Bearer {NORTHWIND_TOKEN}"})
        assert r.status_code == 200 and r.json()["value"][0]["displayName"] == "Ann"
        srv.leave("33333333-3333-4333-8333-333333333333", "ann@northwind.com")
        assert srv.dump("33333333-3333-4333-8333-333333333333")["users"] == []
        srv.reset()                                            # back to the file's content
        assert len(srv.dump("33333333-3333-4333-8333-333333333333")["users"]) == 1
        assert srv.stats()["total_requests"] == 1
    finally:
        srv.stop()
    srv.stop()                                                 # idempotent
    with pytest.raises(httpx.TransportError):
        httpx.get(srv.url + "/users", timeout=2)


def test_in_process_context_manager_releases_the_port():
    with EmulatorServer(_small(), throttle="graph") as srv:
        port = srv.port
        r = httpx.get(srv.url + "/users", params={"$select": "id"},
                      headers={"Authorization": f"Bearer {CONTOSO_TOKEN}"})
        assert r.headers["x-ms-resource-unit"] == "1"
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))                            # free again


def test_reset_with_another_fixture_and_bad_fixture(emu, http):
    fixture = _small()
    fixture["tenants"] = fixture["tenants"][2:]
    assert emu.reset(fixture) == {"tenants": ["33333333-3333-4333-8333-333333333333"]}
    assert http(CONTOSO_TOKEN).get("/users").status_code == 401
    with pytest.raises(RuntimeError, match="InvalidFixture"):
        emu.reset({"tenants": [{"id": "x"}]})


@pytest.mark.parametrize("mutate,message", [
    (lambda f: f["tenants"][0].pop("defaultDomain"), "'defaultDomain' is required"),
    (lambda f: f["tenants"][0]["users"][0].update(colour="red"), "'colour' is not a Graph user"),
    (lambda f: f["tenants"][0]["users"].append(dict(f["tenants"][0]["users"][0])),
     "duplicate userPrincipalName"),
    (lambda f: f["tenants"][0]["groups"][0]["members"].append("nope"), "member nope"),
    (lambda f: f["tenants"][1].update(tokens=f["tenants"][0]["tokens"]), "token"),
])
def test_fixture_errors_name_the_problem(mutate, message):
    fixture = _small()
    mutate(fixture)
    with pytest.raises(FixtureError, match=message):
        load_directory(fixture)


def test_fixture_is_not_modified_by_the_emulator():
    fixture = _small()
    fixture["tenants"][0]["users"][0]["businessPhones"] = ["+1 425 555 0100"]
    before = json.dumps(fixture, sort_keys=True)
    directory = load_directory(fixture)
    tenant = directory.tenant(CONTOSO)
    first = next(iter(tenant.users))
    tenant.update_user(first, {"displayName": "changed"})
    tenant.users[first]["businessPhones"].append("+1")
    assert json.dumps(fixture, sort_keys=True) == before


def test_main_rejects_bad_arguments(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["--port", "1"])                                  # --fixture is required
    assert main(["--fixture", str(tmp_path / "missing.json"), "--port", "0"]) == 2
    assert "cannot read fixture" in capsys.readouterr().err
