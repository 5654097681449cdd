"""The adaptive write limiter: its arithmetic, and its behaviour against the emulator's budget."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from tenantsync.graph import GraphApi, LimiterSettings, WriteLimiter


def send(limiter: WriteLimiter, times: int, writes: int = 20) -> list[float]:
    async def go() -> list[float]:
        out = []
        for _ in range(times):
            out.append(await limiter.acquire(writes))
            limiter.release()
        return out
    return asyncio.run(go())


def test_unlimited_until_the_first_429():
    limiter = WriteLimiter()
    started = time.monotonic()
    send(limiter, 50)
    assert limiter.rate is None and time.monotonic() - started < 0.5


def test_a_429_cuts_to_beta_times_the_accepted_share_of_the_actual_rate():
    limiter = WriteLimiter(LimiterSettings(start_rate=2000))
    sent = send(limiter, 12)                   # paced at 2000 writes/s after one batch of burst
    limiter.record(sent_at=sent[-1], accepted=5, throttled=15)
    # R ≈ 2000 × 5/20 = 500, rate = 0.9 × R (the actual rate may lag the nominal one a little)
    assert limiter.state.cuts == 1
    assert 350 <= limiter.state.estimate <= 520
    assert limiter.rate == pytest.approx(0.9 * limiter.state.estimate)
    assert limiter.state.confident


def test_late_answers_of_the_same_epoch_refine_and_new_ones_cut_again():
    limiter = WriteLimiter(LimiterSettings(start_rate=2000))
    sent = send(limiter, 6)
    limiter.record(sent_at=sent[-1], accepted=2, throttled=18)
    first = limiter.state.estimate
    limiter.record(sent_at=sent[-2], accepted=8, throttled=12)     # was in flight at the cut
    assert limiter.state.cuts == 1 and limiter.state.estimate > first
    limiter.record(sent_at=sent[-3], accepted=20, throttled=0)     # no 429: no sample
    assert limiter.state.cuts == 1
    later = send(limiter, 1)
    limiter.record(sent_at=later[0], accepted=19, throttled=1)
    assert limiter.state.cuts == 2


def test_a_whole_request_429_halves_and_holds_every_write():
    limiter = WriteLimiter(LimiterSettings(start_rate=100))
    sent = send(limiter, 1)
    limiter.record(sent_at=sent[0], accepted=0, throttled=1, retry_after=0.3, whole_request=True)
    assert limiter.rate == pytest.approx(50)
    started = time.monotonic()
    send(limiter, 1, writes=1)
    assert time.monotonic() - started >= 0.3


def test_the_first_429_after_the_unlimited_start_halves_until_in_flight_answers_land():
    limiter = WriteLimiter()
    sent = send(limiter, 10)
    limiter.record(sent_at=sent[-1], accepted=15, throttled=5)    # spent the rest of the bucket
    halved = limiter.rate
    assert halved is not None and not limiter.state.confident
    limiter.record(sent_at=sent[-2], accepted=1, throttled=19)
    assert limiter.rate < halved


EmulatorServer = pytest.importorskip("tenantsync.emulator.server").EmulatorServer


def test_bulk_writes_stay_under_the_emulated_write_budget(monkeypatch):
    """3,000 writes / 150 s per app+tenant, time-scaled ×20: a bucket of 3,000 refilled at
    400/s. Loose bounds: the machine is shared (benchmarks measure the real figures)."""
    tenant = "55555555-5555-4555-8555-555555555555"
    users = [{"id": str(uuid.UUID(int=i + 1)), "userPrincipalName": f"u{i}@contoso.com",
              "displayName": f"U{i}", "accountEnabled": True} for i in range(600)]
    fixture = {"tenants": [{"id": tenant, "displayName": "T", "defaultDomain": "t.onmicrosoft.com",
                            "tokens": ["quota-token"], "users": users, "groups": []}]}
    monkeypatch.setenv("QUOTA_TOKEN", "quota-token")
    n = 4000
    conn = {"name": "q", "tenant_id": tenant, "graph_url": "",
            "auth": {"kind": "static_token", "token_env": "QUOTA_TOKEN"}}
    with EmulatorServer(fixture, throttle="graph", time_scale=20) as emu, \
            GraphApi({**conn, "graph_url": emu.url}) as api:
        results = api.batch([{"method": "PATCH", "url": f"/users/{users[i % 600]['id']}",
                              "body": {"jobTitle": f"t{i}"}} for i in range(n)])
        stats = emu.stats()
        rate = api.limiter.rate
    assert [r["status"] for r in results] == [204] * n
    assert stats["throttled"] < 0.03 * n                    # measured: ~0.2-0.4 %
    if stats["throttled"]:            # (a starved CPU may never outrun the budget)
        assert rate is not None and 200 <= rate <= 800       # it learned R = 400/s
