"""The store's schema comes from its Alembic revisions (SQLite and PostgreSQL): they build exactly
the store's tables, a store written by tenantsync 0.1.0 (hand-rolled version table) is upgraded in
place keeping every row, and a store of an unknown layout is refused untouched."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from tenantsync.store import JobStatus, Link, Store, StoreSchemaError, locks
from tenantsync.store.schema import BASELINE, LEGACY_TABLE, MIGRATIONS, VERSION_TABLE
from tenantsync.store.tables import metadata

from .conftest import T0

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).resolve().parents[2]
CONFIG = "emea-to-hq"


def load_release_0_1_0(url: str) -> None:
    """Write the store exactly as tenantsync 0.1.0 left it (tests/store/data: its dumps)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = Path(parsed.database or "")
        path.parent.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(path) as db:
            db.executescript((DATA / "store-0.1.0.sqlite.sql").read_text())
        return
    engine = create_engine(url, poolclass=NullPool)
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        raw.execute((DATA / "store-0.1.0.postgresql.sql").read_text())
        raw.commit()
    engine.dispose()


def tables(url: str) -> set[str]:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return set(inspect(conn).get_table_names())
    finally:
        engine.dispose()


def schema_diff(store: Store) -> list[object]:
    """What the database lacks or has beyond the store's tables (Alembic's autogenerate view)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with store.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
        return list(compare_metadata(ctx, MIGRATIONS.metadata))


def test_a_new_store_has_exactly_the_tables_of_the_code(store_url: str) -> None:
    with Store(store_url) as store:
        assert store.revision == MIGRATIONS.head()
        assert schema_diff(store) == []
    assert tables(store_url) == set(metadata.tables) | {"ts_locks", VERSION_TABLE}


def test_a_store_written_by_0_1_0_is_upgraded_in_place_keeping_its_rows(store_url: str) -> None:
    load_release_0_1_0(store_url)
    with Store(store_url) as store:
        assert store.revision == MIGRATIONS.head() and schema_diff(store) == []
        # every row the old release wrote is read back as it was
        assert store.links(CONFIG)["s1"] == Link("s1", "t1", "active", "ann@emea.example", T0)
        assert store.count_links(CONFIG) == 3 and store.count_links("apac-to-hq") == 1
        assert store.snapshots(CONFIG, ["s1"])["s1"]["displayName"] == "Ann Élise"
        assert store.memberships(CONFIG) == {"g1": {"s1", "s2"}, "g2": {"s3"}}
        assert store.watermarks(CONFIG)["users"].endswith("$deltatoken=u1")
        job = store.job(CONFIG)
        assert job.code == "Quarantine" and job.quarantine is not None
        assert job.quarantine.next_attempt == T0 + timedelta(hours=6)
        assert job.quarantine.error == {"code": "Authorization_RequestDenied"}
        [old_cycle] = store.cycles(CONFIG)
        assert old_cycle["status"] == "failure" and old_cycle["counts"]["create"] == 1
        assert [r["id"] for r in store.log(CONFIG)] == ["log-1", "log-2"]
        assert store.log(CONFIG)[0]["modifiedProperties"][0]["newValue"] == "Sales"
        assert store.escrows_due(CONFIG, T0 + timedelta(hours=1))["s2"]["failures"] == 1
        assert store.count_reference_escrows(CONFIG) == 1
        assert store.pending_references(CONFIG, "manager") == {"s3": "s9"}
        assert [r["source_id"] for r in store.staged(CONFIG)] == ["s4"]
        assert [n["kind"] for n in store.notifications(CONFIG)] == ["quarantine"]
        assert store.anchor_attribute(CONFIG) == "extension_0123_tenantsyncAnchor"
        assert store.config_fingerprint(CONFIG) == {"scope filters": "f1", "attribute mappings": "m1"}
        assert store.reevaluations(CONFIG) == {"s1": "SMS sign-in turned off"}
        assert store.deleted_mark("old-config")["deleted"] == T0
        # and the upgraded store goes on working: ids continue, the lock table is there
        new_cycle = store.start_cycle(CONFIG, "incremental")
        store.append_log(CONFIG, [{"cycleId": new_cycle, "id": "log-3"}])
        store.finish_cycle(CONFIG, new_cycle, counts={}, status="success", job=JobStatus(code="Active"))
        assert [c["cycleId"] for c in store.cycles(CONFIG)] == [old_cycle["cycleId"], new_cycle]
        assert [r["id"] for r in store.log(CONFIG)][-1] == "log-3"
        store.record_failures(CONFIG, {"s2": "again"}, T0)
        assert store.escrows_due(CONFIG, T0 + timedelta(days=1))["s2"]["failures"] == 2
        assert locks.try_acquire(store.writer, CONFIG, "sync cycle") is None
    assert LEGACY_TABLE not in tables(store_url)
    with Store(store_url) as again:                        # reopening changes nothing
        assert again.count_links(CONFIG) == 3 and len(again.cycles(CONFIG)) == 2


def test_a_0_1_store_without_the_tables_added_later_gets_them(store_url: str) -> None:
    load_release_0_1_0(store_url)
    engine = create_engine(store_url, poolclass=NullPool)
    with engine.begin() as conn:      # as an early 0.1 build, before these tables existed, left it
        for name in ("ts_config_fingerprints", "ts_reference_escrows", "ts_locks", "ts_deleted_configs"):
            conn.execute(text(f"DROP TABLE {name}"))
    engine.dispose()
    with Store(store_url) as store:
        assert schema_diff(store) == []
        assert store.config_fingerprint(CONFIG) is None and store.count_reference_escrows(CONFIG) == 0
        store.save_config_fingerprint(CONFIG, {"matching": "m2"}, "c2")
        assert store.config_fingerprint(CONFIG) == {"matching": "m2"}
        assert store.deleted_mark(CONFIG) is None
        assert locks.try_acquire(store.writer, CONFIG, "sync cycle") is None
        assert store.count_links(CONFIG) == 3                             # the old rows are kept


def test_a_0_1_store_of_another_schema_version_is_refused_untouched(store_url: str) -> None:
    load_release_0_1_0(store_url)
    engine = create_engine(store_url, poolclass=NullPool)
    with engine.begin() as conn:
        conn.execute(text(f"UPDATE {LEGACY_TABLE} SET version = 2"))
    engine.dispose()
    with pytest.raises(StoreSchemaError, match=f"schema version 2 \\(in {LEGACY_TABLE}\\)"):
        Store(store_url)
    assert VERSION_TABLE not in tables(store_url) and LEGACY_TABLE in tables(store_url)


def test_a_store_at_a_revision_this_code_does_not_know_is_refused(store_url: str) -> None:
    with Store(store_url) as store:
        with store.writer.begin() as conn:
            conn.execute(text(f"UPDATE {VERSION_TABLE} SET version_num = '0099_future'"))
    with pytest.raises(StoreSchemaError, match="0099_future"):
        Store(store_url)


def test_a_downgrade_to_the_baseline_gives_0_1_0_its_version_table_back(store_url: str) -> None:
    from alembic import command

    with Store(store_url) as store:
        store.upsert_links(CONFIG, [Link("s1", "t1", "active")])
        with store.writer.begin() as conn:
            command.downgrade(MIGRATIONS.config(conn), BASELINE)
        with store.engine.connect() as conn:
            version, applied = conn.execute(text(f"SELECT version, applied FROM {LEGACY_TABLE}")).one()
    assert version == 1 and applied is not None
    with Store(store_url) as upgraded:           # and the next open upgrades it again
        assert upgraded.count_links(CONFIG) == 1 and LEGACY_TABLE not in tables(store_url)


def test_an_installed_tenantsync_carries_the_revisions(tmp_path: Path) -> None:
    """Build the package as pip installs it (setuptools build_py from a copy of the sources) and
    open a new store with the built copy: the revisions must be part of the package."""
    source = tmp_path / "src"
    source.mkdir()
    (source / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text())
    subprocess.run(["cp", "-r", str(ROOT / "tenantsync"), str(source)], check=True)
    built = tmp_path / "built"
    subprocess.run([sys.executable, "-c", "import setuptools; setuptools.setup()", "-q", "build_py",
                    "--build-lib", str(built)], cwd=source, check=True, capture_output=True)
    for scripts in ("tenantsync/store/migrations", "tenantsync/connectors/directory/migrations"):
        assert (built / scripts / "env.py").is_file() and (built / scripts / "script.py.mako").is_file()
        assert list((built / scripts / "versions").glob("0001_*.py"))
    probe = ("import sys, tenantsync; from tenantsync.store import Store; s = Store(sys.argv[1]); "
             "print(s.revision, tenantsync.__file__); s.close()")
    done = subprocess.run([sys.executable, "-c", probe, f"sqlite:///{tmp_path}/state.db"],
                          cwd=tmp_path, env={"PYTHONPATH": str(built), "PATH": "/usr/bin:/bin"},
                          check=True, capture_output=True, text=True)
    assert done.stdout.split() == [MIGRATIONS.head(), str(built / "tenantsync" / "__init__.py")]


def test_times_of_the_0_1_0_store_come_back_aware_utc(store_url: str) -> None:
    load_release_0_1_0(store_url)
    with Store(store_url) as store:
        link = store.links(CONFIG)["s2"]
    assert link.updated == datetime(2026, 1, 5, 9, 30, tzinfo=UTC) and link.updated.tzinfo is UTC


def test_a_store_and_a_directory_can_share_one_database(store_url: str) -> None:
    from tenantsync.connectors.directory_target import VERSION_TABLE as DIRECTORY_VERSIONS
    from tenantsync.connectors.directory_target import DirectoryTarget, head_revision

    with Store(store_url) as store, DirectoryTarget(store_url) as directory:
        store.upsert_links(CONFIG, [Link("s1", "t1", "active")])
        directory.start_cycle("corp", "initial")
        assert (store.revision, directory.revision) == (MIGRATIONS.head(), head_revision())
    with Store(store_url) as store, DirectoryTarget(store_url) as directory:   # each finds its own
        assert store.count_links(CONFIG) == 1 and len(directory.cycles("corp")) == 1
    assert {VERSION_TABLE, DIRECTORY_VERSIONS} <= tables(store_url)
