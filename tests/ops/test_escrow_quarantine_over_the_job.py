"""Escrow quarantine counted over the job's history, not per cycle (application-provisioning-quarantine-status,
"Escrow thresholds"; restarting with "clear escrows" restarts "the escrow counter that accrues toward
quarantine status")."""

from __future__ import annotations

import pytest

from tenantsync.quarantine import JobEscrows
from tenantsync.stages import guard

from .opsworld import GROUP, uid, world

BASE, TOTAL, SHARE = ("EncounteredBaseEscrowThreshold", "EncounteredTotalEscrowThreshold",
                      "EncounteredEscrowProportionThreshold")


@pytest.mark.parametrize(("failed", "reference", "objects", "reason"), [
    (45_000, 0, 0, BASE),                 # "45,000 users were unsuccessfully provisioned"
    (30_000, 0, 35_000, SHARE),           # "30,000 users failed provisioning and 5,000 were successful"
    (20_000, 0, 120_000, None),           # "20,000 failures and 100,000 success"
    (40_000, 21_000, 0, TOTAL),           # "40,000 users ... and 21,000 manager updates failed"
    (4_000, 0, 4_000, None),              # "a job with 4,000 failures wouldn't go into quarantine"
    (4_999, 50_000, 4_999, None),         # reference failures count toward 60,000 only
    (5_000, 0, 12_500, None),             # exactly 40 %: not more than 40 %
    (5_000, 0, 12_499, SHARE),
    (0, 60_001, 0, TOTAL),
])
def test_the_job_counter_follows_the_documented_examples(failed, reference, objects, reason):
    assert JobEscrows(failed, reference, objects).reason() == reason


def test_the_description_says_what_was_counted():
    text = JobEscrows(8, 2, 14).describe()
    assert text.startswith("8 objects in escrow over the job's cycles, of 14 provisioned or attempted")
    assert "2 reference attribute failures" in text


def add_members(ops, ns):
    ops.api("source").batch([{"method": "POST", "url": f"/groups/{GROUP}/members/$ref",
                              "headers": {"Content-Type": "application/json"},
                              "body": {"@odata.id": f"https://graph.microsoft.com/v1.0/directoryObjects/{uid(n)}"}}
                             for n in ns])


def test_failures_of_several_cycles_add_up_to_quarantine(ops, monkeypatch):
    # The documented rule needs 5,000 failures; scaled down so that a few failed creates trip it.
    monkeypatch.setattr(guard, "ESCROW_EVALUATION_MIN", 5)
    fixture = world(14)
    fixture["tenants"][0]["groups"] = [{"id": GROUP, "displayName": "CTS - ops",
                                        "members": [uid(n) for n in range(1, 7)]}]
    ops.load(fixture)
    assert ops.sync().counts["create"] == 6
    ops.api("target").request("PATCH", "/policies/authorizationPolicy", {"allowInvitesFrom": "none"})

    add_members(ops, range(7, 11))
    second = ops.sync()                        # 4 failed creates: under the minimum of 5
    assert second.counts["failure"] == 4 and ops.store.job(ops.cfg.name).code == "Active"

    add_members(ops, range(11, 15))
    third = ops.sync()                         # 4 more: this cycle alone is under the minimum too,
    assert third.counts["failure"] == 4        # but the job holds 8 escrows of 14 users (57 %)
    job = ops.store.job(ops.cfg.name)
    assert job.code == "Quarantine" and job.quarantine.reason == SHARE
    assert "8 objects in escrow over the job's cycles, of 14" in job.quarantine.error["message"]
    assert len(ops.synced()) == 6

    # invitations allowed again: a restart clears the counter, retries everything and releases
    ops.api("target").request("PATCH", "/policies/authorizationPolicy", {"allowInvitesFrom": "everyone"})
    again = ops.sync(restart=True)
    assert again.counts["create"] == 8 and ops.store.job(ops.cfg.name).code == "Active"
    assert len(ops.synced()) == 14 and ops.store.count_escrows(ops.cfg.name) == 0
