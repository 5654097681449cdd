"""The SQL directory connector: an application's own user directory (SQLAlchemy; SQLite by default,
PostgreSQL supported), fed by an identity provider instance (tenantsync.usersource).

Its tables (tables.py) are created and upgraded by the Alembic revisions in migrations/, never by
create_all (version table ``directory_alembic_version``). Every write method is one transaction.
Object ids are Entra object ids.
"""

from .schema import (
    MIGRATIONS_DIR,
    alembic_config,
    create_directory_engine,
    current_revision,
    directory_exists,
    disable_instance,
    head_revision,
    upgrade,
)
from .tables import GROUP_FIELDS, MEMBER_TYPES, USER_FIELDS, VERSION_TABLE, metadata
from .target import DirectoryTarget
from .types import Applied, DirectoryError, GroupRecord, UserRecord

__all__ = ["GROUP_FIELDS", "MEMBER_TYPES", "MIGRATIONS_DIR", "USER_FIELDS", "VERSION_TABLE", "Applied",
           "DirectoryError", "DirectoryTarget", "GroupRecord", "UserRecord", "alembic_config",
           "create_directory_engine", "current_revision", "directory_exists", "disable_instance",
           "head_revision", "metadata", "upgrade"]
