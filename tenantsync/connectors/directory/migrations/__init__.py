"""Alembic revisions of the application directory database (tenantsync.connectors.directory),
version table ``directory_alembic_version``.

Opening a directory runs them (``directory.schema.upgrade``: ``alembic upgrade head`` on the
connection it passes, one process at a time). A new revision goes in versions/ with
``down_revision`` set to the previous head; SQLite needs ``op.batch_alter_table`` for column
changes. Until tenantsync 0.1.0 these files lived in tenantsync/usersource/migrations: a database
records revision ids only, so the ones it made upgrade from here unchanged.
"""
