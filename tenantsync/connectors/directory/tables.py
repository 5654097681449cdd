"""The application directory's tables (SQLAlchemy Core), built and changed only by the Alembic
revisions in migrations/versions (tests/usersource/test_usersource_schema.py checks that they
build exactly these tables).

- ``directory_idp_instances``: identity-provider instances writing into this directory; at most
  one enabled at a time (multi-IdP environments are not supported).
- ``directory_users``, ``directory_groups``, ``directory_memberships`` (direct members: users and
  groups), ``directory_user_attributes`` (custom attribute values per user).
- ``directory_invitations``: the invitation outbox, one row per user ever (the unique key is what
  makes "never a second invitation" hold across cycles, deletions and restores).
- ``directory_notifications``: what the run summary, the reports and the e-mails show.
- ``directory_sync_state`` (delta links with the fingerprint of what they track) and
  ``directory_cycles``: the sync state lives next to the data, so a page of changes and the
  delta link that covers it commit in one transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from ...store.locks import locks as store_locks

VERSION_TABLE = "directory_alembic_version"

metadata = MetaData()


def _ts(name: str, nullable: bool = False) -> Column[Any]:
    return Column(name, DateTime(timezone=True), nullable=nullable)


instances = Table(
    "directory_idp_instances", metadata,
    Column("name", String(64), primary_key=True),          # the user-source configuration name
    Column("display_name", String(256), nullable=False),   # settings.instance_name
    Column("kind", String(32), nullable=False),            # "entra"
    Column("tenant_id", String(64)),
    Column("enabled", Boolean, nullable=False),
    _ts("created_at"), _ts("updated_at"),
)
sync_state = Table(
    "directory_sync_state", metadata,
    Column("instance", String(64), primary_key=True),
    Column("resource", String(16), primary_key=True),      # users | groups
    Column("delta_link", Text, nullable=False),
    Column("fingerprint", String(64), nullable=False),     # what the link tracks ($select, mappings)
    _ts("saved_at"),
)
cycles = Table(
    "directory_cycles", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("instance", String(64), nullable=False, index=True),
    Column("kind", String(16), nullable=False),            # initial | incremental
    Column("status", String(16), nullable=False),          # running | success | failed
    _ts("started_at"), _ts("ended_at", nullable=True),
    Column("counts", JSON),
    Column("message", Text),
)
users = Table(
    "directory_users", metadata,
    Column("id", String(64), primary_key=True),
    Column("instance", String(64), nullable=False, index=True),
    Column("user_principal_name", String(1024), index=True),
    Column("mail", String(1024)),
    Column("display_name", String(1024)),
    Column("given_name", String(256)),
    Column("surname", String(256)),
    Column("job_title", String(256)),
    Column("department", String(256)),
    Column("employee_id", String(64)),
    Column("mail_nickname", String(256)),
    Column("user_type", String(32)),
    Column("account_enabled", Boolean),
    Column("managed_apple_id", String(1024)),
    Column("source", JSON),                                # the selected Graph properties, as read
    _ts("created_at"), _ts("updated_at"),
)
groups = Table(
    "directory_groups", metadata,
    Column("id", String(64), primary_key=True),
    Column("instance", String(64), nullable=False, index=True),
    Column("display_name", String(1024)),
    Column("description", Text),
    Column("mail", String(1024)),
    Column("mail_nickname", String(256)),
    Column("security_enabled", Boolean),
    Column("mail_enabled", Boolean),
    _ts("created_at"), _ts("updated_at"),
)
memberships = Table(
    "directory_memberships", metadata,
    Column("group_id", String(64), primary_key=True),
    Column("member_id", String(64), primary_key=True),
    Column("member_type", String(16), nullable=False),     # user | group
    Column("instance", String(64), nullable=False),
    _ts("created_at"),
    Index("ix_directory_memberships_member_id", "member_id"),
)
user_attributes = Table(
    "directory_user_attributes", metadata,
    Column("user_id", String(64), primary_key=True),
    Column("name", String(128), primary_key=True),
    Column("value", Text),
    _ts("updated_at"),
)
invitations = Table(
    "directory_invitations", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", String(64), nullable=False),
    Column("instance", String(64), nullable=False),
    Column("recipient", String(1024)),
    Column("subject", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("status", String(16), nullable=False),  # pending|sending|sent|failed|no_address|cancelled
    Column("attempts", Integer, nullable=False),
    Column("error", Text),
    _ts("created_at"), _ts("sent_at", nullable=True),
    UniqueConstraint("user_id", name="uq_directory_invitations_user_id"),
)
notifications = Table(
    "directory_notifications", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("instance", String(64), nullable=False, index=True),
    Column("cycle_id", Integer),
    Column("kind", String(32), nullable=False),
    Column("subject", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("details", JSON),
    Column("recipient", String(1024)),
    _ts("created_at"), _ts("emailed_at", nullable=True),
)

# Graph property name -> directory_users column (the configuration's USER_COLUMNS, plus the key).
USER_FIELDS = ("user_principal_name", "mail", "display_name", "given_name", "surname", "job_title",
               "department", "employee_id", "mail_nickname", "user_type", "account_enabled",
               "managed_apple_id")
GROUP_FIELDS = ("display_name", "description", "mail", "mail_nickname", "security_enabled",
                "mail_enabled")
MEMBER_TYPES = ("user", "group")

# The configuration lease (tenantsync/store/locks.py): two runs of one user source never overlap.
# Migration 0003_locks creates it in the directory database.
locks = store_locks.to_metadata(metadata)
