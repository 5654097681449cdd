"""The SQL directory connector: an application's own user directory (SQLAlchemy; SQLite by default,
PostgreSQL supported), fed by an identity provider instance (tenantsync.usersource).

Tables (created and upgraded by the alembic migrations in tenantsync/usersource/migrations, never
by create_all; version table ``directory_alembic_version``):

- ``directory_idp_instances``: identity-provider instances writing into this directory; at most
  one enabled at a time (multi-IdP environments are not supported).
- ``directory_users``, ``directory_groups``, ``directory_memberships`` (direct members: users and
  groups), ``directory_user_attributes`` (custom attribute values per user).
- ``directory_invitations``: the invitation outbox, one row per user ever (the unique key is what
  makes "never a second invitation" hold across cycles, deletions and restores).
- ``directory_notifications``: what the run summary, the reports and the e-mails show.
- ``directory_sync_state`` (delta links with the fingerprint of what they track) and
  ``directory_cycles``: the sync state lives next to the data, so a page of changes and the
  delta link that covers it commit in one transaction.

Every write method is one transaction. Object ids are Entra object ids.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Connection,
    DateTime,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    bindparam,
    create_engine,
    delete,
    event,
    func,
    inspect,
    select,
    update,
)
from sqlalchemy.engine import URL, make_url

from ..errors import ConfigError, TenantSyncError

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "usersource" / "migrations"
VERSION_TABLE = "directory_alembic_version"
_MIGRATION_LOCK = 0x7473_6469  # "tsdi": serialises migrations of one PostgreSQL database
_CHUNK = 500                   # ids per IN (...) list

metadata = MetaData()

def _ts(name: str, nullable: bool = False) -> Column[Any]:
    return Column(name, DateTime(timezone=True), nullable=nullable)


instances = Table(
    "directory_idp_instances", metadata,
    Column("name", String(64), primary_key=True),          # the user-source configuration name
    Column("display_name", String(256), nullable=False),   # settings.instance_name
    Column("kind", String(32), nullable=False),            # "entra"
    Column("tenant_id", String(64)),
    Column("enabled", Boolean, nullable=False),
    _ts("created_at"), _ts("updated_at"),
)
sync_state = Table(
    "directory_sync_state", metadata,
    Column("instance", String(64), primary_key=True),
    Column("resource", String(16), primary_key=True),      # users | groups
    Column("delta_link", Text, nullable=False),
    Column("fingerprint", String(64), nullable=False),     # what the link tracks ($select, mappings)
    _ts("saved_at"),
)
cycles = Table(
    "directory_cycles", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("instance", String(64), nullable=False, index=True),
    Column("kind", String(16), nullable=False),            # initial | incremental
    Column("status", String(16), nullable=False),          # running | success | failed
    _ts("started_at"), _ts("ended_at", nullable=True),
    Column("counts", JSON),
    Column("message", Text),
)
users = Table(
    "directory_users", metadata,
    Column("id", String(64), primary_key=True),
    Column("instance", String(64), nullable=False, index=True),
    Column("user_principal_name", String(1024), index=True),
    Column("mail", String(1024)),
    Column("display_name", String(1024)),
    Column("given_name", String(256)),
    Column("surname", String(256)),
    Column("job_title", String(256)),
    Column("department", String(256)),
    Column("employee_id", String(64)),
    Column("mail_nickname", String(256)),
    Column("user_type", String(32)),
    Column("account_enabled", Boolean),
    Column("managed_apple_id", String(1024)),
    Column("source", JSON),                                # the selected Graph properties, as read
    _ts("created_at"), _ts("updated_at"),
)
groups = Table(
    "directory_groups", metadata,
    Column("id", String(64), primary_key=True),
    Column("instance", String(64), nullable=False, index=True),
    Column("display_name", String(1024)),
    Column("description", Text),
    Column("mail", String(1024)),
    Column("mail_nickname", String(256)),
    Column("security_enabled", Boolean),
    Column("mail_enabled", Boolean),
    _ts("created_at"), _ts("updated_at"),
)
memberships = Table(
    "directory_memberships", metadata,
    Column("group_id", String(64), primary_key=True),
    Column("member_id", String(64), primary_key=True),
    Column("member_type", String(16), nullable=False),     # user | group
    Column("instance", String(64), nullable=False),
    _ts("created_at"),
    Index("ix_directory_memberships_member_id", "member_id"),
)
user_attributes = Table(
    "directory_user_attributes", metadata,
    Column("user_id", String(64), primary_key=True),
    Column("name", String(128), primary_key=True),
    Column("value", Text),
    _ts("updated_at"),
)
invitations = Table(
    "directory_invitations", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", String(64), nullable=False),
    Column("instance", String(64), nullable=False),
    Column("recipient", String(1024)),
    Column("subject", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("status", String(16), nullable=False),  # pending|sending|sent|failed|no_address|cancelled
    Column("attempts", Integer, nullable=False),
    Column("error", Text),
    _ts("created_at"), _ts("sent_at", nullable=True),
    UniqueConstraint("user_id", name="uq_directory_invitations_user_id"),
)
notifications = Table(
    "directory_notifications", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("instance", String(64), nullable=False, index=True),
    Column("cycle_id", Integer),
    Column("kind", String(32), nullable=False),
    Column("subject", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("details", JSON),
    Column("recipient", String(1024)),
    _ts("created_at"), _ts("emailed_at", nullable=True),
)

# Graph property name -> directory_users column (the configuration's USER_COLUMNS, plus the key).
USER_FIELDS = ("user_principal_name", "mail", "display_name", "given_name", "surname", "job_title",
               "department", "employee_id", "mail_nickname", "user_type", "account_enabled",
               "managed_apple_id")
GROUP_FIELDS = ("display_name", "description", "mail", "mail_nickname", "security_enabled",
                "mail_enabled")
MEMBER_TYPES = ("user", "group")


class DirectoryError(TenantSyncError):
    """The directory database cannot be used (unknown schema revision, unsupported backend)."""


def utcnow() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass
class UserRecord:
    """One user as the directory stores it: columns, custom attribute values, raw source."""

    id: str
    fields: dict[str, Any]                  # USER_FIELDS column -> value
    attributes: dict[str, str | None]       # custom attribute -> value (None: no value)
    source: dict[str, Any]


@dataclass
class GroupRecord:
    id: str
    fields: dict[str, Any]                  # GROUP_FIELDS column -> value


@dataclass
class Applied:
    """What one write changed (ids), for counts and for invitations."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    members_added: int = 0
    members_removed: int = 0
    invitations_queued: int = 0


