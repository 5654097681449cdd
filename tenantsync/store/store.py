"""Store: the engine's state store, assembled from one repository per area over one SQLAlchemy
engine. SQLite by default; PostgreSQL for production and scale.

For PostgreSQL, a schema other than ``public`` is chosen in the URL, e.g.
``postgresql+psycopg://user@host/db?options=-csearch_path%3Dtenantsync``; the schema must exist.
"""

from __future__ import annotations

from typing import ClassVar

from sqlalchemy.engine import URL, make_url

from tenantsync.sql import PerUrl, open_engine, writer

# Aliased: Store.reset's keyword parameters carry the same names as these modules.
from . import escrows as _escrows
from . import jobs as _jobs
from . import links as _links
from . import snapshots as _snapshots
from . import watermarks as _watermarks
from .cycles import CyclesRepository
from .deleted import DeletedRepository
from .escrows import EscrowsRepository
from .fingerprints import FingerprintsRepository
from .jobs import JobsRepository
from .links import LinksRepository
from .log import LogRepository
from .notifications import NotificationsRepository
from .reevaluations import ReevaluationsRepository
from .references import ReferencesRepository
from .schema import StoreSchemaError, upgrade
from .setup import SetupRepository
from .snapshots import SnapshotsRepository
from .staged import StagedRepository
from .watermarks import WatermarksRepository

__all__ = ["Store", "StoreSchemaError"]


class Store(LinksRepository, SnapshotsRepository, WatermarksRepository, JobsRepository,
            CyclesRepository, LogRepository, EscrowsRepository, StagedRepository,
            NotificationsRepository, SetupRepository, FingerprintsRepository,
            DeletedRepository, ReevaluationsRepository, ReferencesRepository):
    """The state store. Thread-safe (one pooled engine); every method is its own transaction.
    Opening it brings its schema to the newest revision (store/schema.py)."""

    _instances: ClassVar[PerUrl[Store]] = PerUrl()

    def __init__(self, url: str) -> None:
        self.url: URL = make_url(url)
        self.engine = open_engine(self.url)
        self.writer = writer(self.engine)
        try:
            self.revision = upgrade(self.engine)
        except BaseException:
            self.engine.dispose()
            raise

    @classmethod
    def for_url(cls, url: str) -> Store:
        """One Store per URL in this process, so tasks and flows share an engine and its pool."""
        return cls._instances.get(url, lambda: cls(url))

    def close(self) -> None:
        self._instances.forget(self)
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.url.render_as_string(hide_password=True)!r})"

    def reset(self, config: str, *, watermarks: bool = True, escrows: bool = True,
              quarantine: bool = True, links: bool = False) -> None:
        """Restart (how-provisioning-works, "Restart"): the default clears watermarks and escrows
        and lifts quarantine, keeping links; ``links=True`` also breaks links (resetScope Full).
        One transaction."""
        with self._write() as conn:
            if watermarks:
                _watermarks.delete_all(conn, config)
            if escrows:
                _escrows.delete_all(conn, config)
            if quarantine:
                _jobs.lift_quarantine(conn, config)
            if links:
                _links.delete_all(conn, config)
                # Without links, snapshots and memberships describe a sync that no longer exists;
                # the next (initial) cycle writes them afresh.
                _snapshots.delete_all(conn, config)

