"""prefect.yaml against a real local Prefect server: deploy everything, run one deployment with a
parameter through `prefect deployment run`, let a process worker execute it.

The server keeps its own database in PostgreSQL (PREFECT_API_DATABASE_CONNECTION_URL, a fresh
database dropped afterwards) when the machine's PostgreSQL answers (127.0.0.1:5432, user postgres,
or TENANTSYNC_TEST_PG_URL), else in SQLite, saying so; TENANTSYNC_REQUIRE_POSTGRES=1 (CI) makes an
unreachable PostgreSQL a failure."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import httpx
import pytest

from flowkit import REPO, free_port

POOL = "tenantsync-process"
PG_URL = os.environ.get("TENANTSYNC_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture
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
    except Exception as exc:  # noqa: BLE001 - unreachable: SQLite, or a failure in CI
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


def prefect(*args: str, env: dict, timeout: float = 120) -> str:
    t0 = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "prefect", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=timeout)
    assert done.returncode == 0, f"prefect {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    print(f"prefect {args[0]} {args[1] if len(args) > 1 else ''}: {time.monotonic() - t0:.1f} s")
    return done.stdout + done.stderr


@pytest.fixture
def server(tmp_path, world, prefect_database):
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(tmp_path / "prefect-home"), PREFECT_API_URL=api, PWD=str(REPO),
               PREFECT_SERVER_ANALYTICS_ENABLED="false", PREFECT_SERVER_UI_ENABLED="false",
               # no scheduler: only the run this test asks for is due (schedules stay defined)
               PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED="false", DO_NOT_TRACK="1")
    if prefect_database:
        env["PREFECT_API_DATABASE_CONNECTION_URL"] = prefect_database
    log = open(tmp_path / "server.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
                             "--port", str(port)], cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{api}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, (tmp_path / "server.log").read_text()[-3000:]
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


def test_deploy_all_then_a_process_worker_runs_a_deployment(server, make_config, tmp_path):
    api, env, database = server
    prefect("work-pool", "create", POOL, "--type", "process", env=env)
    prefect("block", "register", "-m", "blocks", env=env)
    prefect("--no-prompt", "deploy", "--all", env=env, timeout=180)

    flows = {f["id"]: f["name"] for f in httpx.post(f"{api}/flows/filter", json={}).json()}
    deployments = {f"{flows[d['flow_id']]}/{d['name']}": d for d in httpx.post(f"{api}/deployments/filter", json={}).json()}
    assert {"sync-cycle/initial-emea-to-hq", "sync-cycle/incremental-emea-to-hq", "sync-cycle/initial-us-to-hq",
            "sync-cycle/incremental-us-to-hq", "provision-on-demand/emea-to-hq", "repair-upn/emea-to-hq",
            "test-connection/emea-to-hq", "user-source-sync/emea-user-source",
            "export-reports/daily-emea-to-hq"} <= set(deployments)
    incremental = deployments["sync-cycle/incremental-emea-to-hq"]
    assert incremental["schedules"][0]["schedule"]["interval"] == 2400
    assert incremental["parameters"]["config"] == "data/configs/emea-to-hq.yaml"
    assert deployments["export-reports/daily-emea-to-hq"]["schedules"][0]["schedule"]["cron"] == "0 6 * * *"
    assert all(d["description"] and d["work_pool_name"] == POOL for d in deployments.values())
    assert deployments["sync-cycle/initial-emea-to-hq"]["pull_steps"][0][
        "prefect.deployments.steps.set_working_directory"]["directory"] == str(REPO)
    block_types = {b["slug"] for b in httpx.post(f"{api}/block_types/filter", json={}).json()}
    assert {"tenantsync-graph-connection", "tenantsync-sync-config", "tenantsync-smtp-email"} <= block_types

    cfg, reports = make_config(), tmp_path / "reports"
    out = prefect("deployment", "run", "sync-cycle/initial-emea-to-hq", "--param", f"config={cfg}",
                  "--param", f"reports_dir={reports}", env=env)
    run_id = re.search(r"UUID:\s*([0-9a-f-]{36})", out).group(1)
    prefect("worker", "start", "--pool", POOL, "--run-once", env=env, timeout=240)

    run = httpx.get(f"{api}/flow_runs/{run_id}").json()
    if run["state"]["type"] != "COMPLETED":
        logs = httpx.post(f"{api}/logs/filter", json={"logs": {"flow_run_id": {"any_": [run_id]}}}).json()
        pytest.fail(f"{run['state']}\n" + "\n".join(l["message"][:2000] for l in logs[-30:]))
    assert run["parameters"]["config"] == str(cfg) and run["parameters"]["restart"] is True
    assert run["name"] == "emea-to-hq-initial"
    logs = list((reports / "emea-to-hq").glob("*/provisioning-log.csv"))
    assert len(logs) == 1 and logs[0].stat().st_size > 1000
    assert (reports / "emea-to-hq" / "cycles.csv").exists() and (reports / "emea-to-hq" / "summary.html").exists()
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
        assert not list((tmp_path / "prefect-home").glob("*.db"))
