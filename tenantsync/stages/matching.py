"""Matching (docs/entra-behaviour.md#cross-tenant-synchronization-mappings): one source user <-> one B2B
user of the target, never an internal user."""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

MatchedBy = Literal["link", "anchor", "mail", "deleted", "none"]


def is_b2b(user: Mapping[str, Any]) -> bool:
    """External (B2B) users carry #EXT# in their UPN or an externalUserState; internal users neither."""
    return "#EXT#" in (user.get("userPrincipalName") or "") or bool(user.get("externalUserState"))


def anchor_value(source_tenant_id: str, source_id: str) -> str:
    return f"{source_tenant_id}/{source_id}"


@dataclass(slots=True)
class Match:
    target: dict[str, Any] | None
    by: MatchedBy
    description: str = ""


Entry = dict[str, Any] | tuple[Any, ...]   # a user as the index holds it (see TargetIndex.user)


@dataclass(slots=True)
class TargetIndex:
    """The target users this configuration may touch, indexed the ways matching needs."""

    anchor_attribute: str
    by_id: dict[str, Entry] = field(default_factory=dict)
    by_anchor: dict[str, Entry] = field(default_factory=dict)
    by_mail: dict[str, tuple[Entry, ...]] = field(default_factory=dict)
    deleted: dict[str, dict[str, Any]] = field(default_factory=dict)   # target deleted items
    # With digest_keys, users keep only what matching and planning read (``kept``, as a tuple of
    # values: a third of the memory of a dict), plus one hash per mapped attribute: a 100,000-user
    # index then fits in tens of megabytes. differs() says which users must be read again in full
    # before their diff.
    digest_keys: tuple[str, ...] = ()
    kept: tuple[str, ...] = ()
    digests: dict[str, array] = field(default_factory=dict)
    positions: dict[str, int] = field(default_factory=dict)
    # one copy of the values many users share (userType, externalUserState): 100,000 users' JSON
    # would otherwise hold 100,000 copies of "Member"
    shared: dict[str, str] = field(default_factory=dict)

    @classmethod
    def build(cls, users: Iterable[dict[str, Any]], anchor_attribute: str,
              deleted: Iterable[Mapping[str, Any]] = (), *, digest_keys: Sequence[str] = ()) -> TargetIndex:
        keys = tuple(digest_keys)
        index = cls(anchor_attribute, digest_keys=keys, positions={k: i for i, k in enumerate(keys)},
                    kept=(*ESSENTIAL, anchor_attribute) if keys else ())
        for u in users:
            index.add(u if keys else _compact(u))     # with digests, add keeps only what it needs
        for gone in deleted:
            index.deleted[gone["id"]] = _compact(gone)
        return index

    def add(self, user: dict[str, Any]) -> None:
        if not is_b2b(user):
            return                       # internal users of the target are never matched
        entry: Entry = user
        if self.digest_keys:
            get = user.get
            self.digests[user["id"]] = array("q", map(_digest, map(get, self.digest_keys)))
            entry = self._row(list(map(get, self.kept)))
            tid, anchor, mail, others = entry[0], entry[-1], entry[_MAIL], entry[_OTHERS]
        else:
            tid, anchor, mail, others = user["id"], user.get(self.anchor_attribute), user.get("mail"), \
                user.get("otherMails")
        self.by_id[tid] = entry
        if anchor:
            self.by_anchor[anchor] = entry
        for address in _mails(mail, others):
            found = self.by_mail.get(address)
            self.by_mail[address] = (entry,) if found is None else (*found, entry)

    def user(self, entry: Entry) -> dict[str, Any]:
        """An index entry as matching and planning read it: the properties the user has (absent
        and null alike, as _compact), a new dict for a kept tuple."""
        if type(entry) is tuple:
            return {k: v for k, v in zip(self.kept, entry) if v is not None}
        return entry  # type: ignore[return-value]

    def stored_id(self, target_id: str) -> str | None:
        """The index's own string for this target id (None: not indexed)."""
        entry = self.by_id.get(target_id)
        if entry is None:
            return None
        return entry[0] if type(entry) is tuple else entry["id"]  # type: ignore[call-overload]

    def forget(self, target_ids: Iterable[str]) -> None:
        """Drop the digests of users planned already: the index shrinks as the cycle goes (asked
        again, differs() answers True, which only costs a read of the user)."""
        for tid in target_ids:
            self.digests.pop(tid, None)

    def _row(self, values: list[Any]) -> tuple[Any, ...]:
        """The kept values, equal strings as one object (a restart holds the index): the values
        many users share (userType, externalUserState) and an invited user's otherMails, [mail]."""
        for i in _SHARED:
            v = values[i]
            if type(v) is str:
                values[i] = self.shared.setdefault(v, v)
        mail, others = values[_MAIL], values[_OTHERS]
        if mail and others and mail in others:
            values[_OTHERS] = [mail if m == mail else m for m in others]
        return tuple(values)

    def differs(self, target_id: str, values: Mapping[str, Any], fill_if_empty: Iterable[str] = ()) -> bool:
        """True unless every value is known to equal the target's (then no read is needed)."""
        digest = self.digests.get(target_id)
        if digest is None:
            return True
        pos = self.positions
        for k, v in values.items():
            i = pos.get(k)
            if i is None or digest[i] != (hash(v) if type(v) is str and v else _digest(v)):
                return True
        return any(k not in pos or digest[pos[k]] == _EMPTY for k in fill_if_empty)


