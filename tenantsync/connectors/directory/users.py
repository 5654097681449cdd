"""Users of the directory: upserts, removals, custom attribute values and the invitation each new
user gets queued, one transaction per page of changes."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import bindparam, func, select, update

from ...sql import aware, utcnow
from .base import DirectoryBase, chunks, delete_in, select_in
from .state import save_link
from .tables import USER_FIELDS, invitations, memberships, user_attributes, users
from .types import Applied, UserRecord


class UsersMixin(DirectoryBase):
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
            existing = {row["id"]: dict(row) for row in select_in(
                conn, select(users.c.id, users.c.instance, users.c.source, *[users.c[f] for f in USER_FIELDS]),
                users.c.id, ids)}
            attrs: dict[str, dict[str, str | None]] = {}
            for row in select_in(conn, select(user_attributes.c.user_id, user_attributes.c.name,
                                               user_attributes.c.value), user_attributes.c.user_id, ids):
                attrs.setdefault(row["user_id"], {})[row["name"]] = row["value"]
            invited = {row["user_id"] for row in select_in(
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
                delete_in(conn, user_attributes, user_attributes.c.user_id, [i for i, _ in changed_attrs])
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
                present = {row["id"] for row in select_in(
                    conn, select(users.c.id).where(users.c.instance == instance), users.c.id, removed)}
                gone = [i for i in removed if i in present]
                delete_in(conn, users, users.c.id, gone)
                delete_in(conn, user_attributes, user_attributes.c.user_id, gone)
                out.members_removed += delete_in(conn, memberships, memberships.c.member_id, gone)
                # An invitation not sent yet goes nowhere once its user is gone (the row stays).
                for chunk in chunks(gone):
                    conn.execute(update(invitations).where(
                        invitations.c.user_id.in_(chunk), invitations.c.status.in_(("pending", "failed")))
                        .values(status="cancelled", error="the user was removed before it was sent"))
                out.removed = gone
            if link is not None:
                save_link(conn, instance, "users", *link)
        return out

    def user_sources(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """id -> the stored Graph properties of the users among ``ids`` that exist."""
        with self._read() as conn:
            return {r["id"]: dict(r["source"] or {}) for r in select_in(
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
            for a in conn.execute(attrs).mappings():
                values.setdefault(a["user_id"], {})[a["name"]] = a["value"]
        for r in rows:
            r["attributes"] = values.get(r["id"], {})
            r["created_at"], r["updated_at"] = aware(r["created_at"]), aware(r["updated_at"])
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
