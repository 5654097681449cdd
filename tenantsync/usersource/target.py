"""The application directory as a ``ports.Target``: planned actions -> DirectoryTarget writes.

A batch is one page of a delta round: its users (or groups) to create, update and remove, and a
last ``PageCommit`` action with what the page's transaction also carries (the group memberships,
and with the last page of a round its delta link and, for a full round, ``keep_only``). ``apply``
writes the whole batch in one ``DirectoryTarget.apply_users``/``apply_groups`` call, so in one
transaction, and sets each action's outcome from what the write changed: an object that did not
change is ``skipped``, an object the full round did not return is a ``delete`` action added to the
result. The counts of the run (``COUNT_KEYS``) are tallied here, as the writes report them.

The target's own concerns after the writes (the invitation outbox, the notification e-mails) are
in outbox.py; ``DirectoryWrites`` hands them its directory and sender.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ..connectors.directory_target import Applied, DirectoryTarget, GroupRecord, UserRecord
from ..model import Action, ActionKind
from .notifications import Notification
from .outbox import Send, send_invitations, store_notifications

Resource = Literal["users", "groups"]
Invitation = Callable[[UserRecord], tuple[str | None, str, str]]
COUNT_KEYS = ("users_created", "users_updated", "users_removed", "groups_created", "groups_updated",
              "groups_removed", "memberships_added", "memberships_removed", "invitations_queued",
              "invitations_sent", "invitations_failed", "invitations_pending")


@dataclass
class PageCommit:
    """What the transaction of one page carries besides its objects."""

    resource: Resource
    link: tuple[str, str] | None = None                   # (delta link, fingerprint): last page only
    keep_only: set[str] | None = None                     # a full round's last page: every id it read
    members_added: list[tuple[str, str, str]] = field(default_factory=list)   # (group, member, type)
    members_removed: list[tuple[str, str]] = field(default_factory=list)      # (group, member)
    members_full: dict[str, dict[str, str]] | None = None  # a full round: group -> {member: type}
    written: bool = False                                 # committed by DirectoryWrites.apply


@dataclass(slots=True)
class DirectoryAction(Action):
    """An action on one directory object, with the record it writes; or a page's ``commit``."""

    record: UserRecord | GroupRecord | None = None
    commit: PageCommit | None = None


def object_action(kind: ActionKind, object_id: str, *, record: UserRecord | GroupRecord | None = None,
                  name: str = "", reason: str = "") -> DirectoryAction:
    return DirectoryAction(kind, object_id, object_id if kind != "create" else None, display_name=name,
                           reason=reason, record=record)


def commit_action(commit: PageCommit) -> DirectoryAction:
    what = "delta link saved" if commit.link else "page written"
    return DirectoryAction("other", commit.resource, None, reason=f"{commit.resource}: {what}", commit=commit)


class DirectoryWrites:
    """``ports.Target`` over a DirectoryTarget, for one user-source instance."""

    def __init__(self, directory: DirectoryTarget, instance: str, *, invitation: Invitation | None,
                 send: Send | None) -> None:
        self.directory, self.instance = directory, instance
        self.invitation, self.send = invitation, send
        self.counts: dict[str, int] = dict.fromkeys(COUNT_KEYS, 0)

    def apply(self, actions: Sequence[Action]) -> list[Action]:
        """Write one page (one transaction); returns its actions with their outcome, plus the
        removals a full round's last page made."""
        commits = [a.commit for a in actions if isinstance(a, DirectoryAction) and a.commit is not None]
        if len(commits) != 1:
            raise ValueError(f"a directory batch is one page with one commit action, not {len(commits)}")
        commit = commits[0]
        records = [a.record for a in actions if isinstance(a, DirectoryAction) and a.record is not None]
        removed = [a.source_id for a in actions if a.kind == "delete"]
        if commit.resource == "users":
            applied = self.directory.apply_users(
                self.instance, [r for r in records if isinstance(r, UserRecord)], removed,
                invitation=self.invitation, keep_only=commit.keep_only, link=commit.link)
        else:
            applied = self.directory.apply_groups(
                self.instance, [r for r in records if isinstance(r, GroupRecord)], removed,
                members_added=commit.members_added, members_removed=commit.members_removed,
                members_full=commit.members_full, keep_only=commit.keep_only, link=commit.link)
        commit.written = True
        self._tally(commit.resource, applied)
        return [*actions, *_outcomes(actions, applied, commit)]

    def _tally(self, resource: Resource, applied: Applied) -> None:
        self.counts[f"{resource}_created"] += len(applied.created)
        self.counts[f"{resource}_updated"] += len(applied.updated)
        self.counts[f"{resource}_removed"] += len(applied.removed)
        self.counts["memberships_added"] += applied.members_added
        self.counts["memberships_removed"] += applied.members_removed
        self.counts["invitations_queued"] += applied.invitations_queued

    # -- after the writes: the outbox and the notifications (outbox.py) ----------------------------
    def send_invitations(self) -> list[dict[str, Any]]:
        return send_invitations(self.directory, self.instance, self.send, self.counts)

    def notify(self, cycle_id: int, notes: Iterable[Notification], recipient: str | None) -> list[dict[str, Any]]:
        return store_notifications(self.directory, self.instance, cycle_id, notes, self.send, recipient)


def _outcomes(actions: Sequence[Action], applied: Applied, commit: PageCommit) -> list[Action]:
    """Set each planned action's outcome; returns the removals nobody planned (``keep_only``)."""
    created, updated, gone = set(applied.created), set(applied.updated), set(applied.removed)
    planned_removals = set()
    for a in actions:
        if a.kind == "other":
            a.status = "success"
        elif a.kind == "delete":
            planned_removals.add(a.source_id)
            if a.source_id not in gone:
                a.status, a.reason = "skipped", f"{a.reason} Not in the directory."
        elif a.source_id in created:
            a.kind, a.target_id = "create", a.source_id
        elif a.source_id in updated:
            a.kind = "update"
        else:
            a.status, a.reason = "skipped", "No change."
    what = "user" if commit.resource == "users" else "group"
    return [object_action("delete", oid, reason=f"The {what} is not in the full read of the tenant.")
            for oid in applied.removed if oid not in planned_removals]


__all__ = ["COUNT_KEYS", "DirectoryAction", "DirectoryWrites", "PageCommit", "commit_action", "object_action"]
