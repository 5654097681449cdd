"""Deletion threshold, empty-source abort and quarantine thresholds (docs/entra-behaviour.md#deletion-threshold,
#quarantine)."""

from datetime import UTC, datetime, timedelta

import pytest

from tenantsync.model import Action
from tenantsync.stages.guard import (
    apply_deletion_threshold,
    empty_source_abort,
    escrow_quarantine_reason,
    next_attempt,
    quarantine_expired,
)


def deletes(n):
    return [Action("delete", f"s{i}", f"t{i}", reason="Left the scope.") for i in range(n)]


def test_deletions_above_threshold_are_all_staged():
    acts = deletes(600) + [Action("update", "u", "tu")]
    d = apply_deletion_threshold(acts, threshold=500, allow_deletes=False)
    assert len(d.staged) == 600 and all(a.kind == "stagedDelete" for a in d.staged)
    assert [a.kind for a in d.allowed] == ["update"]
    assert d.quarantine_reason == "TooManyDeletes"
    assert "600" in d.message and "500" in d.message


@pytest.mark.parametrize("n,threshold,allow", [(500, 500, False), (600, 0, False), (600, 500, True)])
def test_threshold_not_tripped(n, threshold, allow):
    d = apply_deletion_threshold(deletes(n), threshold=threshold, allow_deletes=allow)
    assert not d.staged and d.quarantine_reason is None


def test_disables_count_towards_the_threshold():
    acts = deletes(2) + [Action("disable", "d", "td")]
    assert len(apply_deletion_threshold(acts, threshold=2, allow_deletes=False).staged) == 3


def test_empty_source_with_links_aborts():
    assert "aborted" in empty_source_abort(0, 12)
    assert empty_source_abort(0, 0) is None and empty_source_abort(3, 12) is None


@pytest.mark.parametrize("failed,ok,ref,expected", [
    (4_000, 0, 0, None),                                       # evaluation starts at 5,000
    (45_000, 0, 0, "EncounteredBaseEscrowThreshold"),
    (30_000, 5_000, 0, "EncounteredEscrowProportionThreshold"),
    (20_000, 100_000, 0, None),
    (40_000, 100_000, 21_000, "EncounteredTotalEscrowThreshold"),
])
def test_escrow_thresholds_follow_the_documented_examples(failed, ok, ref, expected):
    assert escrow_quarantine_reason(failed, ref, failed + ok) == expected


def test_backoff_6_12_24_then_daily_and_28_days():
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    assert [next_attempt(t0, n) - t0 for n in (1, 2, 3, 4)] == [
        timedelta(hours=6), timedelta(hours=18), timedelta(hours=42), timedelta(hours=66)]
    assert not quarantine_expired(t0, t0 + timedelta(days=27))
    assert quarantine_expired(t0, t0 + timedelta(days=29))
