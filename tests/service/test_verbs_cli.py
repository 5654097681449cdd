"""`tenantsync pause` / `tenantsync resume`: the job's verbs from the command line (no flow run)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from app.cli import app
from tenantsync.ops.setup import run_setup

from .conftest import ENGINE_CONFIG, source_tenant

runner = CliRunner()


def test_pause_and_resume_commands(make_config, world, tmp_path):
    run_setup(make_config())
    path = str(tmp_path / "emea-to-hq-entra.yaml")
    resumed = runner.invoke(app, ["resume", path, "--json"], catch_exceptions=False)
    assert resumed.exit_code == 0, resumed.output
    assert json.loads(resumed.stdout)["job"]["scheduleState"] == "Active"
    paused = runner.invoke(app, ["pause", path], catch_exceptions=False)
    assert paused.exit_code == 0 and "is paused" in paused.stdout
    (job,) = source_tenant(world).sync_jobs.values()
    assert job.schedule["state"] == "Paused"


def test_pause_of_an_engine_configuration_is_refused_as_bad_input(world):
    result = runner.invoke(app, ["pause", str(ENGINE_CONFIG)], catch_exceptions=False)
    assert result.exit_code == 2
    assert "error:" in result.stderr and "provisioner: entra" in result.stderr


def test_pause_before_setup_fails_naming_setup(make_config, world, tmp_path):
    make_config()
    result = runner.invoke(app, ["pause", str(tmp_path / "emea-to-hq-entra.yaml")], catch_exceptions=False)
    assert result.exit_code == 1 and "tenantsync setup" in result.stderr


def test_delete_config_deletes_the_job_and_says_the_application_is_kept(make_config, world, tmp_path, monkeypatch):
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    run_setup(make_config())
    path = str(tmp_path / "emea-to-hq-entra.yaml")
    result = runner.invoke(app, ["delete-config", path, "--yes", "--archive-dir", str(tmp_path / "archive")],
                           catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "delete its synchronization job" in result.stdout                     # the plan, before
    assert "deleted; sync application" in result.stdout and "kept" in result.stdout  # what was done
    tenant = source_tenant(world)
    assert not tenant.sync_jobs and len(tenant.service_principals) == 1
