"""The configuration fingerprint and the job's escrow counter in the store (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

from tenantsync.store import Link, Store

from .conftest import T0


def test_fingerprint_is_none_until_recorded_then_replaced_whole(store: Store) -> None:
    assert store.config_fingerprint("emea") is None
    store.save_config_fingerprint("emea", {"scope filters": "a", "matching": "m"}, "c1")
    store.save_config_fingerprint("apac", {"scope filters": "z"}, "c9")
    store.save_config_fingerprint("emea", {"scope filters": "b"}, "c2")
    assert store.config_fingerprint("emea") == {"scope filters": "b"}
    assert store.config_fingerprint("apac") == {"scope filters": "z"}


def test_job_objects_count_linked_users_and_escrowed_users_once(store: Store) -> None:
    store.upsert_links("emea", [Link(f"u{i}", f"t{i}", "active") for i in range(5)]
                       + [Link("u5", "t5", "deleted")])
    store.record_failures("emea", {"u1": "update failed", "x1": "create failed", "x2": "create failed"}, T0)
    store.record_failures("apac", {"y1": "e"}, T0)
    assert store.count_escrows("emea") == 3
    assert store.count_job_objects("emea") == 8                      # 6 linked + 2 escrowed without a link
    assert store.count_job_objects("apac") == 1


def test_reference_escrows_are_counted_apart_and_cleared_by_a_restart(store: Store) -> None:
    store.record_reference_failures("emea", "manager", {"u1": "PUT manager/$ref 404", "u2": "403"}, T0)
    store.record_reference_failures("emea", "manager", {"u1": "again"}, T0 + timedelta(hours=1))
    assert store.count_reference_escrows("emea") == 2 and store.count_escrows("emea") == 0
    due = store.reference_escrows_due("emea", "manager", T0 + timedelta(hours=2))
    assert due["u2"]["failures"] == 1 and "u1" not in due           # u1 failed twice: retried later
    store.clear_reference_escrows("emea", "manager", ["u2"])
    assert store.count_reference_escrows("emea") == 1
    store.record_failures("emea", {"u3": "e"}, T0)
    store.reset("emea")                                               # restart: resetScope Escrows
    assert store.count_reference_escrows("emea") == 0 and store.count_escrows("emea") == 0
