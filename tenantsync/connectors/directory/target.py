"""DirectoryTarget: the application directory connector, assembled from one part per area over
one engine (as the state store is): instances and the run lock, sync state and cycles, users,
groups and memberships, the invitation outbox, notifications."""

from __future__ import annotations

from .groups import GroupsMixin
from .instances import InstancesMixin
from .notifications import NotificationsMixin
from .outbox import OutboxMixin
from .state import SyncStateMixin
from .tables import VERSION_TABLE, metadata
from .users import UsersMixin


class DirectoryTarget(InstancesMixin, SyncStateMixin, UsersMixin, GroupsMixin, OutboxMixin,
                      NotificationsMixin):
    """One application directory database. Thread-safe; every method is its own transaction.
    Opening it brings its schema to the newest revision (``migrate=False`` leaves it as it is)."""

    def drop_all(self) -> None:
        """Drop every directory table and the alembic version table (tests, decommissioning)."""
        with self._write() as conn:
            metadata.drop_all(conn)
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {VERSION_TABLE}")
