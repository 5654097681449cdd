"""The quarantine decisions with the numbers of application-provisioning-quarantine-status's examples
(docs/entra-behaviour.md#escrow-thresholds), and the backoff."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tenantsync.stages.guard import escrow_quarantine_reason, next_attempt, quarantine_expired


@pytest.mark.parametrize(("failed", "reference", "ok", "reason"), [
    (45_000, 0, 0, "EncounteredBaseEscrowThreshold"),             # 45,000 failed -> quarantine
    (30_000, 0, 5_000, "EncounteredEscrowProportionThreshold"),   # 30,000 failed + 5,000 ok -> quarantine
    (20_000, 0, 100_000, None),                                   # 20,000 failed + 100,000 ok -> no
    (40_000, 21_000, 0, "EncounteredTotalEscrowThreshold"),       # 40,000 user + 21,000 manager -> quarantine
    (4_000, 0, 0, None),                                          # below 5,000: never evaluated
    (4_999, 0, 1, None),
    (5_000, 0, 0, "EncounteredEscrowProportionThreshold"),        # evaluation starts at 5,000
    (5_000, 0, 7_500, None),                                      # exactly 40 %: not more than 40 %
    (40_000, 0, 1_000_000, None),                                 # 40,000 is not more than 40,000
    (40_001, 0, 1_000_000, "EncounteredBaseEscrowThreshold"),
])
def test_escrow_thresholds_follow_the_documented_examples(failed, reference, ok, reason):
    assert escrow_quarantine_reason(failed, reference, failed + ok) == reason


def test_backoff_is_6_12_24_hours_then_daily_and_disabled_after_28_days():
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    hours = [(next_attempt(t0, n) - t0) / timedelta(hours=1) for n in range(1, 6)]
    assert hours == [6, 18, 42, 66, 90]
    assert not quarantine_expired(t0, t0 + timedelta(days=28))
    assert quarantine_expired(t0, t0 + timedelta(days=28, seconds=1))