# -- engine and migrations ------------------------------------------------------------------------

def create_directory_engine(url: str | URL) -> Engine:
    url = make_url(url)
    backend = url.get_backend_name()
    if backend == "postgresql":
        return create_engine(url, pool_pre_ping=True)
    if backend != "sqlite":
        raise DirectoryError(f"the directory supports SQLite and PostgreSQL, not {backend}")
    database = url.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None       # we issue BEGIN ourselves (below)
        cursor = dbapi_connection.cursor()
        if database and database != ":memory:":
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # A write transaction takes the write lock at once: a read-then-write never fails to
        # upgrade its lock when another writer came in between; readers stay deferred.
        immediate = conn.get_execution_options().get("directory_write")
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def alembic_config(connection: Connection | None = None) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head() or ""


def current_revision(conn: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    ctx = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
    return ctx.get_current_revision()


def upgrade(engine: Engine) -> str:
    """Bring the directory schema to the newest revision (alembic upgrade head); returns it."""
    from alembic import command
    from alembic.util import CommandError

    head = head_revision()
    with engine.execution_options(directory_write=True).begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(select(func.pg_advisory_xact_lock(_MIGRATION_LOCK)))
        current = current_revision(conn)
        if current == head:
            return head
        try:
            command.upgrade(alembic_config(conn), "head")
        except CommandError as exc:
            raise DirectoryError(
                f"directory {engine.url.render_as_string(hide_password=True)} is at schema revision "
                f"{current!r}, which this tenantsync does not know ({exc}); use a newer tenantsync "
                "or another database") from None
    return head


# -- the connector --------------------------------------------------------------------------------

class DirectoryTarget:
    """One application directory database. Thread-safe; every method is its own transaction."""

    _cache: ClassVar[dict[str, DirectoryTarget]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, url: str | URL, *, migrate: bool = True) -> None:
        self.url: URL = make_url(url)
        self.engine = create_directory_engine(self.url)
        if migrate:
            try:
                self.revision = upgrade(self.engine)
            except BaseException:
                self.engine.dispose()
                raise

    @classmethod
    def for_url(cls, url: str | URL) -> DirectoryTarget:
        """One connector per URL in this process (migrations run once, the pool is shared)."""
        key = make_url(url).render_as_string(hide_password=False)
        with cls._lock:
            found = cls._cache.get(key)
            if found is None:
                found = cls._cache[key] = cls(url)
            return found

    def close(self) -> None:
        with self._lock:
            for key, cached in list(self._cache.items()):
                if cached is self:
                    del self._cache[key]
        self.engine.dispose()

    def __enter__(self) -> DirectoryTarget:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"DirectoryTarget({self.url.render_as_string(hide_password=True)!r})"

    @property
    def where(self) -> str:
        return self.url.render_as_string(hide_password=True)

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self.engine.execution_options(directory_write=True).begin() as conn:
            yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            yield conn

    # -- identity provider instances ---------------------------------------------------------------
    def claim_instance(self, name: str, display_name: str, *, tenant_id: str | None,
                       kind: str = "entra", error: Callable[[str], Exception] | None = None) -> None:
        """Register ``name`` as the enabled instance; refused while another one is enabled."""
        now = utcnow()
        with self._write() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(select(func.pg_advisory_xact_lock(_MIGRATION_LOCK + 1)))
            others = conn.execute(select(instances).where(instances.c.enabled.is_(True),
                                                          instances.c.name != name)).mappings().all()
            if others:
                other = others[0]
                message = (
                    f"identity provider instance {display_name!r} (configuration {name!r}) cannot be "
                    f"enabled: instance {other['display_name']!r} (configuration {other['name']!r}, "
                    f"Entra tenant {other['tenant_id']}) is already enabled for directory {self.where}. "
                    "Only one identity provider instance can be enabled at a time; multi-IdP "
                    "environments are not supported. Disable the other instance first "
                    "(settings.enabled: false and run it once).")
                raise (error(message) if error else ConfigError(message))
            found = conn.execute(select(instances.c.name).where(instances.c.name == name)).first()
            values = {"display_name": display_name, "kind": kind, "tenant_id": tenant_id,
                      "enabled": True, "updated_at": now}
            if found:
                conn.execute(update(instances).where(instances.c.name == name).values(**values))
            else:
                conn.execute(instances.insert().values(name=name, created_at=now, **values))

    def disable_instance(self, name: str) -> bool:
        """Mark ``name`` disabled (its data stays); True when it was enabled."""
        with self._write() as conn:
            result = conn.execute(update(instances).where(instances.c.name == name,
                                                          instances.c.enabled.is_(True))
                                  .values(enabled=False, updated_at=utcnow()))
            return bool(result.rowcount)

    def instances(self) -> list[dict[str, Any]]:
        with self._read() as conn:
            rows = conn.execute(select(instances).order_by(instances.c.name)).mappings().all()
            return [dict(r) for r in rows]

    @contextmanager
    def run_lock(self, instance: str) -> Iterator[bool]:
        """Hold the run lock of ``instance`` while the block runs; yields False (and holds
        nothing) when another run of it, in any process, has it. PostgreSQL: a session advisory
        lock keyed by schema and instance; SQLite: an flock on ``<database>.<instance>.lock``
        beside the file."""
        def key_of(where: str) -> int:
            digest = hashlib.sha256(f"tenantsync-directory:{where}:{instance}".encode()).digest()
            return int.from_bytes(digest[:8], "big", signed=True)

        if self.engine.dialect.name == "postgresql":
            conn = self.engine.connect()
            try:
                # Advisory locks are database-wide: the schema keeps two directories apart.
                key = key_of(str(conn.execute(select(func.current_schema())).scalar()))
                got = bool(conn.execute(select(func.pg_try_advisory_lock(key))).scalar())
                conn.commit()
                try:
                    yield got
                finally:
                    if got:
                        conn.execute(select(func.pg_advisory_unlock(key)))
                        conn.commit()
            finally:
                conn.close()
            return
        database = self.url.database or ""
        if not database or database == ":memory:" or database.startswith("file:"):
            yield True
            return
        import fcntl

        path = Path(database).expanduser()
        with open(path.with_name(f"{path.name}.{instance}.lock"), "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    # -- sync state --------------------------------------------------------------------------------
    def delta_links(self, instance: str) -> dict[str, tuple[str, str]]:
        """resource -> (delta link, fingerprint)."""
        with self._read() as conn:
            rows = conn.execute(select(sync_state.c.resource, sync_state.c.delta_link,
                                       sync_state.c.fingerprint)
                                .where(sync_state.c.instance == instance))
            return {r.resource: (r.delta_link, r.fingerprint) for r in rows}

    def clear_delta_links(self, instance: str) -> None:
        with self._write() as conn:
            conn.execute(delete(sync_state).where(sync_state.c.instance == instance))

    @staticmethod
    def _save_link(conn: Connection, instance: str, resource: str, link: str, fingerprint: str) -> None:
        now = utcnow()
        where = (sync_state.c.instance == instance) & (sync_state.c.resource == resource)
        done = conn.execute(update(sync_state).where(where)
                            .values(delta_link=link, fingerprint=fingerprint, saved_at=now))
        if not done.rowcount:
            conn.execute(sync_state.insert().values(instance=instance, resource=resource, delta_link=link,
                                                    fingerprint=fingerprint, saved_at=now))

    # -- cycles ------------------------------------------------------------------------------------
    def start_cycle(self, instance: str, kind: str) -> int:
        with self._write() as conn:
            result = conn.execute(cycles.insert().values(instance=instance, kind=kind, status="running",
                                                         started_at=utcnow()))
            return int(result.inserted_primary_key[0])

    def finish_cycle(self, cycle_id: int, status: str, counts: Mapping[str, int], message: str) -> None:
        with self._write() as conn:
            conn.execute(update(cycles).where(cycles.c.id == cycle_id)
                         .values(status=status, counts=dict(counts), message=message, ended_at=utcnow()))

    def cycles(self, instance: str) -> list[dict[str, Any]]:
        with self._read() as conn:
            rows = conn.execute(select(cycles).where(cycles.c.instance == instance)
                                .order_by(cycles.c.id)).mappings().all()
            return [_row(r) for r in rows]

    # -- users -------------------------------------------------------------------------------------
    def apply_users(self, instance: str, records: Sequence[UserRecord], removed: Iterable[str] = (), *,
                    invitation: Callable[[UserRecord], tuple[str | None, str, str]] | None = None,
                    keep_only: set[str] | None = None,
                    link: tuple[str, str] | None = None) -> Applied:
        """Upsert ``records``, remove ``removed`` (and with ``keep_only`` every other user of the
        instance not in it: the end of a full round), queue one invitation per newly imported user
        when ``invitation`` is given, and save the users delta ``link`` (link, fingerprint): all in
        one transaction."""
        out = Applied()
        now = utcnow()
        removed = [i for i in dict.fromkeys(removed)]
        with self._write() as conn:
            ids = [r.id for r in records]
            existing = {row["id"]: dict(row) for row in _select_in(
                conn, select(users.c.id, users.c.instance, users.c.source, *[users.c[f] for f in USER_FIELDS]),
                users.c.id, ids)}
            attrs: dict[str, dict[str, str | None]] = {}
            for row in _select_in(conn, select(user_attributes.c.user_id, user_attributes.c.name,
                                               user_attributes.c.value), user_attributes.c.user_id, ids):
                attrs.setdefault(row["user_id"], {})[row["name"]] = row["value"]
            invited = {row["user_id"] for row in _select_in(
                conn, select(invitations.c.user_id), invitations.c.user_id, ids)} if invitation else set()
            inserts, changed_attrs, new_invites = [], [], []
            changed_rows, source_rows = [], []
            for rec in records:
                old = existing.get(rec.id)
                values = {f: rec.fields.get(f) for f in USER_FIELDS}
                own_attrs = {k: v for k, v in rec.attributes.items() if v is not None}
                if old is None:
                    inserts.append({"id": rec.id, "instance": instance, "source": rec.source,
                                    "created_at": now, "updated_at": now, **values})
                    out.created.append(rec.id)
                    changed_attrs.append((rec.id, own_attrs))
                    if invitation is not None and rec.id not in invited:
                        recipient, subject, body = invitation(rec)
                        new_invites.append({"user_id": rec.id, "instance": instance, "recipient": recipient,
                                            "subject": subject, "body": body,
                                            "status": "pending" if recipient else "no_address",
                                            "attempts": 0, "created_at": now})
                    continue
                same = (all(old[f] == values[f] for f in USER_FIELDS) and old["instance"] == instance
                        and attrs.get(rec.id, {}) == own_attrs)
                if not same:
                    changed_rows.append({"_id": rec.id, "instance": instance, "source": rec.source,
                                         "updated_at": now, **values})
                elif old.get("source") != rec.source:    # untracked properties only: no update time
                    source_rows.append({"_id": rec.id, "source": rec.source})
                if not same:
                    out.updated.append(rec.id)
                    if attrs.get(rec.id, {}) != own_attrs:
                        changed_attrs.append((rec.id, own_attrs))
            if inserts:
                conn.execute(users.insert(), inserts)
            if changed_rows:        # one executemany per page, not a statement per user
                conn.execute(update(users).where(users.c.id == bindparam("_id")), changed_rows)
            if source_rows:
                conn.execute(update(users).where(users.c.id == bindparam("_id")), source_rows)
            if changed_attrs:
                _delete_in(conn, user_attributes, user_attributes.c.user_id, [i for i, _ in changed_attrs])
                rows = [{"user_id": i, "name": k, "value": v, "updated_at": now}
                        for i, values in changed_attrs for k, v in values.items()]
                if rows:
                    conn.execute(user_attributes.insert(), rows)
            if new_invites:
                conn.execute(invitations.insert(), new_invites)
                out.invitations_queued = len(new_invites)
            if keep_only is not None:
                mine = conn.execute(select(users.c.id).where(users.c.instance == instance)).scalars().all()
                listed = set(removed)
                removed += [i for i in mine if i not in keep_only and i not in listed]
            if removed:
                present = {row["id"] for row in _select_in(
                    conn, select(users.c.id).where(users.c.instance == instance), users.c.id, removed)}
                gone = [i for i in removed if i in present]
                _delete_in(conn, users, users.c.id, gone)
                _delete_in(conn, user_attributes, user_attributes.c.user_id, gone)
                out.members_removed += _delete_in(conn, memberships, memberships.c.member_id, gone)
                # An invitation not sent yet goes nowhere once its user is gone (the row stays).
                for chunk in _chunks(gone):
                    conn.execute(update(invitations).where(
                        invitations.c.user_id.in_(chunk), invitations.c.status.in_(("pending", "failed")))
                        .values(status="cancelled", error="the user was removed before it was sent"))
                out.removed = gone
            if link is not None:
                self._save_link(conn, instance, "users", *link)
        return out

    def user_sources(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """id -> the stored Graph properties of the users among ``ids`` that exist."""
        with self._read() as conn:
            return {r["id"]: dict(r["source"] or {}) for r in _select_in(
                conn, select(users.c.id, users.c.source), users.c.id, ids)}

    def users(self, instance: str | None = None) -> list[dict[str, Any]]:
        """Users (columns plus ``attributes``), ordered by userPrincipalName."""
        query = select(users).order_by(users.c.user_principal_name, users.c.id)
        if instance:
            query = query.where(users.c.instance == instance)
        with self._read() as conn:
            rows = [dict(r) for r in conn.execute(query).mappings()]
            values: dict[str, dict[str, str | None]] = {}
            attrs = select(user_attributes)
            if instance:
                attrs = attrs.where(user_attributes.c.user_id.in_(
                    select(users.c.id).where(users.c.instance == instance)))
            for r in conn.execute(attrs).mappings():
                values.setdefault(r["user_id"], {})[r["name"]] = r["value"]
        for r in rows:
            r["attributes"] = values.get(r["id"], {})
            r["created_at"], r["updated_at"] = _aware(r["created_at"]), _aware(r["updated_at"])
        return rows

    def find_user(self, instance: str, key: str) -> dict[str, Any] | None:
        """A user by object id or userPrincipalName (case-insensitive), with ``attributes``."""
        with self._read() as conn:
            row = conn.execute(select(users).where(users.c.instance == instance, users.c.id == key)).mappings().first()
            if row is None:
                row = conn.execute(select(users).where(
                    users.c.instance == instance,
                    func.lower(users.c.user_principal_name) == key.lower())).mappings().first()
            if row is None:
                return None
            user = dict(row)
            user["attributes"] = {r.name: r.value for r in conn.execute(
                select(user_attributes.c.name, user_attributes.c.value)
                .where(user_attributes.c.user_id == user["id"]))}
            return user

    # -- groups ------------------------------------------------------------------------------------
    def apply_groups(self, instance: str, records: Sequence[GroupRecord], removed: Iterable[str] = (), *,
                     members_added: Iterable[tuple[str, str, str]] = (),
                     members_removed: Iterable[tuple[str, str]] = (),
                     members_full: Mapping[str, Mapping[str, str]] | None = None,
                     keep_only: set[str] | None = None,
                     link: tuple[str, str] | None = None) -> Applied:
        """Upsert groups, remove groups, change direct memberships ((group, member, type) added,
        (group, member) removed, or ``members_full`` group -> {member: type} replacing a group's
        members), optionally reconcile (``keep_only``) and save the groups delta ``link``."""
        out = Applied()
        now = utcnow()
        removed = list(dict.fromkeys(removed))
        with self._write() as conn:
            ids = [r.id for r in records]
            existing = {row["id"]: dict(row) for row in _select_in(
                conn, select(groups.c.id, groups.c.instance, *[groups.c[f] for f in GROUP_FIELDS]),
                groups.c.id, ids)}
            inserts = []
            for rec in records:
                # Only the properties a delta item carries change; the others keep their value.
                values = {f: rec.fields[f] for f in GROUP_FIELDS if f in rec.fields}
                old = existing.get(rec.id)
                if old is None:
                    inserts.append({"id": rec.id, "instance": instance, "created_at": now, "updated_at": now,
                                    **{f: values.get(f) for f in GROUP_FIELDS}})
                    existing[rec.id] = {"instance": instance, **{f: values.get(f) for f in GROUP_FIELDS}}
                    out.created.append(rec.id)
                elif old["instance"] != instance or any(old[f] != v for f, v in values.items()):
                    conn.execute(update(groups).where(groups.c.id == rec.id)
                                 .values(instance=instance, updated_at=now, **values))
                    old.update(values, instance=instance)
                    if rec.id not in out.created and rec.id not in out.updated:
                        out.updated.append(rec.id)
            if inserts:
                conn.execute(groups.insert(), inserts)
            if keep_only is not None:
                mine = conn.execute(select(groups.c.id).where(groups.c.instance == instance)).scalars().all()
                listed = set(removed)
                removed += [i for i in mine if i not in keep_only and i not in listed]
            if removed:
                present = {row["id"] for row in _select_in(
                    conn, select(groups.c.id).where(groups.c.instance == instance), groups.c.id, removed)}
                gone = [i for i in removed if i in present]
                _delete_in(conn, groups, groups.c.id, gone)
                out.members_removed += _delete_in(conn, memberships, memberships.c.group_id, gone)
                out.members_removed += _delete_in(conn, memberships, memberships.c.member_id, gone)
                out.removed = gone
            gone_groups = set(removed)
            adds: dict[tuple[str, str], str] = {}
            drops: set[tuple[str, str]] = set()
            if members_full is not None:
                current: dict[str, dict[str, str]] = {}
                for row in _select_in(conn, select(memberships.c.group_id, memberships.c.member_id,
                                                   memberships.c.member_type),
                                      memberships.c.group_id, list(members_full)):
                    current.setdefault(row["group_id"], {})[row["member_id"]] = row["member_type"]
                for gid, wanted in members_full.items():
                    have = current.get(gid, {})
                    drops |= {(gid, m) for m in have if m not in wanted}
                    adds.update({(gid, m): t for m, t in wanted.items() if m not in have})
            for gid, mid, mtype in members_added:
                drops.discard((gid, mid))
                adds[(gid, mid)] = mtype
            for gid, mid in members_removed:
                adds.pop((gid, mid), None)
                drops.add((gid, mid))
            adds = {k: v for k, v in adds.items() if k[0] not in gone_groups}
            for gid, mid in sorted(drops):
                out.members_removed += conn.execute(delete(memberships).where(
                    memberships.c.group_id == gid, memberships.c.member_id == mid)).rowcount or 0
            if adds:
                have_pairs = {(row["group_id"], row["member_id"]) for row in _select_in(
                    conn, select(memberships.c.group_id, memberships.c.member_id),
                    memberships.c.group_id, sorted({g for g, _ in adds}))}
                rows = [{"group_id": g, "member_id": m, "member_type": t, "instance": instance,
                         "created_at": now} for (g, m), t in sorted(adds.items()) if (g, m) not in have_pairs]
                if rows:
                    conn.execute(memberships.insert(), rows)
                out.members_added = len(rows)
            if link is not None:
                self._save_link(conn, instance, "groups", *link)
        return out

    def groups(self, instance: str | None = None) -> list[dict[str, Any]]:
        query = select(groups).order_by(groups.c.display_name, groups.c.id)
        if instance:
            query = query.where(groups.c.instance == instance)
        with self._read() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def memberships(self, instance: str | None = None) -> dict[str, dict[str, str]]:
        """group id -> {member id: member type}."""
        query = select(memberships.c.group_id, memberships.c.member_id, memberships.c.member_type)
        if instance:
            query = query.where(memberships.c.instance == instance)
        out: dict[str, dict[str, str]] = {}
        with self._read() as conn:
            for r in conn.execute(query):
                out.setdefault(r.group_id, {})[r.member_id] = r.member_type
        return out

    # -- invitation outbox -------------------------------------------------------------------------
    def invitations(self, instance: str | None = None, *, status: str | None = None) -> list[dict[str, Any]]:
        query = select(invitations).order_by(invitations.c.id)
        if instance:
            query = query.where(invitations.c.instance == instance)
        if status:
            query = query.where(invitations.c.status == status)
        with self._read() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def claim_invitations(self, invitation_ids: Sequence[int]) -> list[int]:
        """pending|failed -> sending, in one transaction, before the e-mails go out; returns the
        ids claimed (a row another run claimed first is left out). A row left 'sending' by a killed
        run is never sent again: at most one invitation per user."""
        with self._write() as conn:
            ids = [int(i) for i in invitation_ids]
            claimable = conn.execute(select(invitations.c.id).where(
                invitations.c.id.in_(ids), invitations.c.status.in_(("pending", "failed")))).scalars().all()
            if claimable:
                conn.execute(update(invitations).where(invitations.c.id.in_(claimable))
                             .values(status="sending", attempts=invitations.c.attempts + 1))
            return sorted(claimable)

    def finish_invitations(self, outcomes: Mapping[int, str | None]) -> None:
        """id -> None (sent) or the error text (failed, retried by a later run)."""
        now = utcnow()
        sent = [i for i, e in outcomes.items() if e is None]
        with self._write() as conn:
            if sent:
                conn.execute(update(invitations).where(invitations.c.id.in_(sent))
                             .values(status="sent", error=None, sent_at=now))
            for i, e in outcomes.items():
                if e is not None:
                    conn.execute(update(invitations).where(invitations.c.id == i)
                                 .values(status="failed", error=e))

    # -- notifications -----------------------------------------------------------------------------
    def add_notification(self, instance: str, cycle_id: int | None, kind: str, subject: str, body: str,
                         details: Any, recipient: str | None) -> int:
        with self._write() as conn:
            result = conn.execute(notifications.insert().values(
                instance=instance, cycle_id=cycle_id, kind=kind, subject=subject, body=body,
                details=details, recipient=recipient, created_at=utcnow()))
            return int(result.inserted_primary_key[0])

    def mark_notification_emailed(self, notification_id: int) -> None:
        with self._write() as conn:
            conn.execute(update(notifications).where(notifications.c.id == notification_id)
                         .values(emailed_at=utcnow()))

    def notifications(self, instance: str | None = None, *, cycle_id: int | None = None) -> list[dict[str, Any]]:
        query = select(notifications).order_by(notifications.c.id)
        if instance:
            query = query.where(notifications.c.instance == instance)
        if cycle_id is not None:
            query = query.where(notifications.c.cycle_id == cycle_id)
        with self._read() as conn:
            rows = [dict(r) for r in conn.execute(query).mappings()]
        for r in rows:
            r["created_at"], r["emailed_at"] = _aware(r["created_at"]), _aware(r["emailed_at"])
        return rows

    # -- maintenance -------------------------------------------------------------------------------
    def drop_all(self) -> None:
        """Drop every directory table and the alembic version table (tests, decommissioning)."""
        with self._write() as conn:
            metadata.drop_all(conn)
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {VERSION_TABLE}")


def directory_exists(url: str | URL) -> bool:
    """True when ``url`` holds a directory schema (without creating or migrating anything)."""
    url = make_url(url)
    if url.get_backend_name() == "sqlite":
        database = url.database or ""
        if not database or database == ":memory:" or not Path(database).expanduser().exists():
            return False
    engine = create_directory_engine(url)
    try:
        with engine.connect() as conn:
            return inspect(conn).has_table(instances.name)
    finally:
        engine.dispose()


def disable_instance(url: str | URL, name: str) -> bool:
    """Mark instance ``name`` disabled in the directory at ``url``, if that directory exists."""
    if not directory_exists(url):
        return False
    engine = create_directory_engine(url)
    try:
        with engine.begin() as conn:
            result = conn.execute(update(instances).where(instances.c.name == name,
                                                          instances.c.enabled.is_(True))
                                  .values(enabled=False, updated_at=utcnow()))
            return bool(result.rowcount)
    finally:
        engine.dispose()


def _row(r: Any) -> dict[str, Any]:
    d = dict(r)
    for k, v in d.items():
        if isinstance(v, datetime):
            d[k] = _aware(v)
    return d


def _chunks(ids: Sequence[str]) -> Iterator[list[str]]:
    for i in range(0, len(ids), _CHUNK):
        yield list(ids[i:i + _CHUNK])


def _select_in(conn: Connection, query: Any, column: Any, ids: Sequence[str]) -> list[Any]:
    out: list[Any] = []
    for chunk in _chunks(list(ids)):
        out.extend(conn.execute(query.where(column.in_(chunk))).mappings().all())
    return out


def _delete_in(conn: Connection, table: Table, column: Any, ids: Sequence[str]) -> int:
    count = 0
    for chunk in _chunks(list(ids)):
        count += conn.execute(delete(table).where(column.in_(chunk))).rowcount or 0
    return count


__all__ = ["Applied", "DirectoryError", "DirectoryTarget", "GroupRecord", "UserRecord", "directory_exists",
           "disable_instance", "upgrade"]
