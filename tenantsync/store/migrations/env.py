"""Alembic environment of the state store: see tenantsync.sql.Migrations.run_env."""

from tenantsync.store.schema import MIGRATIONS

MIGRATIONS.run_env()
