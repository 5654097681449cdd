"""Deleting a configuration: the target tenant is left exactly as it was, the state is archived
(readable, never dropped), the reports are kept, and later cycles are refused until a restore.

The engine part runs without Prefect; the command line is run as a user runs it (a subprocess with
no Prefect server: it says so). Pausing deployments on a real server is in
tests/flows/test_deployments.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tenantsync.ops.delete_config import delete_configuration, plan_deletion, restore_configuration
from tenantsync.ops.disable_sms import run_disable_sms
from tenantsync.reports import export_all
from tenantsync.service import open_cycle
from tenantsync.store import Store
from tenantsync.store.deleted import ConfigDeleted

from .opsworld import SRC, TGT, uid

ROOT = Path(__file__).resolve().parents[2]


def files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_deleting_a_configuration_leaves_the_target_as_it_is_and_archives_the_state(ops, tmp_path):
    ops.sync()
    ops.api("source").request("PATCH", f"/users/{uid(3)}", {"displayName": "Renamed Three"})
    ops.sync()                                           # two cycles, a log, links, watermarks
    name = ops.cfg.name
    assert len(ops.synced()) == 10
    reports = tmp_path / "reports"
    export_all(ops.store, name, reports)
    reports_before = files(reports / name)
    target_before, source_before = ops.emulator.dump(TGT), ops.emulator.dump(SRC)
    live_links, live_cycles, live_log = ops.store.links(name), ops.store.cycles(name), ops.store.log(name)

    plan = plan_deletion(ops.cfg, reports_dir=reports)
    text = "\n".join(plan.lines(["sync-cycle/ops-emea-to-hq-incremental"]))
    assert "leave the 10 users it synchronized untouched in the target" in text
    assert f"{reports / name} ({len(reports_before)} files) is not touched" in text
    assert "--restore" in text
    result = delete_configuration(ops.cfg, plan)

    # the tenants: not one change (no Graph call at all)
    assert ops.emulator.dump(TGT) == target_before and ops.emulator.dump(SRC) == source_before
    assert len(ops.synced()) == 10 and not ops.deleted_ids()
    # the reports: the same files, byte for byte
    assert files(reports / name) == reports_before
    # the archive: a store of its own, beside the state, that reads back every row
    archive_file = Path(result.archive.removeprefix("sqlite:///"))
    assert archive_file.parent == tmp_path / "archive" and archive_file.name.startswith(f"{name}-")
    with Store(result.archive) as archive:
        assert archive.links(name) == live_links
        assert [c["cycleId"] for c in archive.cycles(name)] == [c["cycleId"] for c in live_cycles]
        assert len(archive.log(name)) == len(live_log) > 10
        assert archive.deleted_mark(name)["details"]["links"] == 10
    # nothing dropped from the store itself
    assert ops.store.links(name) == live_links and len(ops.store.log(name)) == len(live_log)
    assert ops.store.deleted_mark(name)["archive"] == result.archive


def test_a_deleted_configuration_refuses_every_cycle_until_it_is_restored(ops, tmp_path):
    ops.sync()
    name = ops.cfg.name
    delete_configuration(ops.cfg, plan_deletion(ops.cfg, reports_dir=tmp_path / "reports"))
    ops.api("source").request("PATCH", f"/users/{uid(3)}", {"displayName": "Renamed Three"})
    cycles = len(ops.store.cycles(name))

    with pytest.raises(ConfigDeleted) as refused:
        ops.sync()
    assert "was deleted on" in str(refused.value) and "tenantsync delete-config CONFIG --restore" in str(refused.value)
    with pytest.raises(ConfigDeleted):                    # the path of the flows, before any setup or preflight
        with open_cycle(ops.cfg, store=ops.store):
            pass
    with pytest.raises(ConfigDeleted):                    # the SMS repair procedure too
        run_disable_sms(ops.cfg, store=ops.store)
    assert ops.synced()[uid(3)]["displayName"] == "Ops User3"          # the change did not reach the target
    assert len(ops.store.cycles(name)) == cycles                         # no cycle was even recorded

    restored = restore_configuration(ops.cfg)
    assert restored["restored"] is True
    report = ops.sync()
    assert report.kind == "incremental"                 # the state is as it was: the delta carries on
    assert ops.synced()[uid(3)]["displayName"] == "Renamed Three"


def test_deleting_twice_archives_once(ops, tmp_path):
    ops.sync()
    first = delete_configuration(ops.cfg, plan_deletion(ops.cfg, reports_dir=tmp_path / "r"))
    again_plan = plan_deletion(ops.cfg, reports_dir=tmp_path / "r")
    assert "already deleted" in again_plan.lines()[0]
    again = delete_configuration(ops.cfg, again_plan)
    assert again.already and again.archive == first.archive
    assert len(list((tmp_path / "archive").glob("*.db"))) == 1


# -- the command line ------------------------------------------------------------------------------

@pytest.fixture
def sample_config(tmp_path) -> Path:
    text = (ROOT / "data/configs/emea-to-hq.yaml").read_text(encoding="utf-8")
    path = tmp_path / "emea-to-hq.yaml"
    (tmp_path / "state").mkdir()                 # a state directory must exist (never created)
    path.write_text(text.replace("sqlite:///data/state/", f"sqlite:///{tmp_path}/state/"), encoding="utf-8")
    return path


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    env["PREFECT_HOME"] = str(cwd / "prefect-home")
    return subprocess.run([sys.executable, "-m", "app", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL)


def test_delete_config_asks_for_yes_when_not_interactive_and_says_when_there_is_no_server(sample_config, tmp_path):
    asked = cli("delete-config", str(sample_config), cwd=tmp_path)
    assert asked.returncode == 2
    assert "--yes" in asked.stderr and "nothing was done" in asked.stderr
    assert "leave the 0 users it synchronized untouched" in asked.stdout           # what it would do
    assert not (tmp_path / "state" / "archive").exists()

    done = cli("delete-config", str(sample_config), "--yes", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "no Prefect server (PREFECT_API_URL is not set)" in done.stdout
    assert len(list((tmp_path / "state" / "archive").glob("emea-to-hq-*.db"))) == 1
    with Store(f"sqlite:///{tmp_path}/state/emea-to-hq.db") as store:
        assert store.deleted_mark("emea-to-hq") is not None

    restored = cli("delete-config", str(sample_config), "--restore", cwd=tmp_path)
    assert restored.returncode == 0 and "restored" in restored.stdout


def test_delete_config_refuses_a_user_source_configuration(tmp_path):
    done = cli("delete-config", str(ROOT / "data/configs/user-source.yaml"), "--yes", cwd=tmp_path)
    assert done.returncode == 2 and "settings.enabled: false" in done.stderr


def test_a_postgresql_state_is_archived_into_a_readable_sqlite_store(ops, tmp_path):
    """The production store: rows read from PostgreSQL (JSON, timestamps) land in the SQLite archive."""
    import uuid

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.pool import NullPool

    from .opsworld import make_config

    pg = os.environ.get("TENANTSYNC_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    schema = f"ts_delete_{uuid.uuid4().hex[:10]}"
    try:
        admin = create_engine(pg, poolclass=NullPool, connect_args={"connect_timeout": 3})
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:
        if os.environ.get("TENANTSYNC_REQUIRE_POSTGRES"):
            pytest.fail(f"PostgreSQL unreachable: {exc}")
        pytest.skip(f"PostgreSQL unreachable: {exc}")
    url = make_url(pg).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    try:
        ops.store.close()
        ops.cfg, ops.store = make_config(ops.emulator, url), Store.for_url(url)
        ops.sync()
        name, links, log = ops.cfg.name, ops.store.links(ops.cfg.name), ops.store.log(ops.cfg.name)
        result = delete_configuration(ops.cfg, plan_deletion(ops.cfg, archive_dir=tmp_path / "archive",
                                                             reports_dir=tmp_path / "reports"))
        assert result.archive.startswith(f"sqlite:///{tmp_path}/archive/")
        with Store(result.archive) as archive:
            assert archive.links(name) == links and archive.log(name) == log
        with pytest.raises(ConfigDeleted):
            ops.sync()
    finally:
        ops.store.close()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
