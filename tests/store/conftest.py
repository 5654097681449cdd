"""Every store test runs on SQLite (tmp_path) and on PostgreSQL (a schema of its own per test).

PostgreSQL is expected at 127.0.0.1:5432 (user postgres, database test), or at
TENANTSYNC_TEST_PG_URL. When it is unreachable the PostgreSQL half is skipped with the reason in
the skip summary (and on stderr); with TENANTSYNC_REQUIRE_POSTGRES=1 (CI) it fails instead.
"""

from __future__ import annotations

import functools
import os
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from tenantsync.store import Store

PG_URL = os.environ.get("TENANTSYNC_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
T0 = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


@functools.cache
def _pg_unreachable() -> str | None:
    try:
        with create_engine(PG_URL, poolclass=NullPool, connect_args={"connect_timeout": 3}).connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any failure to connect is the reason to report
        return f"PostgreSQL at {make_url(PG_URL).render_as_string(hide_password=True)} unreachable: {exc}"
    return None


def _require_pg() -> None:
    reason = _pg_unreachable()
    if reason is None:
        return
    if os.environ.get("TENANTSYNC_REQUIRE_POSTGRES"):
        pytest.fail(reason)
    print(f"\nSKIP (store tests on PostgreSQL): {reason}", file=sys.stderr)
    pytest.skip(reason)


@pytest.fixture
def pg_schema_url() -> Iterator[str]:
    """A fresh PostgreSQL schema, selected through the URL's search_path, dropped afterwards."""
    _require_pg()
    schema = f"ts_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, poolclass=NullPool)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
            hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/state/store.db"
    return request.getfixturevalue("pg_schema_url")


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    s = Store(store_url)
    try:
        yield s
    finally:
        s.close()
