"""Deployments against a real local Prefect server (one per module, shared by the tests below):
prefect.yaml through `prefect deploy --all`, `tenantsync deploy` from a configuration's settings
(a changed interval_minutes changes the schedule), a process worker running a deployment, and
`tenantsync delete-config` pausing the configuration's deployments.

The server keeps its own database in PostgreSQL (PREFECT_API_DATABASE_CONNECTION_URL, a fresh
database dropped afterwards) when the machine's PostgreSQL answers (127.0.0.1:5432, user postgres,
or TENANTSYNC_TEST_PG_URL), else in SQLite, saying so; TENANTSYNC_REQUIRE_POSTGRES=1 (CI) makes an
unreachable PostgreSQL a failure."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from .flowkit import HQ, REPO, free_port

POOL = "tenantsync-process"
PG_URL = os.environ.get("TENANTSYNC_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="module")
def prefect_database():
    """A fresh PostgreSQL database for Prefect's own tables (asyncpg URL), or None for SQLite."""
    import uuid

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.pool import NullPool

    name = f"tenantsync_prefect_{uuid.uuid4().hex[:10]}"
    try:
        admin = create_engine(PG_URL, poolclass=NullPool, isolation_level="AUTOCOMMIT",
                              connect_args={"connect_timeout": 3})
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        if os.environ.get("TENANTSYNC_REQUIRE_POSTGRES"):
            pytest.fail(f"PostgreSQL unreachable: {exc}")
        print(f"\nPrefect server on SQLite: PostgreSQL unreachable ({type(exc).__name__})", file=sys.stderr)
        yield None
        return
    url = make_url(PG_URL).set(drivername="postgresql+asyncpg", database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def run_cmd(args: list[str], *, env: dict, cwd: Path = REPO, timeout: float = 180,
            check: bool = True) -> subprocess.CompletedProcess:
    t0 = time.monotonic()
    done = subprocess.run([sys.executable, "-m", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)
    print(f"{' '.join(args[:3])}: {time.monotonic() - t0:.1f} s")
    if check:
        assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def prefect(*args: str, env: dict, timeout: float = 180) -> str:
    done = run_cmd(["prefect", *args], env=env, timeout=timeout)
    return done.stdout + done.stderr


def tenantsync(*args: str, env: dict, cwd: Path = REPO, check: bool = True) -> subprocess.CompletedProcess:
    return run_cmd(["app", *args], env=env, cwd=cwd, check=check)       # the `tenantsync` command


@pytest.fixture(scope="module")
def server(tmp_path_factory, emulator, prefect_database):
    home = tmp_path_factory.mktemp("prefect-server")
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(home / "prefect-home"), PREFECT_API_URL=api, PWD=str(REPO),
               PREFECT_SERVER_ANALYTICS_ENABLED="false", PREFECT_SERVER_UI_ENABLED="false",
               # no scheduler: only the run a test asks for is due (schedules stay defined)
               PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED="false", DO_NOT_TRACK="1",
               TENANTSYNC_GRAPH_URL=emulator.url)
    if prefect_database:
        env["PREFECT_API_DATABASE_CONNECTION_URL"] = prefect_database
    log = open(home / "server.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
                             "--port", str(port)], cwd=home, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{api}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, (home / "server.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the Prefect server did not start within 120 s"
            time.sleep(0.5)
        yield api, env, prefect_database
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def deployments(api: str, tag: str | None = None) -> dict[str, dict]:
    """'flow/deployment' -> the deployment as the server answers it."""
    flows = {f["id"]: f["name"] for f in httpx.post(f"{api}/flows/filter", json={}).json()}
    body = {"deployments": {"tags": {"all_": ["tenantsync", tag]}}} if tag else {}
    return {f"{flows[d['flow_id']]}/{d['name']}": d for d in httpx.post(f"{api}/deployments/filter", json=body).json()}


def renamed(make_config, name: str, **settings) -> Path:
    """A copy of the EMEA sample configuration under another name (its own deployments)."""
    path = make_config(**settings)
    text = path.read_text(encoding="utf-8").replace("name: emea-to-hq", f"name: {name}", 1)
    out = path.with_name(f"{name}.yaml")
    out.write_text(text, encoding="utf-8")
    return out


def test_prefect_yaml_deploys_and_a_process_worker_runs_a_tenantsync_deployment(server, make_config, tmp_path):
    api, env, database = server
    prefect("work-pool", "create", POOL, "--type", "process", "--overwrite", env=env)
    prefect("block", "register", "-m", "blocks", env=env)
    prefect("--no-prompt", "deploy", "--all", env=env, timeout=240)

    found = deployments(api)
    assert {"sync-cycle/emea-to-hq-initial", "sync-cycle/emea-to-hq-incremental", "sync-cycle/us-to-hq-incremental",
            "provision-on-demand/emea-to-hq", "repair-upn/emea-to-hq", "test-connection/emea-to-hq",
            "setup/emea-to-hq", "delete-config/emea-to-hq", "user-source-sync/emea-user-source",
            "export-reports/emea-to-hq-daily"} <= set(found)
    incremental = found["sync-cycle/emea-to-hq-incremental"]
    assert [s["schedule"]["interval"] for s in incremental["schedules"]] == [2400]       # interval_minutes: 40
    assert [s["schedule"]["interval"] for s in found["user-source-sync/emea-user-source"]["schedules"]] == [3600]
    assert incremental["parameters"]["config"] == "data/configs/emea-to-hq.yaml"
    assert found["export-reports/emea-to-hq-daily"]["schedules"][0]["schedule"]["cron"] == "0 6 * * *"
    assert all(d["description"] and d["work_pool_name"] == POOL for d in found.values())
    assert found["sync-cycle/emea-to-hq-initial"]["pull_steps"][0][
        "prefect.deployments.steps.set_working_directory"]["directory"] == str(REPO)
    block_types = {b["slug"] for b in httpx.post(f"{api}/block_types/filter", json={}).json()}
    assert {"tenantsync-graph-connection", "tenantsync-sync-config", "tenantsync-smtp-email"} <= block_types

    # tenantsync deploy of a copy of the configuration (same name): the same deployments, updated to
    # point at the copy (absolute path) and to run in the directory deployed from.
    cfg = make_config()
    work = tmp_path / "work"
    work.mkdir()
    done = json.loads(tenantsync("deploy", str(cfg), "--json", env=env, cwd=work).stdout)
    assert {r["deployment"]: r["action"] for r in done["deployments"]}["sync-cycle/emea-to-hq-initial"] == "updated"
    out = prefect("deployment", "run", "sync-cycle/emea-to-hq-initial", env=env)
    run_id = re.search(r"UUID:\s*([0-9a-f-]{36})", out).group(1)
    prefect("worker", "start", "--pool", POOL, "--run-once", env=env, timeout=240)

    run = httpx.get(f"{api}/flow_runs/{run_id}").json()
    if run["state"]["type"] != "COMPLETED":
        logs = httpx.post(f"{api}/logs/filter", json={"logs": {"flow_run_id": {"any_": [run_id]}}}).json()
        pytest.fail(f"{run['state']}\n" + "\n".join(entry["message"][:2000] for entry in logs[-30:]))
    assert run["parameters"]["config"] == str(cfg) and run["parameters"]["restart"] is True
    assert run["name"] == "emea-to-hq-initial"
    reports = work / "data" / "reports" / "emea-to-hq"           # relative to the deployed-from directory
    logs = list(reports.glob("*/provisioning-log.csv"))
    assert len(logs) == 1 and logs[0].stat().st_size > 1000
    assert (reports / "cycles.csv").exists() and (reports / "summary.html").exists()
    artifacts = httpx.post(f"{api}/artifacts/filter", json={"artifacts": {"flow_run_id": {"any_": [run_id]}}}).json()
    assert {"emea-to-hq-summary", "emea-to-hq-counts"} <= {a["key"] for a in artifacts}
    if database:      # the run is in PostgreSQL, not in a SQLite file
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url
        from sqlalchemy.pool import NullPool

        engine = create_engine(make_url(database).set(drivername="postgresql+psycopg"), poolclass=NullPool)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM flow_run WHERE id = :i"), {"i": run_id}).scalar() == 1
        engine.dispose()


def test_changing_interval_minutes_and_deploying_again_changes_the_schedule(server, make_config):
    api, env, _ = server
    cfg = renamed(make_config, "interval-check", interval_minutes=40)
    first = tenantsync("deploy", str(cfg), env=env)
    incremental = deployments(api, "interval-check")["sync-cycle/interval-check-incremental"]
    assert [(s["schedule"]["interval"], s["active"]) for s in incremental["schedules"]] == [(2400, True)]
    assert incremental["parameters"]["config"] == str(cfg.resolve())
    assert "every 40 min" in first.stdout

    cfg.write_text(cfg.read_text(encoding="utf-8").replace("interval_minutes: 40", "interval_minutes: 15"),
                   encoding="utf-8")
    again = json.loads(tenantsync("deploy", str(cfg), "--json", env=env).stdout)
    found = deployments(api, "interval-check")
    incremental = found["sync-cycle/interval-check-incremental"]
    assert [(s["schedule"]["interval"], s["active"]) for s in incremental["schedules"]] == [(900, True)]
    row = {r["deployment"]: r for r in again["deployments"]}["sync-cycle/interval-check-incremental"]
    assert (row["schedule"], row["action"], row["was"]) == ("every 15 min", "updated", "every 40 min")
    # every procedure of the configuration, each once; the manual ones without a schedule
    assert len(found) == len(set(found)) >= 8
    assert found["sync-cycle/interval-check-initial"]["schedules"] == []
    assert found["provision-on-demand/interval-check"]["schedules"] == []


def test_deploy_without_a_server_is_refused(make_config):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    env["PREFECT_HOME"] = str(make_config().parent / "no-server-home")
    done = tenantsync("deploy", str(make_config()), env=env, check=False)
    assert done.returncode == 2
    assert "PREFECT_API_URL" in done.stderr and "server" in done.stderr


def test_delete_config_pauses_the_deployments_and_later_syncs_are_refused(server, make_config, world, tmp_path):
    api, env, _ = server
    cfg = renamed(make_config, "delete-check")
    tenantsync("deploy", str(cfg), env=env)
    assert not any(d["paused"] for d in deployments(api, "delete-check").values())
    before = world.dump(HQ)

    done = tenantsync("delete-config", str(cfg), "--yes", env=env)
    found = deployments(api, "delete-check")
    assert len(found) >= 8 and all(d["paused"] for d in found.values())
    assert f"{len(found)} deployment(s) paused" in done.stdout
    assert world.dump(HQ) == before
    archives = list((tmp_path / "state" / "archive").glob("delete-check-*.db"))
    assert len(archives) == 1

    # a scheduled run still reaching the flow (or the command line) is refused, naming the restore
    refused = tenantsync("sync", str(cfg), env=env, check=False)
    assert refused.returncode == 2 and "--restore" in refused.stderr and "deleted" in refused.stderr
    # deploying a deleted configuration is refused too: its schedules stay paused
    assert tenantsync("deploy", str(cfg), env=env, check=False).returncode == 2
    assert all(d["paused"] for d in deployments(api, "delete-check").values())

    restored = tenantsync("delete-config", str(cfg), "--restore", env=env)
    assert "restored" in restored.stdout
    assert not any(d["paused"] for d in deployments(api, "delete-check").values())


def test_the_delete_config_deployment_needs_the_name_typed_in_confirm(server, make_config, tmp_path):
    api, env, _ = server
    cfg = renamed(make_config, "flow-check")
    tenantsync("deploy", str(cfg), env=env)
    ids = {}
    for confirm in ("yes", "flow-check"):
        out = prefect("deployment", "run", "delete-config/flow-check", "--param", f"confirm={confirm}", env=env)
        ids[confirm] = re.search(r"UUID:\s*([0-9a-f-]{36})", out).group(1)
    prefect("worker", "start", "--pool", POOL, "--run-once", env=env, timeout=240)

    states = {c: httpx.get(f"{api}/flow_runs/{i}").json()["state"] for c, i in ids.items()}
    assert states["yes"]["type"] == "FAILED" and "type the configuration's name" in states["yes"]["message"]
    assert states["flow-check"]["type"] == "COMPLETED", states["flow-check"]
    assert len(list((tmp_path / "state" / "archive").glob("flow-check-*.db"))) == 1
    assert all(d["paused"] for d in deployments(api, "flow-check").values())
