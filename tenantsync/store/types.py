"""Plain values the store hands to the engine and takes back from it (no I/O here)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

LINK_STATES = frozenset({"active", "disabled", "deleted", "pending"})
JOB_CODES = frozenset({"NotRun", "Active", "Paused", "Quarantine", "Disabled"})
CYCLE_KINDS = frozenset({"initial", "incremental", "on-demand", "repair", "user-source"})
STAGED_ACTIONS = frozenset({"delete", "disable"})


@dataclass(slots=True)
class Link:
    """A source user and the target user we created or matched for it (slots: an initial cycle
    holds one per linked user)."""

    source_id: str
    target_id: str
    state: str  # 'active' | 'disabled' | 'deleted' (soft-deleted by us) | 'pending' (invited, PATCH not yet done)
    source_upn: str | None = None
    updated: datetime | None = None  # set by the store when left None


@dataclass
class Quarantine:
    """Graph's synchronizationQuarantine resource."""

    current_began: datetime
    next_attempt: datetime
    reason: str
    series_began: datetime
    series_count: int
    error: dict[str, Any] | None


@dataclass
class JobStatus:
    """The part of Graph's synchronizationJob.status the engine keeps between cycles."""

    code: str = "NotRun"  # NotRun | Active | Paused | Quarantine | Disabled
    quarantine: Quarantine | None = None
    last_execution: datetime | None = None
    last_successful_execution: datetime | None = None
    count_successive_complete_failures: int = 0
    notified_reason: str | None = None


def check_choice(what: str, value: str, allowed: frozenset[str]) -> None:
    """Refuse a value outside its enum before anything is written (bad input changes nothing)."""
    if value not in allowed:
        raise ValueError(f"{what} {value!r} is not allowed (allowed: {', '.join(sorted(allowed))})")
