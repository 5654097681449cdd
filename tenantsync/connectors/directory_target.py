"""The SQL directory connector, under its historical import path: the code lives in the package
tenantsync/connectors/directory/ (tables, schema, users, groups, outbox, notifications, ...); this
module re-exports the same names, so ``from tenantsync.connectors.directory_target import
DirectoryTarget`` keeps working."""

from ..sql import utcnow
from .directory.schema import (
    MIGRATIONS_DIR,
    alembic_config,
    create_directory_engine,
    current_revision,
    directory_exists,
    disable_instance,
    head_revision,
    upgrade,
)
from .directory.tables import (
    GROUP_FIELDS,
    MEMBER_TYPES,
    USER_FIELDS,
    VERSION_TABLE,
    cycles,
    groups,
    instances,
    invitations,
    memberships,
    metadata,
    notifications,
    sync_state,
    user_attributes,
    users,
)
from .directory.target import DirectoryTarget
from .directory.types import Applied, DirectoryError, GroupRecord, UserRecord

__all__ = ["GROUP_FIELDS", "MEMBER_TYPES", "MIGRATIONS_DIR", "USER_FIELDS", "VERSION_TABLE", "Applied",
           "DirectoryError", "DirectoryTarget", "GroupRecord", "UserRecord", "alembic_config",
           "create_directory_engine", "current_revision", "cycles", "directory_exists", "disable_instance",
           "groups", "head_revision", "instances", "invitations", "memberships", "metadata",
           "notifications", "sync_state", "upgrade", "user_attributes", "users", "utcnow"]
