"""Invitation outbox, notifications, managed Apple ID per user (revision ids stay within alembic's
varchar(32) version column).

Revision ID: 0002_outbox_appleid
Revises: 0001_directory
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_outbox_appleid"
down_revision = "0001_directory"
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    with op.batch_alter_table("directory_users") as batch:
        batch.add_column(sa.Column("managed_apple_id", sa.String(1024)))
    op.create_table(
        "directory_invitations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("instance", sa.String(64), nullable=False),
        sa.Column("recipient", sa.String(1024)),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("error", sa.Text),
        _ts("created_at"), _ts("sent_at", nullable=True),
        sa.UniqueConstraint("user_id", name="uq_directory_invitations_user_id"),
    )
    op.create_table(
        "directory_notifications",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("instance", sa.String(64), nullable=False),
        sa.Column("cycle_id", sa.Integer),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("details", sa.JSON),
        sa.Column("recipient", sa.String(1024)),
        _ts("created_at"), _ts("emailed_at", nullable=True),
    )
    op.create_index("ix_directory_notifications_instance", "directory_notifications", ["instance"])


def downgrade() -> None:
    op.drop_table("directory_notifications")
    op.drop_table("directory_invitations")
    with op.batch_alter_table("directory_users") as batch:
        batch.drop_column("managed_apple_id")
