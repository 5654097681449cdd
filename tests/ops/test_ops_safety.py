"""Deletion threshold, quarantine and its notification, end to end: the engine on the emulator."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tenantsync.cycle import CycleOptions, entra_cycle
from tenantsync.errors import GraphError, QuarantinedError
from tenantsync.ops.notify import SmtpNotifier
from tenantsync.stages import guard

from .opsworld import SRC_TOKEN, TGT_TOKEN, uid, world

N = 620                       # users created by the initial cycle
DOOMED = [uid(i) for i in range(1, 601)]


def notifier(ops, sink):
    return SmtpNotifier(sink.host, sink.port, "tenantsync@example.com", ops.cfg.settings.notification_email)


def provisioned_world(ops):
    ops.load(world(N))
    report = ops.sync()
    assert report.counts["create"] == N and report.counts["failure"] == 0
    return ops.synced()


def delete_in_source(ops, ids):
    replies = ops.api("source").batch([{"method": "DELETE", "url": f"/users/{i}"} for i in ids])
    assert {r["status"] for r in replies} == {204}


def make_due(ops):
    job = ops.store.job(ops.cfg.name)
    job.quarantine.next_attempt = datetime.now(UTC) - timedelta(minutes=1)
    ops.store.save_job(ops.cfg.name, job)


# -- accidental deletions --------------------------------------------------------------------------

def test_cycle_that_would_delete_600_users_stages_them_quarantines_and_notifies(ops, smtp_sink):
    before = provisioned_world(ops)
    delete_in_source(ops, DOOMED)
    report = ops.sync(notify=notifier(ops, smtp_sink))

    assert report.staged == 600 and report.counts["stagedDelete"] == 600
    assert report.counts["delete"] == report.counts["disable"] == 0
    assert len(ops.synced()) == N and not ops.deleted_ids()            # nothing applied
    rows = ops.store.log(ops.cfg.name, report.cycle_id, action="stagedDelete")
    assert len(rows) == 600 and {r["status"] for r in rows} == {"skipped"}
    assert {r["errorCode"] for r in rows} == {"TooManyDeletes"}
    staged = ops.store.staged(ops.cfg.name)
    assert {s["target_id"] for s in staged} == {before[i]["id"] for i in DOOMED}
    assert {s["action"] for s in staged} == {"delete"}
    job = ops.store.job(ops.cfg.name)
    assert job.code == "Quarantine" and job.quarantine.reason == "TooManyDeletes"
    assert report.job["quarantine"]["reason"] == "TooManyDeletes" and "600" in report.message

    [mail] = smtp_sink.wait(1)
    assert "TooManyDeletes" in mail["Subject"] and mail["To"] == "identity-ops@example.com"
    assert "pending-deletions.csv" in mail.get_payload(decode=True).decode()

    # The next scheduled cycle does not run before the backoff ...
    with pytest.raises(QuarantinedError, match="quarantined until"):
        ops.sync()
    # ... and ForceDeletes (--allow-deletes) applies exactly the staged deletions.
    approved = ops.sync(allow_deletes=True)
    assert approved.counts["delete"] == 600 and approved.counts["failure"] == 0
    assert ops.deleted_ids() == {s["target_id"] for s in staged}
    assert set(ops.synced()) == {uid(i) for i in range(601, N + 1)}
    assert ops.store.staged(ops.cfg.name) == []
    assert ops.store.job(ops.cfg.name).code == "Active"
    # and the next cycle is quiet
    assert ops.sync().counts["delete"] == 0
    assert len(smtp_sink.messages) == 1


def test_approval_during_the_cycle_applies_exactly_the_staged_deletions(ops):
    """The Prefect flow pauses after decide() and, once approved, calls approve_staged()."""
    before = provisioned_world(ops)
    delete_in_source(ops, DOOMED)
    cycle = entra_cycle(ops.cfg, source_api=ops.api("source", read_only=True), target_api=ops.api("target"),
                        store=ops.store, options=CycleOptions())
    cycle.begin()
    for page in cycle.pages():
        cycle.plan_page(page)
    assert "threshold of 500" in cycle.decide()
    staged = {a.target_id for a in cycle.staged}
    assert len(staged) == 600 and staged == {before[i]["id"] for i in DOOMED}
    assert cycle.approve_staged() == 600
    for batch in cycle.batches():
        cycle.apply(batch)
    report = cycle.finish()
    assert report.counts["delete"] == 600 and report.counts["stagedDelete"] == 0
    assert ops.deleted_ids() == staged
    assert ops.store.job(ops.cfg.name).code == "Active" and ops.store.staged(ops.cfg.name) == []


def test_cycle_under_the_threshold_deletes_and_threshold_zero_is_off(ops):
    provisioned_world(ops)
    delete_in_source(ops, DOOMED[:500])
    assert ops.sync().counts["delete"] == 500                      # 500 is not above 500
    ops.configure(settings={"deletion_threshold": 0, "notification_email": "identity-ops@example.com"})
    delete_in_source(ops, DOOMED[500:])
    assert ops.sync().counts["delete"] == 100


# -- quarantine ------------------------------------------------------------------------------------

def test_wrong_token_quarantines_refuses_scheduled_runs_and_restart_releases(ops, smtp_sink):
    ops.sync()
    ops.mp.setenv("OPS_TGT_TOKEN", "not-the-right-token")
    with pytest.raises(GraphError) as err:
        ops.sync(notify=notifier(ops, smtp_sink))
    assert err.value.code == "InvalidAuthenticationToken"
    job = ops.store.job(ops.cfg.name)
    q = job.quarantine
    assert job.code == "Quarantine" and q.reason == "EncounteredQuarantineException"
    assert q.error["code"] == "InvalidAuthenticationToken" and q.series_count == 1
    assert timedelta(hours=5, minutes=59) < q.next_attempt - q.current_began <= timedelta(hours=6)
    assert ops.store.cycles(ops.cfg.name)[-1]["status"] == "failure"
    [mail] = smtp_sink.wait(1)
    assert "EncounteredQuarantineException" in mail["Subject"]
    assert "not-the-right-token" not in mail.get_payload(decode=True).decode()

    ops.mp.setenv("OPS_TGT_TOKEN", TGT_TOKEN)              # fixed, but not due yet
    with pytest.raises(QuarantinedError, match="quarantined until .* UTC"):
        ops.sync()
    report = ops.sync(restart=True)                                 # restart lifts the quarantine
    assert report.kind == "initial" and report.job["code"] == "Active"
    assert ops.store.job(ops.cfg.name).quarantine is None


def test_good_cycle_at_the_next_attempt_releases_and_same_reason_notifies_once(ops, smtp_sink):
    notify = notifier(ops, smtp_sink)
    ops.sync(notify=notify)
    ops.mp.setenv("OPS_SRC_TOKEN", "not-the-right-token")
    with pytest.raises(GraphError):
        ops.sync(notify=notify)
    make_due(ops)
    with pytest.raises(GraphError):                                 # retried at its time, fails again
        ops.sync(notify=notify)
    q = ops.store.job(ops.cfg.name).quarantine
    assert q.series_count == 2 and q.next_attempt - q.series_began == timedelta(hours=18)
    assert len(smtp_sink.wait(1)) == 1 and len(ops.store.notifications(ops.cfg.name)) == 1

    ops.mp.setenv("OPS_SRC_TOKEN", SRC_TOKEN)
    make_due(ops)
    report = ops.sync(notify=notify)                                # a good cycle releases
    job = ops.store.job(ops.cfg.name)
    assert job.code == "Active" and job.quarantine is None and report.job["quarantine"] is None
    assert job.count_successive_complete_failures == 0


def test_every_create_failing_is_escrowed_but_not_quarantined_below_5000_failures(ops):
    ops.api("target").request("PATCH", "/policies/authorizationPolicy", {"allowInvitesFrom": "none"})
    report = ops.sync()
    failures = [a for a in report.actions if a.status == "failure"]
    assert len(failures) == 10 and {a.error_code for a in failures} == {"AzureActiveDirectoryForbidden"}
    assert "Guest invitations not allowed" in failures[0].reason
    assert guard.escrow_quarantine_reason(10, 0, 10) is None       # documented: evaluated from 5,000
    assert ops.store.job(ops.cfg.name).code == "Active"
    assert ops.store.count_escrows(ops.cfg.name) == 10


def test_failure_rate_quarantines_end_to_end_with_scaled_thresholds(ops, smtp_sink, monkeypatch):
    # The documented rule needs 5,000 failures; scale it down so that ten failed creates trip it.
    monkeypatch.setattr(guard, "ESCROW_EVALUATION_MIN", 5)
    ops.api("target").request("PATCH", "/policies/authorizationPolicy", {"allowInvitesFrom": "none"})
    report = ops.sync(notify=notifier(ops, smtp_sink))
    assert report.counts["failure"] == 10 and report.failed
    job = ops.store.job(ops.cfg.name)
    assert job.code == "Quarantine" and job.quarantine.reason == "EncounteredEscrowProportionThreshold"
    [mail] = smtp_sink.wait(1)
    assert "EncounteredEscrowProportionThreshold" in mail["Subject"]
    # invitations allowed again: a restart retries everything, succeeds and releases
    ops.api("target").request("PATCH", "/policies/authorizationPolicy", {"allowInvitesFrom": "everyone"})
    again = ops.sync(restart=True)
    assert again.counts["create"] == 10 and ops.store.job(ops.cfg.name).code == "Active"


def test_disables_count_toward_the_threshold_and_are_staged_as_disables(ops):
    ops.configure(settings={"deletion_threshold": 3, "on_leave_scope": "disable",
                            "notification_email": "identity-ops@example.com"})
    ops.sync()
    src = ops.api("source")
    src.batch([{"method": "PATCH", "url": f"/users/{uid(i)}", "headers": {"Content-Type": "application/json"},
                "body": {"department": "Legal"}} for i in range(1, 5)])
    report = ops.sync()
    assert report.staged == 4 and report.counts["disable"] == 0
    assert {s["action"] for s in ops.store.staged(ops.cfg.name)} == {"disable"}
    assert all(ops.synced()[uid(i)]["accountEnabled"] is True for i in range(1, 5))
    assert ops.store.job(ops.cfg.name).quarantine.reason == "TooManyDeletes"
    approved = ops.sync(allow_deletes=True)
    assert approved.counts["disable"] == 4
    assert all(ops.synced()[uid(i)]["accountEnabled"] is False for i in range(1, 5))


def test_quarantine_longer_than_28_days_disables_the_job_until_restart(ops):
    from tenantsync.quarantine import JobKeeper

    t0 = datetime(2025, 3, 1, tzinfo=UTC)
    JobKeeper(ops.store, ops.cfg, clock=lambda: t0).enter_quarantine("EncounteredQuarantineException", "401")
    later = JobKeeper(ops.store, ops.cfg, clock=lambda: t0 + timedelta(days=29))
    with pytest.raises(QuarantinedError, match="more than 4 weeks"):
        later.check_due()
    assert ops.store.job(ops.cfg.name).code == "Disabled"
    with pytest.raises(QuarantinedError, match="disabled"):
        ops.sync()
    assert ops.sync(restart=True).job["code"] == "Active"
