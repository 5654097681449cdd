"""Alembic environment of the directory database: runs on the connection the caller passes in
``config.attributes["connection"]`` (tenantsync.connectors.directory_target.upgrade), or on
``sqlalchemy.url`` when alembic is run by hand (``alembic -x`` is not needed)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from tenantsync.connectors.directory_target import VERSION_TABLE, metadata

config = context.config


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=metadata, version_table=VERSION_TABLE,
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=metadata,
                      version_table=VERSION_TABLE, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
elif connection is not None:
    _run(connection)
else:
    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.begin() as conn:
        _run(conn)
    engine.dispose()
