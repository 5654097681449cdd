"""The SDK baseline (bench/baseline.py) does the engine's job: on 50 generated users against the
emulator (graph throttle profile), the initial pass gives every enabled internal member of the
source a B2B account in the target holding the values the engine's default mappings compute and
the engine's anchor; the restart pass writes nothing; an attribute edited by hand in the target is
PATCHed back, alone. Also the ✔/✘ line of the 10× CPU goal. Never timings."""

from __future__ import annotations

import pytest

from bench import baseline, baseline_report
from bench.generate import anchor_attribute, make_fixture
from bench.run import SOURCE_TOKEN, TARGET_TOKEN
from tenantsync.config import load_default_mappings
from tenantsync.emulator.server import EmulatorServer
from tenantsync.stages.mapping import MappingPlan, b2b_upn
from tenantsync.stages.scope import is_internal_member
from tenantsync.stages.writable import NOT_WRITABLE

TARGET_DOMAIN = "contosotarget.onmicrosoft.com"


@pytest.fixture(scope="module")
def world():
    fixture = make_fixture(n_users=50, n_groups=3, seed="baseline-smoke")
    with EmulatorServer(fixture, throttle="graph", time_scale=20.0) as em:
        job = {"url": em.url, "source_token": SOURCE_TOKEN, "target_token": TARGET_TOKEN,
               "source_tenant": fixture["tenants"][0]["id"], "anchor_attribute": anchor_attribute(fixture)}
        initial = baseline.run_job({**job, "label": "initial"})
        yield fixture, em, job, initial


def _accounts(em, fixture, anchor):
    users = em.dump(fixture["tenants"][1]["id"])["users"]
    return {u[anchor]: u for u in users if u.get(anchor)}


def test_initial_pass_provisions_what_the_engine_would(world):
    fixture, em, job, initial = world
    source = fixture["tenants"][0]
    wanted = [u for u in source["users"] if u["accountEnabled"] and is_internal_member(u)]
    assert 40 <= len(wanted) < 50                      # the disabled ones are left out
    assert initial["in_scope"] == initial["invited"] == len(wanted)
    assert initial["failures"] == 0 and initial["writes_sent"] == 2 * len(wanted)
    assert initial["peak_rss_mb"] > 0 and initial["cpu_s"] > 0
    anchor = job["anchor_attribute"]
    accounts = _accounts(em, fixture, anchor)
    assert set(accounts) == {f"{source['id']}/{u['id']}" for u in wanted}
    plan = MappingPlan(load_default_mappings(), upn_transform=lambda upn: b2b_upn(upn, TARGET_DOMAIN))
    for u in wanted:
        got = accounts[f"{source['id']}/{u['id']}"]
        assert got["creationType"] == "Invitation"
        desired = plan.map_user(u, creating=True).values
        expected = {k: v for k, v in desired.items() if v not in (None, "") and k not in NOT_WRITABLE}
        assert {k: got.get(k) for k in expected} == expected, u["id"]
        assert expected["userType"] == "Member" and expected["jobTitle"] and expected["city"]


def test_restart_in_step_writes_nothing_and_repairs_a_hand_edit(world):
    fixture, em, job, initial = world
    em.reset_stats()
    restart = baseline.run_job({**job, "label": "restart"})
    assert restart["target_accounts"] == restart["unchanged"] == initial["invited"]
    assert restart["writes_sent"] == restart["invited"] == restart["patched"] == 0
    stats = em.stats()
    assert stats["writes"] == 0 and stats["total_requests"] == 2   # one page of each tenant
    anchor = job["anchor_attribute"]
    key, account = next(iter(_accounts(em, fixture, anchor).items()))
    wanted = account["jobTitle"]
    em.patch_user(fixture["tenants"][1]["id"], account["id"], {"jobTitle": "Edited by hand"})
    again = baseline.run_job({**job, "label": "restart"})
    assert again["patched"] == 1 and again["writes_sent"] == 1 and again["failures"] == 0
    assert _accounts(em, fixture, anchor)[key]["jobTitle"] == wanted


def _run(n, engine_cpu, base_cpu, *, extrapolated=False):
    return {"n": n, "restart": {"derived": {"cpu_ms_per_user": engine_cpu}},
            "baseline": {"users": 20_000 if extrapolated else n, "extrapolated": extrapolated,
                         "restart": {"derived": {"cpu_ms_per_user": base_cpu}}}}


def test_cpu_goal_line():
    what = "restart of 100,000 users in step: ≥ 10× less CPU per user than the SDK baseline"
    [(ok, text)] = baseline_report.goals([_run(100_000, 0.2, 9.6)])
    assert ok is True and text == f"{what}: 0.200 ms vs 9.600 ms = 48.0× less"
    [(ok, text)] = baseline_report.goals([_run(100_000, 0.2, 1.0, extrapolated=True)])
    assert ok is False and text.endswith("= 5.0× less (baseline measured on 20,000 users)")
    [(ok, text)] = baseline_report.goals([_run(1000, 0.2, 9.6)])
    assert ok is None and "not run" in text
    no_baseline = {**_run(100_000, 0.2, 9.6), "baseline": None}
    assert baseline_report.goals([no_baseline])[0][0] is None
    assert baseline_report.table_rows([no_baseline]) == []
