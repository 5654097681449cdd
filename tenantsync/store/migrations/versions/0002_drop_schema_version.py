"""Retire tenantsync 0.1.0's own version table (ts_schema_version): ts_alembic_version keeps the
schema revision from now on.

Downgrading writes it back (version 1), so that tenantsync 0.1.0 opens the store again.

Revision ID: 0002_drop_schema_version
Revises: 0001_store_baseline
Create Date: 2026-11-30
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0002_drop_schema_version"
down_revision = "0001_store_baseline"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DROP TABLE IF EXISTS ts_schema_version")   # a new store never had it


def downgrade() -> None:
    table = op.create_table(
        "ts_schema_version",
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("applied", sa.DateTime(timezone=True), nullable=False),
    )
    # 0.1.0 wrote the time without its zone on SQLite (UTC), as a timestamptz on PostgreSQL.
    now = datetime.now(UTC)
    applied = now.replace(tzinfo=None) if op.get_context().dialect.name == "sqlite" else now
    op.bulk_insert(table, [{"version": 1, "applied": applied}])
