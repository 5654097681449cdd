"""The store's tables (SQLAlchemy Core). Every table has a ``config`` column: several sync
configurations share one store, and every query filters on it.

The tables are created and changed by the Alembic revisions in store/migrations/versions, never by
create_all: a change here goes with a new revision there (tests/store/test_migrations.py checks
that the revisions build exactly these tables).

Table names carry a ``ts_`` prefix because the store often shares a database (or a PostgreSQL
schema) with other software; a plain ``cycles`` or ``notifications`` table would collide.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

from tenantsync.sql import UTCDateTime  # every time in the store: aware UTC in Python

# SQLite only auto-numbers an INTEGER PRIMARY KEY (the rowid alias), not a BIGINT one.
SeqType = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData()


def _config(*, key: bool = False) -> Column[Any]:
    """The configuration name; first in the primary key of per-object tables, so that the key's
    index also serves every ``WHERE config = ...`` query."""
    return Column("config", String, nullable=False, primary_key=key)


links = Table(
    "ts_links", metadata,
    _config(key=True),
    Column("source_id", String, primary_key=True),
    Column("target_id", String, nullable=False),
    Column("state", String, nullable=False),
    Column("source_upn", String),
    Column("updated", UTCDateTime, nullable=False),
    # count_links by state runs in every incremental and on-demand cycle: 4 ms instead of 0.3 s
    # at 100,000 links.
    Index("ix_ts_links_state", "config", "state"),
)
snapshots = Table(
    "ts_snapshots", metadata,
    _config(key=True),
    Column("object_id", String, primary_key=True),
    Column("data", JSON, nullable=False),  # the raw Graph user JSON, as read
)

memberships = Table(
    "ts_memberships", metadata,
    _config(key=True),
    Column("group_id", String, primary_key=True),
    Column("member_id", String, primary_key=True),
)

watermarks = Table(
    "ts_watermarks", metadata,
    _config(key=True),
    Column("resource", String, primary_key=True),  # 'users' | 'groups'
    Column("delta_link", Text, nullable=False),
    Column("saved", UTCDateTime, nullable=False),
)

jobs = Table(
    "ts_jobs", metadata,
    Column("config", String, primary_key=True),
    Column("code", String, nullable=False),
    Column("quarantine_current_began", UTCDateTime),
    Column("quarantine_next_attempt", UTCDateTime),
    Column("quarantine_reason", String),
    Column("quarantine_series_began", UTCDateTime),
    Column("quarantine_series_count", Integer),
    Column("quarantine_error", JSON(none_as_null=True)),
    Column("last_execution", UTCDateTime),
    Column("last_successful_execution", UTCDateTime),
    Column("count_successive_complete_failures", Integer, nullable=False),
    Column("notified_reason", String),
    Column("updated", UTCDateTime, nullable=False),
)

cycles = Table(
    "ts_cycles", metadata,
    Column("seq", SeqType, primary_key=True, autoincrement=True),  # start order, ties included
    _config(),
    Column("cycle_id", String, nullable=False, unique=True),
    Column("kind", String, nullable=False),
    Column("dry_run", Boolean, nullable=False),
    Column("started", UTCDateTime, nullable=False),
    Column("ended", UTCDateTime),
    Column("status", String, nullable=False),
    Column("counts", JSON(none_as_null=True)),
    Column("job_status", String),
    Column("quarantine_reason", String),
    Column("quarantine_next_attempt", UTCDateTime),
    Column("quarantine_series_count", Integer),
    Column("error", Text),
    Index("ix_ts_cycles_config", "config", "seq"),
)

# Graph's provisioningObjectSummary resource flattened as in the CSV report (provisioning-log.csv).
provisioning_log = Table(
    "ts_provisioning_log", metadata,
    Column("seq", SeqType, primary_key=True, autoincrement=True),  # insertion order breaks time ties
    _config(),
    Column("cycle_id", String),
    Column("activity_date_time", UTCDateTime, nullable=False),
    Column("log_id", String, nullable=False),
    Column("job_id", String),
    Column("change_id", String),
    Column("provisioning_action", String),
    Column("status", String),
    Column("error_code", String),
    Column("reason", Text),
    Column("source_id", String),
    Column("source_display_name", String),
    Column("target_id", String),
    Column("target_display_name", String),
    Column("modified_properties", JSON, nullable=False),
    Column("provisioning_steps", JSON, nullable=False),
    Column("duration_ms", Integer),
    # One index only: every extra index slows the 100k-row bulk append the cycle does.
    Index("ix_ts_provisioning_log_cycle", "config", "cycle_id"),
)

escrows = Table(
    "ts_escrows", metadata,
    _config(key=True),
    Column("source_id", String, primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("next_retry", UTCDateTime, nullable=False),
    Column("last_error", Text),
    Column("updated", UTCDateTime, nullable=False),
)

staged_deletions = Table(
    "ts_staged_deletions", metadata,
    _config(key=True),
    Column("source_id", String, primary_key=True),
    Column("cycle_id", String, nullable=False),
    Column("target_id", String),
    Column("action", String, nullable=False),  # 'delete' | 'disable'
    Column("reason", Text),
    Column("display_name", String),
    Column("staged", UTCDateTime, nullable=False),
)

notifications = Table(
    "ts_notifications", metadata,
    Column("seq", SeqType, primary_key=True, autoincrement=True),
    _config(),
    Column("kind", String, nullable=False),
    Column("subject", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("recipient", String),
    Column("sent", UTCDateTime, nullable=False),
    Index("ix_ts_notifications_config", "config", "seq"),
)

# What `tenantsync setup` resolved for a configuration, e.g. the full name of the anchor extension
# registered in the target tenant.
setup = Table(
    "ts_setup", metadata,
    _config(key=True),
    Column("key", String, primary_key=True),
    Column("value", Text, nullable=False),
    Column("updated", UTCDateTime, nullable=False),
)

# Per-object failures of reference attributes (e.g. manager), kept apart from ts_escrows because
# the quarantine page counts them only toward the absolute 60,000 limit, never toward the 40 % or
# 40,000 rules (application-provisioning-quarantine-status, "Escrow thresholds").
reference_escrows = Table(
    "ts_reference_escrows", metadata,
    _config(key=True),
    Column("source_id", String, primary_key=True),
    Column("attribute", String, primary_key=True),    # the reference attribute, e.g. 'manager'
    Column("failures", Integer, nullable=False),
    Column("next_retry", UTCDateTime, nullable=False),
    Column("last_error", Text),
    Column("updated", UTCDateTime, nullable=False),
)

# The fingerprint of the scope and mappings that the last completed cycle ran with, one digest per
# part (scope setting, assignments, scope filters, attribute mappings, matching): a change makes
# the next cycle a full one (tenantsync/fingerprint.py).
config_fingerprints = Table(
    "ts_config_fingerprints", metadata,
    _config(key=True),
    Column("part", String, primary_key=True),
    Column("digest", String, nullable=False),
    Column("cycle_id", String),
    Column("recorded", UTCDateTime, nullable=False),
)

# Source users to evaluate again at the next incremental cycle although Graph's users/delta will
# not return them: a repair changed what scopes them outside the user object (tenantsync
# disable-sms turns SMS sign-in off on the mobile phone method). Cleared once a completed cycle has
# evaluated them.
reevaluations = Table(
    "ts_reevaluations", metadata,
    _config(key=True),
    Column("source_id", String, primary_key=True),
    Column("reason", Text, nullable=False),
    Column("requested", UTCDateTime, nullable=False),
)
