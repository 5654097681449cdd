"""Groups of the directory and their direct members (users and groups), one transaction per page
of changes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import delete, select, update

from ...sql import utcnow
from .base import DirectoryBase, delete_in, select_in
from .state import save_link
from .tables import GROUP_FIELDS, groups, memberships
from .types import Applied, GroupRecord


class GroupsMixin(DirectoryBase):
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
            existing = {row["id"]: dict(row) for row in select_in(
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
                present = {row["id"] for row in select_in(
                    conn, select(groups.c.id).where(groups.c.instance == instance), groups.c.id, removed)}
                gone = [i for i in removed if i in present]
                delete_in(conn, groups, groups.c.id, gone)
                out.members_removed += delete_in(conn, memberships, memberships.c.group_id, gone)
                out.members_removed += delete_in(conn, memberships, memberships.c.member_id, gone)
                out.removed = gone
            gone_groups = set(removed)
            adds: dict[tuple[str, str], str] = {}
            drops: set[tuple[str, str]] = set()
            if members_full is not None:
                current: dict[str, dict[str, str]] = {}
                for row in select_in(conn, select(memberships.c.group_id, memberships.c.member_id,
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
                have_pairs = {(row["group_id"], row["member_id"]) for row in select_in(
                    conn, select(memberships.c.group_id, memberships.c.member_id),
                    memberships.c.group_id, sorted({g for g, _ in adds}))}
                rows = [{"group_id": g, "member_id": m, "member_type": t, "instance": instance,
                         "created_at": now} for (g, m), t in sorted(adds.items()) if (g, m) not in have_pairs]
                if rows:
                    conn.execute(memberships.insert(), rows)
                out.members_added = len(rows)
            if link is not None:
                save_link(conn, instance, "groups", *link)
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
