"""Alembic environment of the directory database: see tenantsync.sql.Migrations.run_env."""

from tenantsync.connectors.directory.schema import MIGRATIONS

MIGRATIONS.run_env()
