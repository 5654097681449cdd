"""The figures of a run's progress (tenantsync/progress.py): what the command line's bar and the
Prefect progress artifact show, the ETA above all."""

from __future__ import annotations

import threading

from tenantsync import progress
from tenantsync.progress import Tracker, clock


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_an_initial_cycle_of_100000_users_shows_the_hours_the_write_budget_needs() -> None:
    """Graph admits 3,000 writes per 150 s per app and tenant; a create costs two Graph writes
    (invitation, then update): 100,000 creates take about 2.8 hours, whatever the first seconds'
    burst (the bucket starts full) suggest."""
    t = Clock()
    tracker = Tracker("big", clock=t)
    tracker.begun("initial")
    tracker.page(999, {"create:success": 100_000})
    for _ in range(10):                  # the full bucket spent fast: 3,000 Graph writes in 10 s
        t.now += 1.0
        tracker.sent(300)
        tracker.batch(150, {"create:success": 150})
    burst = tracker.decide(remaining=100_000 - 1_500, batches=493)
    assert burst.rate is not None and burst.rate > 100           # measured: far above the budget
    assert 2.6 < (burst.eta_s or 0) / 3600 < 2.9, burst.eta_text()
    tracker.budget(20.0)                 # the first 429: the limiter learns the tenant's 20 writes/s
    learned = tracker.snapshot()
    assert learned.eta_text().startswith("ETA 2:4"), learned.eta_text()


def test_a_tenant_that_admits_more_than_graphs_budget_gets_the_measured_eta() -> None:
    """A time-scaled emulator admits far more than Graph's 20 writes/s: once more was sent than
    the bucket holds and nothing was refused, the measured rate alone makes the ETA; a rate the
    limiter learned bounds it again."""
    t = Clock()
    tracker = Tracker("scaled", clock=t)
    tracker.begun("initial")
    tracker.page(1000, {"create:success": 3000, "other:skipped": 10})
    for _ in range(10):
        t.now += 0.5
        tracker.sent(400)
        tracker.batch(200, {"create:success": 200})
    measured = tracker.snapshot()
    assert measured.rate == 400.0 and measured.eta_s == 1000 / 400
    tracker.budget(400.0)                # Graph writes/s: two per create
    learned = tracker.snapshot()
    assert learned.eta_s == 1000 * 2 / 400


def test_the_total_grows_while_pages_are_read_and_is_exact_after_decide() -> None:
    t = Clock()
    tracker = Tracker("emea-to-hq", clock=t)
    tracker.begun("incremental")
    first = tracker.page(999, {"create:success": 300, "update:success": 100, "other:skipped": 599})
    assert first.writes_text() == "writes 0 of 400+"
    t.now += 2
    tracker.batch(100, {"create:success": 99, "create:failure": 1})
    t.now += 2
    tracker.batch(100, {"create:success": 100})
    second = tracker.page(500, {"update:success": 50, "delete:success": 5})
    assert second.writes_text() == "writes 200 of 455+" and second.rate_text() == "50.0 writes/s"
    assert second.eta_text() == "ETA 0:05+"                    # for the writes planned so far
    decided = tracker.decide(remaining=255, batches=2, plan={"create:success": 300, "update:success": 150,
                                                             "stagedDelete:skipped": 5})
    assert decided.writes_text() == "writes 200 of 455" and decided.batches_total == 4
    assert tracker.plan == {"create": 300, "update": 150, "stagedDelete": 5}
    assert "3 page" not in decided.text() and "2 page(s) read, 1,499 user(s)" in decided.text()
    assert dict(decided.statuses) == {"success": 199, "failure": 1}
    done = tracker.done()
    assert done.eta_text() == "done in 0:04" and done.fraction == 1.0


def test_a_wait_is_shown_with_its_reason_until_it_is_over() -> None:
    t = Clock()
    seen: list[progress.Snapshot] = []
    unsubscribe = progress.subscribe(seen.append)
    try:
        tracker = Tracker("emea-to-hq", clock=t)
        with progress.tracking(tracker):
            progress.waiting(0.2, "too short to show")
            assert not seen
            progress.waiting(9.1, "provisionOnDemand allows 5 requests per 10 seconds")
        assert seen[-1].wait == "provisionOnDemand allows 5 requests per 10 seconds"
        assert seen[-1].wait_left_s == 9.1 and "provisionOnDemand" in seen[-1].text()
        t.now += 10
        assert tracker.snapshot().wait == ""
        progress.waiting(3.0, "Graph answered 429")            # no run tracked: the wait alone
        assert seen[-1].label == "" and seen[-1].wait == "Graph answered 429"
    finally:
        unsubscribe()


def test_a_sink_that_fails_never_stops_the_run_and_reports_from_other_threads_count() -> None:
    def broken(_: progress.Snapshot) -> None:
        raise RuntimeError("display gone")

    unsubscribe = progress.subscribe(broken)
    try:
        tracker = Tracker("x")
        with progress.tracking(tracker):
            tracker.begun("initial")
            threads = [threading.Thread(target=progress.sent, args=(20,)) for _ in range(10)]
            for th in threads:
                th.start()
            for th in threads:
                th.join()
        assert tracker.graph_writes == 200
        progress.sent(5)                                       # after the run: nobody listens
        assert tracker.graph_writes == 200
    finally:
        unsubscribe()


def test_times_read_as_a_clock() -> None:
    assert clock(None) == "--:--" and clock(31) == "0:31" and clock(3 * 3600 + 61) == "3:01:01"
