"""Pause, resume and delete a configuration run by Microsoft's provisioning service."""

from __future__ import annotations

import pytest

from tenantsync.entra_service import ServiceError
from tenantsync.entra_service.verbs import pause_job, resume_job
from tenantsync.ops.delete_config import delete_configuration, plan_deletion
from tenantsync.ops.setup import run_setup
from tenantsync.store import Store

from .conftest import source_tenant


@pytest.fixture
def configured(make_config, world):
    cfg = make_config(interval_minutes=40)
    report = run_setup(cfg)
    assert report.ok, report.message
    return cfg


def the_job(world):
    (job,) = source_tenant(world).sync_jobs.values()
    return job


def test_resume_starts_and_pause_pauses_the_job(configured, world):
    assert the_job(world).schedule["state"] == "Disabled"
    started = resume_job(configured)
    assert started.changed and the_job(world).schedule["state"] == "Active"
    assert the_job(world).status["code"] in ("NotRun", "Active")
    assert "started" in started.message

    paused = pause_job(configured)
    job = the_job(world)
    assert paused.changed and (job.schedule["state"], job.status["code"]) == ("Paused", "Paused")
    assert (paused.schedule_state, paused.status_code) == ("Paused", "Paused")
    assert "tenantsync resume" in paused.message

    again = pause_job(configured)
    assert not again.changed and "already paused" in again.message


def test_resume_of_a_running_job_does_nothing(configured, world):
    resume_job(configured)
    again = resume_job(configured)
    assert not again.changed and "nothing to do" in again.message
    assert the_job(world).schedule["state"] == "Active"


def test_verbs_before_setup_name_setup(make_config, world):
    with pytest.raises(ServiceError) as err:
        pause_job(make_config())
    assert "tenantsync setup" in str(err.value)


def test_verb_refused_for_missing_permission(configured, make_config, world):
    limited = make_config(source_token="EMEA_LIMITED")
    with pytest.raises(ServiceError) as err:
        resume_job(limited)
    assert "Synchronization.ReadWrite.All" in str(err.value)
    assert the_job(world).schedule["state"] == "Disabled"


def test_delete_config_deletes_the_job_and_keeps_the_application(configured, world, tmp_path):
    store = Store.for_url(configured.state_url)
    plan = plan_deletion(configured, archive_dir=tmp_path / "archive", reports_dir=tmp_path / "reports",
                         store=store)
    assert any("delete its synchronization job" in line for line in plan.lines())
    assert any("keep the sync application" in line for line in plan.lines())
    result = delete_configuration(configured, plan, store=store)
    tenant = source_tenant(world)
    assert not tenant.sync_jobs
    assert len(tenant.service_principals) == 1 and tenant.app_role_assignments   # the application stays
    assert "deleted" in result.service and "kept" in result.service
    assert store.deleted_mark(configured.name) is not None


def test_delete_config_can_remove_the_application_when_asked(configured, world, tmp_path):
    store = Store.for_url(configured.state_url)
    plan = plan_deletion(configured, archive_dir=tmp_path / "archive", reports_dir=tmp_path / "reports",
                         store=store)
    plan.delete_application = True
    result = delete_configuration(configured, plan, store=store)
    tenant = source_tenant(world)
    assert not tenant.sync_jobs and not tenant.service_principals
    assert "service principal" in result.service and "deleted" in result.service
