from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tenantsync.store import JobStatus, Quarantine, Store

from .conftest import T0

LOG_KEYS = ["activityDateTime", "id", "jobId", "cycleId", "changeId", "provisioningAction", "status",
            "errorCode", "reason", "sourceIdentity.id", "sourceIdentity.displayName", "targetIdentity.id",
            "targetIdentity.displayName", "modifiedProperties", "provisioningSteps", "durationInMilliseconds"]


def entry(n: int, cycle_id: str, *, when: datetime = T0, action: str = "create", **extra: object) -> dict:
    row = {"activityDateTime": when, "id": f"log-{n}", "jobId": "Azure2Azure.emea", "cycleId": cycle_id,
           "changeId": f"change-{n}", "provisioningAction": action, "status": "success", "errorCode": None,
           "reason": f"User 'u{n}' was created", "sourceIdentity.id": f"u{n}",
           "sourceIdentity.displayName": f"User {n}", "targetIdentity.id": f"t{n}",
           "targetIdentity.displayName": f"User {n}",
           "modifiedProperties": [{"displayName": "mail", "oldValue": None, "newValue": f"u{n}@x.com"}],
           "provisioningSteps": [{"name": "EntryImport", "provisioningStepType": "import", "status": "success",
                                  "description": "Retrieved", "details": {"SkipReason": None}}],
           "durationInMilliseconds": 12}
    row.update(extra)
    return row


def test_cycle_started_then_finished_with_job_state(store: Store) -> None:
    cycle_id = store.start_cycle("emea", "initial")
    assert uuid.UUID(cycle_id).version == 4
    [running] = store.cycles("emea")
    assert running["cycleId"] == cycle_id and running["status"] == "running" and running["ended"] is None
    assert running["dryRun"] is False and running["kind"] == "initial"

    quarantine = Quarantine(T0, T0 + timedelta(hours=6), "TooManyDeletes", T0, 1, None)
    job = JobStatus(code="Quarantine", quarantine=quarantine, last_execution=T0)
    store.finish_cycle("emea", cycle_id, counts={"create": 3, "failure": 1}, status="quarantined", job=job,
                       error="deletion threshold exceeded")
    [done] = store.cycles("emea")
    assert set(done) == {"cycleId", "kind", "dryRun", "started", "ended", "status", "counts", "jobStatus",
                         "quarantineReason", "quarantineNextAttempt", "quarantineSeriesCount", "error"}
    assert done["status"] == "quarantined" and done["counts"] == {"create": 3, "failure": 1}
    assert done["jobStatus"] == "Quarantine" and done["quarantineReason"] == "TooManyDeletes"
    assert done["quarantineNextAttempt"] == T0 + timedelta(hours=6) and done["quarantineSeriesCount"] == 1
    assert done["error"] == "deletion threshold exceeded"
    assert done["started"].tzinfo is UTC and done["ended"] >= done["started"]
    assert store.job("emea") == job  # finish_cycle saves the job too


def test_cycles_listed_in_start_order_per_configuration(store: Store) -> None:
    first = store.start_cycle("emea", "initial")
    other = store.start_cycle("apac", "on-demand", dry_run=True)
    second = store.start_cycle("emea", "incremental", dry_run=True)
    store.finish_cycle("emea", second, counts={}, status="success", job=JobStatus(code="Active"))
    assert [c["cycleId"] for c in store.cycles("emea")] == [first, second]
    assert [(c["cycleId"], c["dryRun"], c["kind"]) for c in store.cycles("apac")] == [(other, True, "on-demand")]
    assert store.cycles("emea")[1]["jobStatus"] == "Active" and store.cycles("emea")[1]["quarantineReason"] is None


def test_unknown_cycle_or_kind_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="cycle kind 'full' is not allowed"):
        store.start_cycle("emea", "full")
    cycle_id = store.start_cycle("apac", "repair")
    with pytest.raises(ValueError, match="no cycle"):  # another configuration's cycle
        store.finish_cycle("emea", cycle_id, counts={}, status="success", job=JobStatus(code="Active"))
    assert store.job("emea") == JobStatus()  # nothing saved
    assert store.cycles("emea") == []


def test_log_round_trips_exact_report_shape(store: Store) -> None:
    rows = [entry(1, "c1"), entry(2, "c1", action="update", status="failure",
                                  errorCode="HybridSynchronizationActiveDirectoryInternalError")]
    store.append_log("emea", rows)
    got = store.log("emea")
    assert [list(r) for r in got] == [LOG_KEYS, LOG_KEYS]
    assert got == rows


def test_log_accepts_graph_text_times_and_fills_defaults(store: Store) -> None:
    store.append_log("emea", [{"activityDateTime": "2026-01-05T09:30:00Z", "cycleId": "c1",
                               "provisioningAction": "other", "durationInMilliseconds": 7.6}])
    [row] = store.log("emea")
    assert row["activityDateTime"] == T0
    assert uuid.UUID(row["id"])  # a fresh id
    assert row["modifiedProperties"] == [] and row["provisioningSteps"] == []
    assert row["durationInMilliseconds"] == 8 and row["status"] is None


def test_log_ordered_by_time_then_insertion_and_filtered(store: Store) -> None:
    later = T0 + timedelta(seconds=1)
    store.append_log("emea", [entry(1, "c1", when=later), entry(2, "c1"), entry(3, "c2", action="delete")])
    store.append_log("emea", [entry(4, "c2", when=later, action="delete"), entry(5, "c2")])
    assert [r["id"] for r in store.log("emea")] == ["log-2", "log-3", "log-5", "log-1", "log-4"]
    assert [r["id"] for r in store.log("emea", "c2")] == ["log-3", "log-5", "log-4"]
    assert [r["id"] for r in store.log("emea", action="delete")] == ["log-3", "log-4"]
    assert [r["id"] for r in store.log("emea", "c1", action="delete")] == []


def test_log_refuses_an_unknown_key_and_writes_nothing(store: Store) -> None:
    with pytest.raises(ValueError, match=r"unknown keys \['sourceIdentity_id'\]"):
        store.append_log("emea", [entry(1, "c1"), {"sourceIdentity_id": "u1"}])
    with pytest.raises(ValueError, match="naive datetime"):
        store.append_log("emea", [entry(2, "c1", when=datetime(2026, 1, 1))])
    assert store.log("emea") == []


def test_configurations_do_not_see_each_others_log(store: Store) -> None:
    store.append_log("emea", [entry(1, "same-cycle")])
    store.append_log("apac", [entry(2, "same-cycle")])
    assert [r["id"] for r in store.log("emea", "same-cycle")] == ["log-1"]
    assert [r["id"] for r in store.log("apac")] == ["log-2"]
