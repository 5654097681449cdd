"""Opening, caching and resetting the store; what holds whatever the area."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

from sqlalchemy import text

from tenantsync.store import JobStatus, Link, Quarantine, Store
from tenantsync.store.schema import MIGRATIONS, VERSION_TABLE

from .conftest import T0


def test_sqlite_parent_folder_is_created(tmp_path: Path) -> None:
    db = tmp_path / "data" / "state" / "emea-to-hq.db"
    with Store(f"sqlite:///{db}") as store:
        store.save_watermarks("emea", {"users": "d1"})
    assert db.is_file()


def test_for_url_reuses_one_store_until_closed(store_url: str) -> None:
    first = Store.for_url(store_url)
    try:
        assert Store.for_url(store_url) is first
        first.close()
        second = Store.for_url(store_url)
        assert second is not first
        second.save_watermarks("emea", {"users": "d1"})  # a closed store is not handed out again
        second.close()
    finally:
        first.close()


def test_stores_opened_at_once_on_a_new_database_all_work(store_url: str) -> None:
    stores: list[Store] = []
    errors: list[BaseException] = []

    def open_store() -> None:
        try:
            stores.append(Store(store_url))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert errors == [] and {s.revision for s in stores} == {MIGRATIONS.head()}
        with stores[0].engine.connect() as conn:
            assert conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all() == [
                MIGRATIONS.head()]
        stores[0].save_watermarks("emea", {"users": "d1"})
    finally:
        for s in stores:
            s.close()


def test_concurrent_writers_in_threads_do_not_fail(store: Store) -> None:
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(15):
                store.record_failures("emea", {"shared": f"t{n}", f"own{n}": "e"}, T0)  # read-then-write
                store.append_log("emea", [{"cycleId": f"c{n}", "id": f"{n}-{i}"}])
                store.save_job("emea", JobStatus(code="Active", count_successive_complete_failures=i))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(store.log("emea")) == 60
    assert store.count_escrows("emea") == 5


def quarantined() -> JobStatus:
    return JobStatus(code="Quarantine", quarantine=Quarantine(T0, T0 + timedelta(hours=6), "TooManyDeletes",
                                                              T0, 3, {"code": "x"}),
                     last_execution=T0, count_successive_complete_failures=4, notified_reason="TooManyDeletes")


def fill(store: Store, config: str) -> None:
    store.upsert_links(config, [Link("s1", "t1", "active")])
    store.save_snapshots(config, {"s1": {"id": "s1"}})
    store.replace_memberships(config, {"g1": {"s1"}})
    store.save_watermarks(config, {"users": "d1", "groups": "d2"})
    store.record_failures(config, {"s2": "boom"}, T0)
    store.save_job(config, quarantined())


def test_restart_clears_watermarks_and_escrows_lifts_quarantine_keeps_links(store: Store) -> None:
    fill(store, "emea")
    fill(store, "apac")
    store.reset("emea")
    assert store.watermarks("emea") == {}
    assert store.count_escrows("emea") == 0
    assert store.job("emea") == JobStatus(code="Active", last_execution=T0)
    assert set(store.links("emea")) == {"s1"}
    assert store.snapshots("emea") == {"s1": {"id": "s1"}}
    # the other configuration is untouched
    assert store.job("apac") == quarantined() and store.count_escrows("apac") == 1
    assert len(store.watermarks("apac")) == 2


def test_full_reset_also_breaks_links(store: Store) -> None:
    fill(store, "emea")
    store.reset("emea", links=True)
    assert store.links("emea") == {} and store.snapshots("emea") == {} and store.memberships("emea") == {}


def test_reset_does_only_what_is_asked(store: Store) -> None:
    fill(store, "emea")
    store.reset("emea", watermarks=False, escrows=False, quarantine=False)
    assert len(store.watermarks("emea")) == 2 and store.count_escrows("emea") == 1
    assert store.job("emea") == quarantined()
    store.save_job("emea", JobStatus(code="Paused"))
    store.reset("emea")
    assert store.job("emea").code == "Paused"  # an administrator's pause survives a restart


def test_memory_store_is_one_database_for_all_threads() -> None:
    with Store("sqlite://") as store:
        store.save_watermarks("emea", {"users": "d1"})
        seen: list[dict[str, str]] = []
        thread = threading.Thread(target=lambda: seen.append(store.watermarks("emea")))
        thread.start()
        thread.join()
        assert seen == [{"users": "d1"}]
