"""Change bookkeeping that makes delta rounds cost what changed, not the tenant size.

Every change in a tenant takes the next value of the tenant's sequence number. Each object keeps
the sequence of its last lifecycle change (create, delete, restore) and of each property change;
the tenant appends (seq, object id) to a ChangeLog per resource, and membership changes to a
MemberLog per group. A delta round since sequence S up to T bisects the log to S and walks it.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right


class Meta:
    """Delta bookkeeping of one object: its stable order key and change sequences."""

    __slots__ = ("ord", "life", "props")

    def __init__(self, ord_: int, life: int) -> None:
        self.ord = ord_
        self.life = life                        # seq of the last create/delete/restore
        self.props: dict[str, int] | None = None  # property -> seq of its last change

    def touch(self, names: list[str], seq: int) -> None:
        """Record that `names` changed at `seq`."""
        if self.props is None:
            self.props = {}
        for name in names:
            self.props[name] = seq

    def changed_after(self, seq: int, names: list[str] | None) -> bool:
        """True when the object, or one of `names` (None: any property), changed after `seq`."""
        if self.life > seq:
            return True
        if not self.props:
            return False
        if names is None:
            return any(s > seq for s in self.props.values())
        return any(self.props.get(n, 0) > seq for n in names)


class ChangeLog:
    """Append-only (seq, id) entries; each entry knows the index of its object's next entry."""

    __slots__ = ("seqs", "ids", "nexts", "_last")

    def __init__(self) -> None:
        self.seqs: list[int] = []
        self.ids: list[str] = []
        self.nexts: list[int | None] = []
        self._last: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self.seqs)

    def append(self, seq: int, oid: str) -> None:
        """Record a change of `oid` at `seq` (seqs only grow)."""
        index = len(self.seqs)
        prev = self._last.get(oid)
        if prev is not None:
            self.nexts[prev] = index
        self._last[oid] = index
        self.seqs.append(seq)
        self.ids.append(oid)
        self.nexts.append(None)

    def start(self, after_seq: int) -> int:
        """Index of the first entry with seq > after_seq."""
        return bisect_right(self.seqs, after_seq)

    def is_last_upto(self, index: int, upto: int) -> bool:
        """True when entry `index` is its object's last entry with seq <= upto."""
        nxt = self.nexts[index]
        return nxt is None or self.seqs[nxt] > upto


class MemberLog:
    """Membership changes of one group: (seq, member id, member type, added)."""

    __slots__ = ("seqs", "changes")

    def __init__(self) -> None:
        self.seqs: list[int] = []
        self.changes: list[tuple[str, str, bool]] = []

    def append(self, seq: int, member_id: str, member_type: str, added: bool) -> None:
        """Record one membership change."""
        self.seqs.append(seq)
        self.changes.append((member_id, member_type, added))

    def net(self, after: int, upto: int) -> dict[str, tuple[str, bool]]:
        """Each member whose membership changed in (after, upto]: its (type, is-member) at upto."""
        out: dict[str, tuple[str, bool]] = {}
        lo, hi = bisect_right(self.seqs, after), bisect_right(self.seqs, upto)
        for member_id, member_type, added in self.changes[lo:hi]:
            out[member_id] = (member_type, added)
        return out


class OrderedIds:
    """Live objects in a stable order (their ord), with O(log n) seeks for paging cursors."""

    __slots__ = ("keys", "ids")

    def __init__(self) -> None:
        self.keys: list[int] = []
        self.ids: list[str] = []

    def __len__(self) -> int:
        return len(self.keys)

    def add(self, key: int, oid: str) -> None:
        """Insert `oid` at its order key (appending is the common case)."""
        if not self.keys or key > self.keys[-1]:
            self.keys.append(key)
            self.ids.append(oid)
            return
        i = bisect_left(self.keys, key)
        self.keys.insert(i, key)
        self.ids.insert(i, oid)

    def remove(self, key: int) -> None:
        """Remove the object with order key `key`."""
        i = bisect_left(self.keys, key)
        if i < len(self.keys) and self.keys[i] == key:
            del self.keys[i]
            del self.ids[i]

    def index_after(self, key: int) -> int:
        """Index of the first object whose order key is greater than `key`."""
        return bisect_right(self.keys, key)
