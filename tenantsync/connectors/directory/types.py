"""Plain values the directory takes and hands back (no I/O here), and its error."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...errors import TenantSyncError


class DirectoryError(TenantSyncError):
    """The directory database cannot be used (unknown schema revision, unsupported backend)."""


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
