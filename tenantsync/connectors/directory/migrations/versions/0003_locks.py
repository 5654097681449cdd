"""The configuration lease (ts_locks) in the directory database: two runs of one user source
never overlap (tenantsync/store/locks.py). Same definition as the state store's; a directory that
shares its database with a state store already has it, so it is created only when missing.

Revision ID: 0003_locks
Revises: 0002_outbox_appleid
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_locks"
down_revision = "0002_outbox_appleid"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if "ts_locks" in sa.inspect(op.get_bind()).get_table_names():
        return
    op.create_table(
        "ts_locks",
        sa.Column("config", sa.String, primary_key=True),
        sa.Column("holder", sa.String, nullable=False),
        sa.Column("host", sa.String, nullable=False),
        sa.Column("pid", sa.String, nullable=False),
        sa.Column("what", sa.String, nullable=False),
        sa.Column("acquired", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("ts_locks")
