"""One target, one budget: configurations writing into one hub with one application share its write
budget fairly (bench/scale_out.py, flows/_budget.py, tenantsync/graph/shared_budget.py).

The small scenario spends the hub's full write bucket and the shared one first (the buckets start
full: 3,000 writes would never meet the budget), then runs three configurations' initial cycles at
once (threads of this process, to keep it short; the benchmark gives each its own process), under
the `graph` throttle profile time-scaled by 20. Without the shared bucket the same run gave shares 31 / 40 / 29 % and
1.9 % 429s."""

from __future__ import annotations

import threading
import time

import pytest

from bench import scale_out
from flows import _budget
from tenantsync.graph import shared_budget
from tenantsync.graph.api import GraphApi
from tenantsync.graph.shared_budget import SqlBudget, application_of, budget_key

HUB = "11111111-1111-4111-8111-111111111111"
OTHER = "22222222-2222-4222-8222-222222222222"


def test_three_configurations_into_one_hub_share_its_budget_and_none_starves(tmp_path):
    lines: list[str] = []
    r = scale_out.scenario([500] * 3, scale=20.0, workdir=tmp_path, seed="small", groups=2,
                           budget="sql", drain=True, inline=True, log=lines.append)
    for c in r["configs"]:                        # every user of every region is in the hub
        assert c["failures"] == 0 and c["created"] >= 480, c
    assert r["common_window_s"] > 1.0 and len(r["shares"]) == 3
    assert min(r["shares"]) > 0.8 / 3, r["shares"]          # nobody starves
    assert scale_out.spread(r["shares"]) <= scale_out.GOAL_SHARE_SPREAD, r["shares"]
    assert r["share_429"] < 0.01
    text = "\n".join(t for _, t in scale_out.goals(r))
    assert "every configuration's share within 25 % of the others'" in text and "429 share" in text


@pytest.fixture
def sql_budget_env(tmp_path, monkeypatch):
    monkeypatch.setenv(_budget.URL_ENV, f"sqlite:///{tmp_path / 'budget.db'}")
    monkeypatch.setenv("HUB_TOKEN", "hub-token")
    monkeypatch.setenv("OTHER_TOKEN", "other-token")
    _budget.install()
    yield
    shared_budget.install(None)


def _connection(name: str, tenant: str, token_env: str = "HUB_TOKEN") -> dict:
    return {"name": name, "tenant_id": tenant, "graph_url": "http://127.0.0.1:9/v1.0",
            "auth": {"kind": "static_token", "token_env": token_env}}


def _waits(api: GraphApi, writes: int = 20) -> float:
    gate = api.limiter.gate
    assert gate is not None
    t = time.monotonic()
    gate(writes)
    return time.monotonic() - t


def test_clients_of_one_target_and_application_share_one_budget_other_targets_do_not(sql_budget_env):
    # Two configurations' target clients: same hub, same application (token), other names.
    a = GraphApi(_connection("hq", HUB))
    b = GraphApi(_connection("target", HUB))
    other_tenant = GraphApi(_connection("hq", OTHER))
    other_app = GraphApi(_connection("hq", HUB, token_env="OTHER_TOKEN"))
    dry = GraphApi(_connection("hq", HUB), read_only=True)
    try:
        assert _waits(a, _budget.WRITES) < 0.5            # the bucket starts full: 3,000 at once
        assert _waits(b) > 0.5                            # ... and b's writes come out of the same one
        assert _waits(other_tenant, _budget.WRITES) < 0.5  # another tenant: its own budget
        assert _waits(other_app, _budget.WRITES) < 0.5     # another application: its own
        assert dry.limiter.gate is None                   # a dry run writes nothing
    finally:
        for api in (a, b, other_tenant, other_app, dry):
            api.close()
    assert application_of(a.connection) == "env-HUB_TOKEN"
    assert budget_key(HUB, "env-HUB_TOKEN") != budget_key(OTHER, "env-HUB_TOKEN")


def test_no_shared_gate_without_a_budget_url(monkeypatch):
    monkeypatch.delenv(_budget.URL_ENV, raising=False)
    monkeypatch.setenv("HUB_TOKEN", "hub-token")
    _budget.install()
    try:
        api = GraphApi(_connection("hq", HUB))
        assert api.limiter.gate is None
        api.close()
    finally:
        shared_budget.install(None)


def test_sql_budget_serves_writers_first_come_first_served(tmp_path):
    now = [1000.0]
    lock = threading.Lock()
    budget = SqlBudget(f"sqlite:///{tmp_path / 'b.db'}", per_second=20.0, burst=100.0,
                       clock=lambda: now[0])
    slots = {w: [] for w in "xyz"}
    for _ in range(30):                     # three writers asking alike, in turn
        for w in "xyz":
            with lock:
                slots[w].append(budget.reserve("k", 20))
    # 100 at once (the burst), then one 20-write batch per second, in order of asking
    flat = sorted(t for ts in slots.values() for t in ts)
    assert flat[4] <= now[0] < flat[5]
    assert flat[-1] == pytest.approx(now[0] + (90 * 20 - 100) / 20.0)
    done_by = {w: sum(1 for t in ts if t <= now[0] + 30) for w, ts in slots.items()}
    assert max(done_by.values()) - min(done_by.values()) <= 1


def test_prefect_budget_is_one_rate_limit_per_target_and_application(tmp_path, monkeypatch):
    """TENANTSYNC_BUDGET_URL=prefect (the measured alternative): one global concurrency limit per
    (target, application) on the Prefect server, shared by the clients of both configurations."""
    from prefect.client.orchestration import get_client

    monkeypatch.setenv(_budget.URL_ENV, "prefect")
    monkeypatch.setenv("HUB_TOKEN", "hub-token")
    _budget.ensure_limit.cache_clear()
    _budget.install()
    apis = [GraphApi(_connection("hq", HUB)), GraphApi(_connection("target", HUB)),
            GraphApi(_connection("hq", OTHER))]
    try:
        assert _waits(apis[0], _budget.WRITES) < 5.0      # the limit starts with its 3,000 slots free
        assert _waits(apis[1]) > 0.5                      # the other configuration's client waits
        with get_client(sync_client=True) as client:
            limits = {lim.name: lim for lim in client.read_global_concurrency_limits(limit=200)}
        hub, other = budget_key(HUB, "env-HUB_TOKEN"), budget_key(OTHER, "env-HUB_TOKEN")
        assert hub in limits and other in limits          # one per target, not one per client
        assert limits[hub].limit == _budget.WRITES
        assert limits[hub].slot_decay_per_second == pytest.approx(_budget.per_second())
    finally:
        for api in apis:
            api.close()
        shared_budget.install(None)
