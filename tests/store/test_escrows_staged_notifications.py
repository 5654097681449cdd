from __future__ import annotations

from datetime import timedelta

import pytest

from tenantsync.store import Store

from .conftest import T0

MIN = timedelta(minutes=1)


def test_first_failure_is_retried_after_40_minutes(store: Store) -> None:
    store.record_failures("emea", {"u1": "Graph 400 Request_BadRequest", "u2": "timeout"}, T0)
    assert store.count_escrows("emea") == 2
    assert store.escrows_due("emea", T0 + 39 * MIN) == {}
    due = store.escrows_due("emea", T0 + 40 * MIN)
    assert due == {"u1": {"failures": 1, "next_retry": T0 + 40 * MIN, "last_error": "Graph 400 Request_BadRequest"},
                   "u2": {"failures": 1, "next_retry": T0 + 40 * MIN, "last_error": "timeout"}}


def test_retry_interval_doubles_up_to_a_day(store: Store) -> None:
    now = T0
    expected_minutes = [40, 80, 160, 320, 640, 1280, 1440, 1440, 1440]
    for n, minutes in enumerate(expected_minutes, start=1):
        store.record_failures("emea", {"u1": f"failure {n}"}, now)
        [escrow] = store.escrows_due("emea", now + timedelta(days=2)).values()
        assert escrow == {"failures": n, "next_retry": now + minutes * MIN, "last_error": f"failure {n}"}
        now = escrow["next_retry"]


def test_escrows_cleared_per_object_and_all(store: Store) -> None:
    store.record_failures("emea", {"u1": "e", "u2": "e", "u3": "e"}, T0)
    store.record_failures("apac", {"u1": "e"}, T0)
    store.clear_escrows("emea", ["u1", "missing"])
    assert set(store.escrows_due("emea", T0 + timedelta(days=1))) == {"u2", "u3"}
    store.clear_all_escrows("emea")
    assert store.count_escrows("emea") == 0
    assert store.count_escrows("apac") == 1  # the other configuration keeps its escrows
    store.record_failures("emea", {"u1": "again"}, T0)
    assert store.escrows_due("emea", T0 + 40 * MIN)["u1"]["failures"] == 1  # a cleared escrow starts over


def staged_row(source_id: str, action: str = "delete", **extra: object) -> dict:
    return {"source_id": source_id, "target_id": f"t-{source_id}", "action": action,
            "reason": "left scope", "displayName": f"User {source_id}", **extra}


def test_staged_deletions_round_trip_and_restage(store: Store) -> None:
    store.stage_deletions("emea", "c1", [staged_row("u1"), staged_row("u2", "disable")])
    store.stage_deletions("emea", "c2", [staged_row("u1", "disable", reason="deleted in source")])
    rows = {r["source_id"]: r for r in store.staged("emea")}
    assert set(rows) == {"u1", "u2"}
    assert rows["u2"] | {"staged": None} == {"source_id": "u2", "target_id": "t-u2", "action": "disable",
                                             "reason": "left scope", "displayName": "User u2",
                                             "cycle_id": "c1", "staged": None}
    assert rows["u1"]["cycle_id"] == "c2" and rows["u1"]["action"] == "disable"
    assert rows["u1"]["reason"] == "deleted in source"
    assert rows["u2"]["staged"].tzinfo is not None and rows["u2"]["staged"] <= rows["u1"]["staged"]


def test_staged_deletions_cleared_in_part_or_all(store: Store) -> None:
    store.stage_deletions("emea", "c1", [staged_row("u1"), staged_row("u2"), staged_row("u3")])
    store.stage_deletions("apac", "c9", [staged_row("u1")])
    store.clear_staged("emea", ["u1"])
    assert [r["source_id"] for r in store.staged("emea")] == ["u2", "u3"]
    store.clear_staged("emea")
    assert store.staged("emea") == []
    assert [r["source_id"] for r in store.staged("apac")] == ["u1"]


def test_bad_staged_row_is_refused_and_nothing_written(store: Store) -> None:
    with pytest.raises(ValueError, match="staged action 'purge' is not allowed"):
        store.stage_deletions("emea", "c1", [staged_row("u1"), staged_row("u2", "purge")])
    with pytest.raises(ValueError, match="unknown keys"):
        store.stage_deletions("emea", "c1", [staged_row("u1", display_name="x")])
    assert store.staged("emea") == []


def test_notifications_recorded_in_order_per_configuration(store: Store) -> None:
    store.record_notification("emea", "quarantine", "Provisioning quarantined", "reason: TooManyDeletes",
                              "ops@contoso.com")
    store.record_notification("apac", "quarantine", "other", "body", None)
    store.record_notification("emea", "quarantine-reason-changed", "Reason changed", "now: Unknown", None)
    sent = store.notifications("emea")
    assert [(n["kind"], n["subject"], n["body"], n["recipient"]) for n in sent] == [
        ("quarantine", "Provisioning quarantined", "reason: TooManyDeletes", "ops@contoso.com"),
        ("quarantine-reason-changed", "Reason changed", "now: Unknown", None)]
    assert all(n["sent"].tzinfo is not None for n in sent)
    assert len(store.notifications("apac")) == 1
