"""The directory schema comes from the alembic migrations (never create_all): they build exactly
the connector's tables, upgrade an older directory keeping its data, and refuse an unknown one."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from tenantsync.connectors.directory_target import (
    VERSION_TABLE,
    DirectoryError,
    DirectoryTarget,
    alembic_config,
    create_directory_engine,
    directory_exists,
    head_revision,
    metadata,
)


def _tables(url: str) -> set[str]:
    engine = create_directory_engine(url)
    try:
        with engine.connect() as conn:
            return set(sa.inspect(conn).get_table_names())
    finally:
        engine.dispose()


def test_migrations_build_exactly_the_connector_tables(directory_url):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    d = DirectoryTarget.for_url(directory_url)
    assert d.revision == head_revision() == "0003_locks"
    assert _tables(directory_url) == set(metadata.tables) | {VERSION_TABLE}
    with d.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
        diff = [x for x in compare_metadata(ctx, metadata) if x[0] != "remove_table" or x[1].name != VERSION_TABLE]
    assert diff == []


def test_an_older_directory_is_upgraded_keeping_its_data(directory_url):
    from alembic import command

    engine = create_directory_engine(directory_url)
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0001_directory")
    with engine.begin() as conn:
        assert "directory_invitations" not in sa.inspect(conn).get_table_names()
        conn.execute(sa.text("INSERT INTO directory_users (id, instance, user_principal_name, created_at, "
                             "updated_at) VALUES ('u1', 'x', 'a@b.c', :t, :t)"),
                     {"t": datetime(2026, 1, 1, tzinfo=UTC)})
    engine.dispose()
    d = DirectoryTarget.for_url(directory_url)
    (row,) = d.users("x")
    assert row["user_principal_name"] == "a@b.c" and row["managed_apple_id"] is None
    assert d.invitations() == []


def test_an_unknown_revision_is_refused(directory_url):
    d = DirectoryTarget.for_url(directory_url)
    with d.engine.begin() as conn:
        conn.execute(sa.text(f"UPDATE {VERSION_TABLE} SET version_num = '0099_future'"))
    d.close()
    with pytest.raises(DirectoryError, match="0099_future"):
        DirectoryTarget(directory_url)


def test_drop_all_leaves_nothing_behind(directory_url):
    d = DirectoryTarget.for_url(directory_url)
    assert directory_exists(directory_url)
    d.drop_all()
    assert _tables(directory_url) == set()
    assert not directory_exists(directory_url)
