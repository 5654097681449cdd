"""Several configurations into one target, a tenant that is both source and target, PostgreSQL state."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from tenantsync.graph.api import GraphApi

from .conftest import HQ_PERSON, SRC, SRC_ANCHOR, World, make_config, uid

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@pytest.fixture
def pg_url():
    schema = f"ts_engine_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(PG)
    try:
        with engine.begin() as c:
            c.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except sa.exc.OperationalError as exc:
        pytest.fail(f"PostgreSQL at 127.0.0.1:5432 is required for this test: {exc}")
    yield f"{PG}?options=-csearch_path%3D{schema}"
    from tenantsync.store import Store
    Store.for_url(f"{PG}?options=-csearch_path%3D{schema}").close()
    with engine.begin() as c:
        c.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


def test_engine_state_on_postgresql(env, pg_url):
    w = World(env, pg_url)
    try:
        first = w.sync()
        w.src_api.request("PATCH", f"/users/{uid(3)}", {"department": "Legal"})
        second = w.sync()
        assert first.counts["create"] == 9 and second.kind == "incremental"
        assert w.b2b()[uid(3)]["jobTitle"] == "Engineer - Legal"
        assert len(w.store.links(w.cfg.name)) == 10
    finally:
        w.close()


def test_two_sources_into_one_target_and_a_tenant_both_source_and_target(env, tmp_path):
    """EMEA -> HQ, then HQ -> EMEA for one of HQ's own internal users, side by side."""
    w = World(env, f"sqlite:///{tmp_path}/a.db")
    try:
        w.sync()
        # HQ's own internal admin goes the other way: HQ is a source here, EMEA the target.
        env_cfg = make_config(env, f"sqlite:///{tmp_path}/b.db", name="hq-to-emea",
                              source={"connection": "hq"}, target={"connection": "emea"},
                              scope={"mode": "assigned", "assignments": {"users": [HQ_PERSON], "groups": []}},
                              settings={"anchor_attribute": SRC_ANCHOR})
        from tenantsync.cycle import CycleOptions, run_cycle
        from tenantsync.store import Store
        report = run_cycle(env_cfg, source_api=GraphApi(env_cfg.connection("hq")),
                           target_api=GraphApi(env_cfg.connection("emea")),
                           store=Store.for_url(env_cfg.state_url), options=CycleOptions())
        assert report.counts["create"] == 1
        emea = env.dump(SRC)["users"]
        assert [u["displayName"] for u in emea if "#EXT#" in u["userPrincipalName"]
                and u.get(SRC_ANCHOR)] == ["Kim HQ"]
        # and the first configuration still sees its target in step
        assert w.sync().counts["create"] == 0
    finally:
        w.close()
