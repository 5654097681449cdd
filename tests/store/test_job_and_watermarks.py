from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tenantsync.store import JobStatus, Quarantine, Store

from .conftest import T0

QUARANTINE = Quarantine(current_began=T0, next_attempt=T0 + timedelta(hours=6),
                        reason="EncounteredEscrowProportionThreshold", series_began=T0 - timedelta(days=1),
                        series_count=2, error={"code": "Authorization_RequestDenied", "details": [1, None]})


def test_watermarks_saved_overwritten_and_cleared(store: Store) -> None:
    assert store.watermarks("emea") == {}
    store.save_watermarks("emea", {"users": "https://g/users/delta?$deltatoken=1", "groups": "g1"})
    store.save_watermarks("emea", {"users": "u2"})
    assert store.watermarks("emea") == {"users": "u2", "groups": "g1"}
    store.save_watermarks("apac", {"users": "apac"})
    store.clear_watermarks("emea")
    assert store.watermarks("emea") == {}
    assert store.watermarks("apac") == {"users": "apac"}


def test_new_configuration_has_a_job_that_has_not_run(store: Store) -> None:
    assert store.job("emea") == JobStatus()
    assert store.job("emea").code == "NotRun"


def test_job_round_trips_with_quarantine(store: Store) -> None:
    job = JobStatus(code="Quarantine", quarantine=QUARANTINE, last_execution=T0,
                    last_successful_execution=T0 - timedelta(days=2),
                    count_successive_complete_failures=3, notified_reason="EncounteredEscrowProportionThreshold")
    store.save_job("emea", job)
    assert store.job("emea") == job
    assert store.job("apac") == JobStatus()
    # saving without quarantine clears it
    store.save_job("emea", JobStatus(code="Active", last_execution=T0 + timedelta(hours=1)))
    assert store.job("emea") == JobStatus(code="Active", last_execution=T0 + timedelta(hours=1))


def test_bad_job_is_refused_and_the_old_one_kept(store: Store) -> None:
    store.save_job("emea", JobStatus(code="Active"))
    with pytest.raises(ValueError, match="job status code 'Running' is not allowed"):
        store.save_job("emea", JobStatus(code="Running"))
    with pytest.raises(ValueError, match="naive datetime"):
        store.save_job("emea", JobStatus(code="Paused", last_execution=datetime(2026, 1, 1)))
    assert store.job("emea") == JobStatus(code="Active")
