"""Directory: identity-provider instances, sync state, cycles, users, groups, memberships, custom
attribute values.

Revision ID: 0001_directory
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_directory"
down_revision = None
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "directory_idp_instances",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("display_name", sa.String(256), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("tenant_id", sa.String(64)),
        sa.Column("enabled", sa.Boolean, nullable=False),
        _ts("created_at"), _ts("updated_at"),
    )
    op.create_table(
        "directory_sync_state",
        sa.Column("instance", sa.String(64), primary_key=True),
        sa.Column("resource", sa.String(16), primary_key=True),
        sa.Column("delta_link", sa.Text, nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        _ts("saved_at"),
    )
    op.create_table(
        "directory_cycles",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("instance", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        _ts("started_at"), _ts("ended_at", nullable=True),
        sa.Column("counts", sa.JSON),
        sa.Column("message", sa.Text),
    )
    op.create_index("ix_directory_cycles_instance", "directory_cycles", ["instance"])
    op.create_table(
        "directory_users",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("instance", sa.String(64), nullable=False),
        sa.Column("user_principal_name", sa.String(1024)),
        sa.Column("mail", sa.String(1024)),
        sa.Column("display_name", sa.String(1024)),
        sa.Column("given_name", sa.String(256)),
        sa.Column("surname", sa.String(256)),
        sa.Column("job_title", sa.String(256)),
        sa.Column("department", sa.String(256)),
        sa.Column("employee_id", sa.String(64)),
        sa.Column("mail_nickname", sa.String(256)),
        sa.Column("user_type", sa.String(32)),
        sa.Column("account_enabled", sa.Boolean),
        sa.Column("source", sa.JSON),
        _ts("created_at"), _ts("updated_at"),
    )
    op.create_index("ix_directory_users_instance", "directory_users", ["instance"])
    op.create_index("ix_directory_users_user_principal_name", "directory_users", ["user_principal_name"])
    op.create_table(
        "directory_groups",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("instance", sa.String(64), nullable=False),
        sa.Column("display_name", sa.String(1024)),
        sa.Column("description", sa.Text),
        sa.Column("mail", sa.String(1024)),
        sa.Column("mail_nickname", sa.String(256)),
        sa.Column("security_enabled", sa.Boolean),
        sa.Column("mail_enabled", sa.Boolean),
        _ts("created_at"), _ts("updated_at"),
    )
    op.create_index("ix_directory_groups_instance", "directory_groups", ["instance"])
    op.create_table(
        "directory_memberships",
        sa.Column("group_id", sa.String(64), primary_key=True),
        sa.Column("member_id", sa.String(64), primary_key=True),
        sa.Column("member_type", sa.String(16), nullable=False),
        sa.Column("instance", sa.String(64), nullable=False),
        _ts("created_at"),
    )
    op.create_index("ix_directory_memberships_member_id", "directory_memberships", ["member_id"])
    op.create_table(
        "directory_user_attributes",
        sa.Column("user_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("value", sa.Text),
        _ts("updated_at"),
    )


def downgrade() -> None:
    for table in ("directory_user_attributes", "directory_memberships", "directory_groups",
                  "directory_users", "directory_cycles", "directory_sync_state",
                  "directory_idp_instances"):
        op.drop_table(table)
