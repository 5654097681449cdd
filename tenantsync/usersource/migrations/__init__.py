"""Alembic migrations of the application directory database (tenantsync.connectors.directory_target).

Run programmatically by ``directory_target.upgrade(engine)`` (``alembic upgrade head`` on the
connection it passes); the version table is ``directory_alembic_version``. A new revision goes in
versions/ with ``down_revision`` set to the previous head; SQLite needs ``op.batch_alter_table``
for column changes (env.py turns on render_as_batch for autogenerate).
"""
