"""Tenant state: users, deleted items, groups and memberships, policies; every change recorded.

All mutation goes through Tenant methods so that indexes, ordering and the delta change logs stay
consistent. The emulator touches state from one event-loop thread only, so there are no locks.

Decisions (Entra behaviour we reproduce, documented here once):
- A soft-deleted user's userPrincipalName is prefixed with its object id without dashes (Entra
  frees the UPN that way); restore puts the original back, or fails when it is taken meanwhile.
- Soft delete keeps the user's group memberships; only permanent deletion removes them, and that
  removal is what groups/delta reports (delta-query-groups: "Only users that have been
  permanently deleted are removed from groups. Users that have been temporary deleted keep their
  group memberships"). While the user is in deleted items, GET /groups/{id}/members does not list
  it and /users/{id}/memberOf is 404 (emulator decision: the docs do not say; a soft-deleted user
  is reachable only under /directory/deletedItems); restore shows the memberships again.
- Deleting a group is permanent (security groups are not restorable).
- A user's manager (manager.py) is kept through a soft delete, of the user or of its manager
  (recover-from-deletions, "Properties maintained with soft delete": "All properties maintained");
  while the manager is in deleted items it is not served (404, no $expand). A permanent deletion
  removes the manager reference of the user's direct reports, and users/delta reports it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from tenantsync.emulator.changelog import ChangeLog, MemberLog, Meta, OrderedIds
from tenantsync.emulator.protocol import now_iso
from tenantsync.emulator.schema import GROUPS, USERS, PropertySet

_UNINDEXABLE = object()


def _key(value: Any) -> Any:
    """Index key of a property value (case-insensitive strings); _UNINDEXABLE for collections."""
    if isinstance(value, str):
        return value.lower()
    if isinstance(value, (list, dict)):
        return _UNINDEXABLE
    return value


class Tenant:
    """One emulated Entra tenant."""

    def __init__(self, tenant_id: str, display_name: str, default_domain: str) -> None:
        self.id = tenant_id
        self.display_name = display_name
        self.default_domain = default_domain
        self.created = now_iso()
        self.domains: list[dict] = []              # fixture domains (besides the default one)
        self.tokens: list[str] = []
        # token -> (appId, roles); roles None: every permission (fixture.py, permissions.py)
        self.grants: dict[str, tuple[str, frozenset[str] | None]] = {}
        self.applications: dict[str, dict] = {}    # object id -> application (applications.py)
        self.extensions: dict[str, dict] = {}      # extensionProperty id -> its definition
        self.user_props: PropertySet = USERS       # user properties + registered extensions
        self.group_props: PropertySet = GROUPS
        self.premium = False
        self.authorization_policy: dict = {}
        self.external_identities_policy: dict = {}  # beta: external user leave settings (leave.py)
        self.partners: dict[str, dict] = {}        # lower-case tenant id -> partner settings
        self.identity_sync: dict[str, dict] = {}   # lower-case tenant id -> sync policy
        self.invitations: list[dict] = []
        self.departures: list[dict] = []           # users who left the organisation (control API)
        # Microsoft's own provisioning service: synchronization.py (API), sync_runner.py (cycles)
        self.service_principals: dict[str, dict] = {}   # object id -> servicePrincipal
        self.app_role_assignments: list[dict] = []       # appRoleAssignedTo of those principals
        self.sync_secrets: dict[str, list[dict]] = {}    # service principal id -> secrets
        self.sync_jobs: dict[str, Any] = {}               # job id -> sync_state.SyncJob
        self.provisioning_logs: list[dict] = []           # provisioningObjectSummary, oldest first

        self.users: dict[str, dict] = {}
        self.deleted: dict[str, dict] = {}         # soft-deleted users, in deletion order
        self.fixture_fields: dict[str, dict] = {}  # per user: smsSignInState, phoneNumber
        self.upn_index: dict[str, str] = {}
        self.user_order = OrderedIds()
        self.user_meta: dict[str, Meta] = {}
        self.user_log = ChangeLog()
        self.indexes: dict[str, dict[Any, set[str]] | None] = {}

        self.groups: dict[str, dict] = {}
        self.members: dict[str, dict[str, str]] = {}   # group id -> {member id: "user"|"group"}
        self.member_of: dict[str, set[str]] = {}       # member id -> group ids
        self.managers: dict[str, str] = {}             # user id -> its manager's user id
        self.reports: dict[str, set[str]] = {}         # manager id -> its direct reports
        self.manager_logs: dict[str, list[tuple[int, str | None, str | None]]] = {}  # (seq, old, new)
        self.group_order = OrderedIds()
        self.group_meta: dict[str, Meta] = {}
        self.group_log = ChangeLog()
        self.member_logs: dict[str, MemberLog] = {}

        self.seq = 0
        self._ord = 0
        self._saved_upn: dict[str, str] = {}

    # -- sequence and lookup -------------------------------------------------------------
    def next_seq(self) -> int:
        """Allocate the next change sequence number."""
        self.seq += 1
        return self.seq

    def _next_ord(self) -> int:
        self._ord += 1
        return self._ord

    def domain_names(self) -> set[str]:
        """Lower-case names of the tenant's verified domains, the initial one included."""
        names = {self.default_domain.lower()}
        names.update(d["id"].lower() for d in self.domains if d.get("isVerified", True))
        return names

    def find_user(self, key: str) -> dict | None:
        """A live user by object id or userPrincipalName."""
        user = self.users.get(key)
        if user is None:
            if "@" in key:
                uid = self.upn_index.get(key.lower())
                user = self.users.get(uid) if uid else None
            elif key.lower() != key:
                user = self.users.get(key.lower())
        return user

    def object_type(self, object_id: str) -> str | None:
        """'user' or 'group' for a live directory object, else None."""
        if object_id in self.users:
            return "user"
        if object_id in self.groups:
            return "group"
        return None

    # -- indexes (built on first use, then maintained) ------------------------------------
    def lookup(self, prop: str, value: Any) -> set[str] | None:
        """Ids of live users whose `prop` equals `value` (case-insensitive), None if unindexable."""
        key = _key(value)
        if key is _UNINDEXABLE:
            return None
        if prop == "id":
            if isinstance(value, str):
                for candidate in (value, value.lower()):
                    if candidate in self.users:
                        return {candidate}
            return set()
        if prop not in self.indexes:
            self.indexes[prop] = self._build_index(prop)
        index = self.indexes[prop]
        if index is None:
            return None
        return index.get(key, set())

    def _build_index(self, prop: str) -> dict[Any, set[str]] | None:
        index: dict[Any, set[str]] = {}
        for uid, user in self.users.items():
            key = _key(user.get(prop))
            if key is _UNINDEXABLE:
                return None
            index.setdefault(key, set()).add(uid)
        return index

    def _index_add(self, user: dict, props: Iterable[str] | None = None) -> None:
        for prop in (props if props is not None else list(self.indexes)):
            index = self.indexes.get(prop)
            if index is None:
                continue
            key = _key(user.get(prop))
            if key is _UNINDEXABLE:
                self.indexes[prop] = None
                continue
            index.setdefault(key, set()).add(user["id"])

    def _index_remove(self, user: dict, props: Iterable[str] | None = None) -> None:
        for prop in (props if props is not None else list(self.indexes)):
            index = self.indexes.get(prop)
            if index is None:
                continue
            ids = index.get(_key(user.get(prop)))
            if ids is not None:
                ids.discard(user["id"])

    # -- users ---------------------------------------------------------------------------
    def add_user(self, user: dict, *, record: bool = True, created: str | None = None) -> dict:
        """Add a live user (fixture load: record=False, it belongs to the initial state)."""
        if "id" not in user:
            user["id"] = str(uuid.uuid4())
        uid = user["id"]
        if "createdDateTime" not in user:
            user["createdDateTime"] = created or now_iso()
        upn = user.get("userPrincipalName")
        if upn:
            self.upn_index[upn.lower()] = uid
        self.users[uid] = user
        meta = Meta(self._next_ord(), self.next_seq() if record else 0)
        self.user_meta[uid] = meta
        self.user_order.add(meta.ord, uid)
        self._index_add(user)
        if record:
            self.user_log.append(meta.life, uid)
        return user

    def update_user(self, uid: str, changes: dict) -> list[str]:
        """Apply property changes (None clears); returns the names that really changed."""
        user = self.users[uid]
        changed = [k for k, v in changes.items()
                   if (user.get(k) != v) or (v is None and k in user and k.startswith("extension_"))]
        if not changed:
            return []
        self._index_remove(user, [k for k in changed if k in self.indexes])
        for name in changed:
            value = changes[name]
            if name == "userPrincipalName":
                old = user.get(name)
                if old:
                    self.upn_index.pop(old.lower(), None)
                if value:
                    self.upn_index[value.lower()] = uid
            if value is None and name.startswith("extension_"):
                user.pop(name, None)
            else:
                user[name] = value
        self._index_add(user, [k for k in changed if k in self.indexes])
        seq = self.next_seq()
        self.user_meta[uid].touch(changed, seq)
        self.user_log.append(seq, uid)
        return changed

    def soft_delete_user(self, uid: str) -> dict:
        """Move a live user to deleted items (restorable)."""
        user = self.users.pop(uid)
        meta = self.user_meta[uid]
        self.user_order.remove(meta.ord)
        self._index_remove(user)
        upn = user.get("userPrincipalName") or ""
        self.upn_index.pop(upn.lower(), None)
        seq = self.next_seq()                   # memberships stay (see the module docstring)
        self._saved_upn[uid] = upn
        user["userPrincipalName"] = uid.replace("-", "") + upn
        user["deletedDateTime"] = now_iso()
        self.deleted[uid] = user
        meta.life = seq
        self.user_log.append(seq, uid)
        return user

    def restore_user(self, uid: str) -> dict:
        """Bring a soft-deleted user back (ValueError when its UPN is taken meanwhile)."""
        user = self.deleted[uid]
        upn = self._saved_upn.get(uid, user.get("userPrincipalName", ""))
        if upn and upn.lower() in self.upn_index:
            raise ValueError("Another object with the same value for property "
                             "userPrincipalName already exists.")
        del self.deleted[uid]
        self._saved_upn.pop(uid, None)
        user["userPrincipalName"] = upn
        user.pop("deletedDateTime", None)
        if upn:
            self.upn_index[upn.lower()] = uid
        self.users[uid] = user
        meta = self.user_meta[uid]
        self.user_order.add(meta.ord, uid)
        self._index_add(user)
        seq = self.next_seq()
        meta.life = seq
        self.user_log.append(seq, uid)
        return user

    def hard_delete_user(self, uid: str) -> dict:
        """Remove a soft-deleted user for good, with its group memberships."""
        user = self.deleted.pop(uid)
        self._saved_upn.pop(uid, None)
        self.fixture_fields.pop(uid, None)
        for report in sorted(self.reports.pop(uid, ())):   # their manager is gone for good
            self.set_manager(report, None)
        self.set_manager(uid, None, record=False)
        self.manager_logs.pop(uid, None)
        seq = self.next_seq()
        for gid in sorted(self.member_of.pop(uid, ())):
            if uid in self.members.get(gid, {}):
                self._unlink(gid, uid, seq)
        self.user_meta[uid].life = seq
        self.user_log.append(seq, uid)
        return user

    def set_manager(self, uid: str, manager_id: str | None, *, record: bool = True) -> bool:
        """Set (or with None remove) a user's manager; False when nothing changes. A recorded
        change is a change of the user in users/delta (manager.py)."""
        old = self.managers.get(uid)
        if old == manager_id:
            return False
        if old is not None:
            self.reports.get(old, set()).discard(uid)
        if manager_id is None:
            del self.managers[uid]
        else:
            self.managers[uid] = manager_id
            self.reports.setdefault(manager_id, set()).add(uid)
        if record:
            seq = self.next_seq()
            self.manager_logs.setdefault(uid, []).append((seq, old, manager_id))
            self.user_log.append(seq, uid)
        return True

    def manager_at(self, uid: str, seq: int) -> str | None:
        """The user's manager id as it was at change sequence `seq`."""
        for at, old, _new in self.manager_logs.get(uid, ()):
            if at > seq:
                return old
        return self.managers.get(uid)

    def user_state(self, uid: str) -> str:
        """'live', 'deleted' (soft), or 'gone' (hard-deleted or unknown)."""
        if uid in self.users:
            return "live"
        if uid in self.deleted:
            return "deleted"
        return "gone"

    # -- groups --------------------------------------------------------------------------
    def add_group(self, group: dict, *, record: bool = True) -> dict:
        """Add a group without members."""
        if "id" not in group:
            group["id"] = str(uuid.uuid4())
        gid = group["id"]
        if "createdDateTime" not in group:
            group["createdDateTime"] = now_iso()
        self.groups[gid] = group
        self.members[gid] = {}
        self.member_logs[gid] = MemberLog()
        meta = Meta(self._next_ord(), self.next_seq() if record else 0)
        self.group_meta[gid] = meta
        self.group_order.add(meta.ord, gid)
        if record:
            self.group_log.append(meta.life, gid)
        return group

    def update_group(self, gid: str, changes: dict) -> list[str]:
        """Apply property changes to a group; returns the names that really changed."""
        group = self.groups[gid]
        changed = [k for k, v in changes.items() if group.get(k) != v]
        if not changed:
            return []
        for name in changed:
            group[name] = changes[name]
        seq = self.next_seq()
        self.group_meta[gid].touch(changed, seq)
        self.group_log.append(seq, gid)
        return changed

    def delete_group(self, gid: str) -> None:
        """Delete a group permanently, with its memberships both ways."""
        seq = self.next_seq()
        for mid in list(self.members[gid]):
            self.member_of.get(mid, set()).discard(gid)
        for parent in sorted(self.member_of.pop(gid, ())):
            self._unlink(parent, gid, seq)
        del self.groups[gid]
        del self.members[gid]
        meta = self.group_meta[gid]
        self.group_order.remove(meta.ord)
        meta.life = seq
        self.group_log.append(seq, gid)

    def add_member(self, gid: str, member_id: str, member_type: str, *,
                   record: bool = True) -> None:
        """Make `member_id` a direct member of `gid`."""
        self._link(gid, member_id, member_type, self.next_seq() if record else 0, record=record)

    def remove_member(self, gid: str, member_id: str) -> None:
        """Remove a direct member."""
        self._unlink(gid, member_id, self.next_seq())

    def _link(self, gid: str, member_id: str, member_type: str, seq: int, *,
              record: bool = True) -> None:
        self.members[gid][member_id] = member_type
        self.member_of.setdefault(member_id, set()).add(gid)
        if record:
            self.member_logs[gid].append(seq, member_id, member_type, True)
            self.group_log.append(seq, gid)

    def _unlink(self, gid: str, member_id: str, seq: int) -> None:
        member_type = self.members[gid].pop(member_id)
        self.member_of.get(member_id, set()).discard(gid)
        self.member_logs[gid].append(seq, member_id, member_type, False)
        self.group_log.append(seq, gid)

    def group_state(self, gid: str) -> str:
        """'live' or 'gone'."""
        return "live" if gid in self.groups else "gone"


class Directory:
    """All tenants of one fixture, with the token and domain indexes."""

    def __init__(self, tenants: list[Tenant]) -> None:
        self.generation = uuid.uuid4().hex[:12]   # delta/skip tokens from another load are stale
        self.tenants: dict[str, Tenant] = {}
        self.by_token: dict[str, Tenant] = {}
        self.by_domain: dict[str, Tenant] = {}
        for tenant in tenants:
            self.tenants[tenant.id.lower()] = tenant
            for token in tenant.tokens:
                self.by_token[token] = tenant
            for name in tenant.domain_names():
                self.by_domain[name] = tenant

    def tenant(self, tenant_id: str) -> Tenant | None:
        """A tenant by id (case-insensitive)."""
        return self.tenants.get(tenant_id.lower())

    def home_tenant(self, email: str) -> Tenant | None:
        """The tenant whose verified domains hold the address's domain."""
        domain = email.rpartition("@")[2].lower()
        return self.by_domain.get(domain)