ESSENTIAL = ("id", "userPrincipalName", "mail", "otherMails", "userType", "externalUserState",
             "accountEnabled", "displayName", "manager")   # manager: $expand=manager($select=id)
_SHARED = (ESSENTIAL.index("userType"), ESSENTIAL.index("externalUserState"))
_MAIL, _OTHERS = ESSENTIAL.index("mail"), ESSENTIAL.index("otherMails")


def _digest(value: Any) -> int:
    """Equal for values the planner treats as equal (null, "" and [] alike; booleans as text)."""
    if type(value) is str:              # most values: one test
        return hash(value) if value else _EMPTY
    if value is None or value == "" or value == []:
        return _EMPTY
    if isinstance(value, bool):
        return hash("true" if value else "false")
    if isinstance(value, list):
        return hash(tuple(str(v) for v in value))
    if isinstance(value, dict):
        return hash(str(sorted(value.items())))
    return hash(value)


_EMPTY = 0


def _compact(user: Mapping[str, Any]) -> dict[str, Any]:
    """Only the properties the target has: Graph answers null for every selected but unset one,
    and at 100,000 users those nulls cost about a hundred megabytes. Absent and null compare alike."""
    return {k: v for k, v in user.items() if v is not None}


def _mails(mail: str | None, others: list[str] | None) -> set[str]:
    """A user's addresses in lower case (the address itself when it is already: no copy kept)."""
    mails = {m if (low := m.lower()) == m else low for m in (others or []) if m}
    if mail:
        mails.add(mail if (low := mail.lower()) == mail else low)
    return mails


def match_user(source: Mapping[str, Any], *, link_target_id: str | None, anchor: str,
               index: TargetIndex) -> Match:
    """Link first, then the durable anchor, then (for hand-invited B2B users) the mail address."""
    if link_target_id:
        if link_target_id in index.by_id:
            return Match(index.user(index.by_id[link_target_id]), "link", "Target user found by the stored link.")
        if link_target_id in index.deleted:
            return Match(index.deleted[link_target_id], "deleted",
                         "The linked target user is in the target's deleted items.")
    if anchor in index.by_anchor:
        return Match(index.user(index.by_anchor[anchor]), "anchor",
                     f"Target user found by {index.anchor_attribute} = '{anchor}'.")
    mail = (source.get("mail") or "").lower()
    for entry in index.by_mail.get(mail, ()) if mail else ():
        candidate = index.user(entry)
        if not candidate.get(index.anchor_attribute):
            return Match(candidate, "mail",
                         f"B2B user invited earlier found by mail '{source.get('mail')}'.")
    return Match(None, "none", "No B2B user in the target matches this source user.")
