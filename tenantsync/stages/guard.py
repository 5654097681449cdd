"""Safety decisions (docs/entra-behaviour.md#quarantine, #deletion-threshold), pure: deletion threshold,
empty-source abort, quarantine policy."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from .. import remedies
from ..model import Action

QUARANTINE_BACKOFF = (timedelta(hours=6), timedelta(hours=12), timedelta(hours=24))
QUARANTINE_MAX_AGE = timedelta(days=28)
ESCROW_EVALUATION_MIN = 5_000
ESCROW_PROPORTION = 0.40
ESCROW_BASE_LIMIT = 40_000
ESCROW_TOTAL_LIMIT = 60_000
STAGED_NOTE = " Staged: "        # what the threshold adds to a staged action's reason


@dataclass(slots=True)
class GuardDecision:
    allowed: list[Action]
    staged: list[Action] = field(default_factory=list)
    quarantine_reason: str | None = None
    message: str = ""


def apply_deletion_threshold(actions: list[Action], *, threshold: int, allow_deletes: bool) -> GuardDecision:
    """Above the threshold, no delete or disable of this cycle is applied: they are staged.

    Evaluated per cycle, as documented: several cycles under the threshold never trip it.
    """
    removals = [a for a in actions if a.is_removal and a.status == "success"]
    if threshold <= 0 or allow_deletes or len(removals) <= threshold:
        return GuardDecision(actions)
    staged_ids = {id(a) for a in removals}
    staged = [replace(a, kind="stagedDelete", status="skipped", error_code="TooManyDeletes",
                      reason=f"{a.reason}{STAGED_NOTE}this cycle would delete or disable {len(removals)} users, "
                             f"more than the accidental-deletion threshold of {threshold}.",
                      steps=list(a.steps)) for a in removals]
    kept = [a for a in actions if id(a) not in staged_ids]
    msg = (f"{len(removals)} deletions/disables exceed the threshold of {threshold}: none applied, "
           "all staged. Review pending-deletions.csv, then approve (tenantsync sync CONFIG --allow-deletes, "
           f"or in the Prefect UI: {remedies.APPROVE}) or fix the cause and restart.")
    return GuardDecision(kept, staged, "TooManyDeletes", msg)


def planned_reason(reason: str) -> str:
    """A staged action's reason as planned, without the threshold's note (said once above a list)."""
    return reason.split(STAGED_NOTE, 1)[0]


def empty_source_abort(in_scope: int, linked: int) -> str | None:
    """No user in scope while links exist is far more likely a broken read than a real mass exit."""
    if in_scope == 0 and linked > 0:
        return (f"The source returned no user in scope while {linked} target users are linked: the "
                "cycle is aborted and nothing is deleted. Check the assignments and scoping filters.")
    return None


def escrow_quarantine_reason(failures: int, reference_failures: int, events: int) -> str | None:
    """Per-object failure thresholds (application-provisioning-quarantine-status; the reason names
    are our mapping: docs/entra-behaviour.md#escrow-thresholds)."""
    if failures + reference_failures > ESCROW_TOTAL_LIMIT:
        return "EncounteredTotalEscrowThreshold"
    if failures < ESCROW_EVALUATION_MIN:
        return None
    if failures > ESCROW_BASE_LIMIT:
        return "EncounteredBaseEscrowThreshold"
    if events and failures / events > ESCROW_PROPORTION:
        return "EncounteredEscrowProportionThreshold"
    return None


def next_attempt(series_began: datetime, series_count: int) -> datetime:
    """+6 h, +12 h, +24 h after the first failure, then every 24 h."""
    total = timedelta(0)
    for i in range(series_count):
        total += QUARANTINE_BACKOFF[min(i, len(QUARANTINE_BACKOFF) - 1)]
    return series_began + total


def quarantine_expired(series_began: datetime, now: datetime) -> bool:
    """In quarantine for more than 4 weeks: the job is disabled."""
    return now - series_began > QUARANTINE_MAX_AGE
