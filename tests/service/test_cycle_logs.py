"""The pure parts of following the service: the reports window, a provisioningObjectSummary as a
provisioning-log row, when a followed cycle is over, which execution is which cycle."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tenantsync import reports
from tenantsync.entra_service.follow import RESTART, Started, cycle_id_of, cycle_over, interval, reset_scope
from tenantsync.entra_service.logs import Window, action_of, log_row
from tenantsync.entra_service.quarantine import job_status, staged_rows

# provisioningobjectsummary (the resource page's JSON representation, values filled in)
SUMMARY = {
    "id": "75b5b0e9-80e8-4b0b-9a0c-1b0a8e4b8b5e", "activityDateTime": "2026-11-30T06:00:01Z", "tenantId": "t",
    "jobId": "Azure2Azure.x.y", "cycleId": "c1", "changeId": "ch1", "provisioningAction": "stagedDelete",
    "durationInMilliseconds": 812,
    "servicePrincipal": {"id": "sp", "displayName": "emea-to-hq-entra"},
    "sourceIdentity": {"id": "src-1", "displayName": "Ana Ruiz", "identityType": "User"},
    "targetIdentity": {"id": "tgt-1", "displayName": "Ana Ruiz", "identityType": "User"},
    "modifiedProperties": [{"displayName": "accountEnabled", "oldValue": "True", "newValue": "False"}],
    "provisioningSteps": [
        {"name": "EntryImport", "provisioningStepType": "import", "status": "success",
         "description": "Retrieved User 'ana.ruiz@emea.contoso.com'", "details": {}},
        {"name": "EntrySynchronizationSkip", "provisioningStepType": "export", "status": "skipped",
         "description": "Staged: the cycle crossed the accidental-deletion threshold",
         "details": {"SkipReason": "TooManyDeletes"}}],
    "provisioningStatusInfo": {"status": "skipped", "errorInformation": {
        "errorCode": "TooManyDeletes", "reason": "5 deletions exceed the threshold of 3"}},
}


def test_five_requests_per_ten_seconds_in_any_window():
    now = [0.0]
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)
        now[0] += s

    window = Window(5, 10.0, clock=lambda: now[0], sleep=sleep)
    times = []
    for _ in range(11):
        window.wait()
        times.append(now[0])
        now[0] += 0.1
    assert times[4] < 1                                           # the first five at once
    assert all(times[i + 5] - times[i] >= 10.0 for i in range(len(times) - 5))


def test_a_summary_is_a_provisioning_log_row_with_the_engines_columns():
    row = log_row(SUMMARY)
    assert set(row) == set(reports.LOG_COLUMNS)
    assert (row["provisioningAction"], row["status"], row["errorCode"]) == ("stagedDelete", "skipped", "TooManyDeletes")
    assert row["reason"] == "5 deletions exceed the threshold of 3"
    assert row["provisioningSteps"][1]["details"] == {"SkipReason": "TooManyDeletes"}
    assert row["durationInMilliseconds"] == 812 and row["cycleId"] == "c1"
    action = action_of(row)
    assert action.kind == "stagedDelete" and action.changes["accountEnabled"].new == "False"
    assert staged_rows([row]) == [{"source_id": "src-1", "target_id": "tgt-1", "action": "disable",
                                   "reason": "5 deletions exceed the threshold of 3", "displayName": "Ana Ruiz"}]


def _job(**status) -> dict:
    return {"status": status}


def test_a_followed_cycle_is_over_when_a_new_execution_ended_or_a_new_quarantine_began():
    at = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)
    started = Started("old", at, "start", "2026-11-30T05:00:00Z")
    running = _job(code="Active", lastExecution={"activityIdentifier": "old", "timeBegan": "2026-11-30T05:50:00Z",
                                                 "timeEnded": "2026-11-30T05:51:00Z"})
    assert not cycle_over(running, started)
    done = _job(code="Active", lastExecution={"activityIdentifier": "new", "timeBegan": "2026-11-30T06:00:01Z",
                                              "timeEnded": "2026-11-30T06:00:09Z"})
    assert cycle_over(done, started)
    still_old_quarantine = _job(code="Quarantine", quarantine={"currentBegan": "2026-11-30T05:00:00Z"},
                                lastExecution=running["status"]["lastExecution"])
    assert not cycle_over(still_old_quarantine, started)
    new_quarantine = _job(code="Quarantine", quarantine={"currentBegan": "2026-11-30T06:00:05Z"},
                          lastExecution=running["status"]["lastExecution"])
    assert cycle_over(new_quarantine, started)


def test_an_execution_is_the_cycle_its_rows_were_logged_in():
    began = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)
    rows = [{"cycleId": "c9", "activityDateTime": (began + timedelta(seconds=3)).isoformat()}]
    execution = {"activityIdentifier": "not-a-cycle-id", "timeBegan": began.isoformat(),
                 "timeEnded": (began + timedelta(seconds=5)).isoformat()}
    assert cycle_id_of(execution, rows) == "c9"
    assert cycle_id_of({**execution, "activityIdentifier": "c9"}, rows) == "c9"
    assert cycle_id_of({**execution, "activityIdentifier": "c10"}, []) == "c10"


def test_restart_scopes_and_schedule():
    assert reset_scope(False) is None and reset_scope(True) == RESTART == "Watermark, Escrows, QuarantineState"
    assert reset_scope("Full") == "Full" and interval(40) == "PT40M"


def test_the_jobs_quarantine_is_the_stores_job_status():
    job = {"status": {"code": "Quarantine", "quarantine": {
        "currentBegan": "2026-11-30T06:00:00Z", "nextAttempt": "2026-11-30T12:00:00Z", "reason": "TooManyDeletes",
        "seriesBegan": "2026-11-30T06:00:00Z", "seriesCount": 1, "error": {"code": "TooManyDeletes", "message": "x"}}}}
    status = job_status(job)
    assert status.code == "Quarantine" and status.quarantine is not None
    assert status.quarantine.reason == "TooManyDeletes"
    assert status.quarantine.next_attempt == datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    assert job_status({"status": {"code": "Active"}}).quarantine is None
