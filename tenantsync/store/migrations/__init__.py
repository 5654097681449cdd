"""Alembic revisions of the state store (tenantsync.store), version table ``ts_alembic_version``.

Opening a store runs them (``tenantsync.store.schema.upgrade``: ``alembic upgrade head`` on the
store's connection, one process at a time). ``0001_store_baseline`` is the schema of tenantsync
0.1.0, which kept its own version table (``ts_schema_version``) and added tables with create_all;
``0002_drop_schema_version`` retires that table. A new revision goes in versions/ with
``down_revision`` set to the previous head; SQLite needs ``op.batch_alter_table`` for column
changes. By hand: ``alembic -x`` is not needed, set ``sqlalchemy.url`` in an alembic.ini whose
``script_location`` is this folder.
"""
