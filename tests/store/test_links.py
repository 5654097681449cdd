from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from tenantsync.store import Link, Store

from .conftest import T0


def test_links_round_trip_every_field(store: Store) -> None:
    store.upsert_links("emea", [
        Link("s1", "t1", "active", "ann@emea.contoso.com", T0),
        Link("s2", "t2", "pending"),
    ])
    links = store.links("emea")
    assert links["s1"] == Link("s1", "t1", "active", "ann@emea.contoso.com", T0)
    assert links["s2"].target_id == "t2" and links["s2"].state == "pending"
    assert links["s2"].source_upn is None
    # updated left None is stamped with the time of writing, aware UTC
    assert links["s2"].updated is not None and links["s2"].updated.tzinfo is UTC
    assert abs(datetime.now(UTC) - links["s2"].updated) < timedelta(minutes=1)


def test_upsert_overwrites_and_last_repeat_wins(store: Store) -> None:
    store.upsert_links("emea", [Link("s1", "t1", "pending", "a@x", T0)])
    store.upsert_links("emea", [Link("s1", "t1", "active", None, T0 + timedelta(minutes=1)),
                                Link("s1", "t1b", "disabled", "b@x", T0 + timedelta(minutes=2))])
    assert store.links("emea") == {"s1": Link("s1", "t1b", "disabled", "b@x", T0 + timedelta(minutes=2))}


def test_links_for_returns_only_requested_ids_that_have_a_link(store: Store) -> None:
    store.upsert_links("emea", [Link(f"s{i}", f"t{i}", "active") for i in range(5)])
    found = store.links_for("emea", iter(["s1", "s3", "s3", "missing"]))
    assert set(found) == {"s1", "s3"}
    assert found["s3"].target_id == "t3"
    assert store.links_for("emea", []) == {}


def test_delete_and_count_links(store: Store) -> None:
    store.upsert_links("emea", [Link("a", "ta", "active"), Link("d", "td", "disabled"),
                                Link("p", "tp", "pending"), Link("x", "tx", "deleted")])
    assert store.count_links("emea") == 3  # soft-deleted by us is not counted by default
    assert store.count_links("emea", states=("deleted",)) == 1
    store.delete_links("emea", ["a", "x", "never-linked"])
    assert set(store.links("emea")) == {"d", "p"}
    assert store.count_links("emea") == 2


def test_timestamps_come_back_as_the_same_instant_in_utc(store: Store) -> None:
    paris = timezone(timedelta(hours=1))
    store.upsert_links("emea", [Link("s1", "t1", "active", updated=datetime(2026, 1, 5, 10, 30, tzinfo=paris))])
    updated = store.links("emea")["s1"].updated
    assert updated == T0 and updated is not None and updated.utcoffset() == timedelta(0)


def test_bad_link_is_refused_and_nothing_written(store: Store) -> None:
    with pytest.raises(ValueError, match="link state 'gone' is not allowed"):
        store.upsert_links("emea", [Link("ok", "t", "active"), Link("bad", "t", "gone")])
    with pytest.raises(ValueError, match="naive datetime"):
        store.upsert_links("emea", [Link("naive", "t", "active", updated=datetime(2026, 1, 1))])
    assert store.links("emea") == {}


def test_configurations_do_not_see_each_others_links(store: Store) -> None:
    store.upsert_links("emea", [Link("s1", "t-emea", "active")])
    store.upsert_links("apac", [Link("s1", "t-apac", "active"), Link("s2", "t2", "active")])
    store.delete_links("apac", ["s1"])
    assert store.links("emea") == {"s1": store.links_for("emea", ["s1"])["s1"]}
    assert store.links("emea")["s1"].target_id == "t-emea"
    assert set(store.links("apac")) == {"s2"}
    assert store.count_links("emea") == 1 and store.count_links("apac") == 1
    assert store.links_for("apac", ["s1"]) == {}
