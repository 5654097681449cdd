"""The state store as tenantsync 0.1.0 created it (every table but its version table).

tenantsync 0.1.0 created the tables with create_all on every open, so a store it wrote may lack
the tables added during 0.1 (ts_setup, ts_reference_escrows, ts_config_fingerprints,
ts_reevaluations, ts_pending_references, ts_deleted_configs; ts_locks on the first lock). This
revision therefore creates each table only when it is missing: on a new store it builds them all,
on a 0.1.0 store it adds the missing ones and records the baseline, keeping every row.

Revision ID: 0001_store_baseline
Revises:
Create Date: 2026-11-30
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import context, op

revision = "0001_store_baseline"
down_revision = None
branch_labels = None
depends_on = None

# SQLite only auto-numbers an INTEGER PRIMARY KEY (the rowid alias), not a BIGINT one.
SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _time(name: str, nullable: bool = False) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _config(*, key: bool = True) -> sa.Column[Any]:
    return sa.Column("config", sa.String, nullable=False, primary_key=key)


def _create(name: str, *columns: Any, indexes: tuple[tuple[str, list[str]], ...] = ()) -> None:
    if not context.is_offline_mode() and sa.inspect(op.get_bind()).has_table(name):
        return
    op.create_table(name, *columns)
    for index, on in indexes:
        op.create_index(index, name, on)


def upgrade() -> None:
    _create("ts_links", _config(),
            sa.Column("source_id", sa.String, primary_key=True),
            sa.Column("target_id", sa.String, nullable=False),
            sa.Column("state", sa.String, nullable=False),
            sa.Column("source_upn", sa.String),
            _time("updated"),
            indexes=(("ix_ts_links_state", ["config", "state"]),))
    _create("ts_snapshots", _config(),
            sa.Column("object_id", sa.String, primary_key=True),
            sa.Column("data", sa.JSON, nullable=False))
    _create("ts_memberships", _config(),
            sa.Column("group_id", sa.String, primary_key=True),
            sa.Column("member_id", sa.String, primary_key=True))
    _create("ts_watermarks", _config(),
            sa.Column("resource", sa.String, primary_key=True),
            sa.Column("delta_link", sa.Text, nullable=False),
            _time("saved"))
    _create("ts_jobs", _config(),
            sa.Column("code", sa.String, nullable=False),
            _time("quarantine_current_began", True), _time("quarantine_next_attempt", True),
            sa.Column("quarantine_reason", sa.String),
            _time("quarantine_series_began", True),
            sa.Column("quarantine_series_count", sa.Integer),
            sa.Column("quarantine_error", sa.JSON),
            _time("last_execution", True), _time("last_successful_execution", True),
            sa.Column("count_successive_complete_failures", sa.Integer, nullable=False),
            sa.Column("notified_reason", sa.String),
            _time("updated"))
    _create("ts_cycles",
            sa.Column("seq", SEQ, primary_key=True, autoincrement=True),
            _config(key=False),
            sa.Column("cycle_id", sa.String, nullable=False, unique=True),
            sa.Column("kind", sa.String, nullable=False),
            sa.Column("dry_run", sa.Boolean, nullable=False),
            _time("started"), _time("ended", True),
            sa.Column("status", sa.String, nullable=False),
            sa.Column("counts", sa.JSON),
            sa.Column("job_status", sa.String),
            sa.Column("quarantine_reason", sa.String),
            _time("quarantine_next_attempt", True),
            sa.Column("quarantine_series_count", sa.Integer),
            sa.Column("error", sa.Text),
            indexes=(("ix_ts_cycles_config", ["config", "seq"]),))
    _create("ts_provisioning_log",
            sa.Column("seq", SEQ, primary_key=True, autoincrement=True),
            _config(key=False),
            sa.Column("cycle_id", sa.String),
            _time("activity_date_time"),
            sa.Column("log_id", sa.String, nullable=False),
            sa.Column("job_id", sa.String),
            sa.Column("change_id", sa.String),
            sa.Column("provisioning_action", sa.String),
            sa.Column("status", sa.String),
            sa.Column("error_code", sa.String),
            sa.Column("reason", sa.Text),
            sa.Column("source_id", sa.String),
            sa.Column("source_display_name", sa.String),
            sa.Column("target_id", sa.String),
            sa.Column("target_display_name", sa.String),
            sa.Column("modified_properties", sa.JSON, nullable=False),
            sa.Column("provisioning_steps", sa.JSON, nullable=False),
            sa.Column("duration_ms", sa.Integer),
            indexes=(("ix_ts_provisioning_log_cycle", ["config", "cycle_id"]),))
    _create("ts_escrows", _config(),
            sa.Column("source_id", sa.String, primary_key=True),
            sa.Column("failures", sa.Integer, nullable=False),
            _time("next_retry"),
            sa.Column("last_error", sa.Text),
            _time("updated"))
    _create("ts_staged_deletions", _config(),
            sa.Column("source_id", sa.String, primary_key=True),
            sa.Column("cycle_id", sa.String, nullable=False),
            sa.Column("target_id", sa.String),
            sa.Column("action", sa.String, nullable=False),
            sa.Column("reason", sa.Text),
            sa.Column("display_name", sa.String),
            _time("staged"))
    _create("ts_notifications",
            sa.Column("seq", SEQ, primary_key=True, autoincrement=True),
            _config(key=False),
            sa.Column("kind", sa.String, nullable=False),
            sa.Column("subject", sa.Text, nullable=False),
            sa.Column("body", sa.Text, nullable=False),
            sa.Column("recipient", sa.String),
            _time("sent"),
            indexes=(("ix_ts_notifications_config", ["config", "seq"]),))
    _create("ts_setup", _config(),
            sa.Column("key", sa.String, primary_key=True),
            sa.Column("value", sa.Text, nullable=False),
            _time("updated"))
    _create("ts_reference_escrows", _config(),
            sa.Column("source_id", sa.String, primary_key=True),
            sa.Column("attribute", sa.String, primary_key=True),
            sa.Column("failures", sa.Integer, nullable=False),
            _time("next_retry"),
            sa.Column("last_error", sa.Text),
            _time("updated"))
    _create("ts_config_fingerprints", _config(),
            sa.Column("part", sa.String, primary_key=True),
            sa.Column("digest", sa.String, nullable=False),
            sa.Column("cycle_id", sa.String),
            _time("recorded"))
    _create("ts_reevaluations", _config(),
            sa.Column("source_id", sa.String, primary_key=True),
            sa.Column("reason", sa.Text, nullable=False),
            _time("requested"))
    _create("ts_deleted_configs", _config(),
            _time("deleted"),
            sa.Column("archive", sa.Text),
            sa.Column("details", sa.JSON))
    _create("ts_pending_references", _config(),
            sa.Column("source_id", sa.String, primary_key=True),
            sa.Column("attribute", sa.String, primary_key=True),
            sa.Column("reference_id", sa.String, nullable=False),
            _time("updated"))
    _create("ts_locks", _config(),
            sa.Column("holder", sa.String, nullable=False),
            sa.Column("host", sa.String, nullable=False),
            sa.Column("pid", sa.String, nullable=False),
            sa.Column("what", sa.String, nullable=False),
            _time("acquired"), _time("expires"))


def downgrade() -> None:
    for name in ("ts_locks", "ts_pending_references", "ts_deleted_configs", "ts_reevaluations",
                 "ts_config_fingerprints", "ts_reference_escrows", "ts_setup", "ts_notifications",
                 "ts_staged_deletions", "ts_escrows", "ts_provisioning_log", "ts_cycles", "ts_jobs",
                 "ts_watermarks", "ts_memberships", "ts_snapshots", "ts_links"):
        op.drop_table(name)
