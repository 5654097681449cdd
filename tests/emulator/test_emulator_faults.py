"""Fault injection: seeded, reproducible, /v1.0 only."""

from __future__ import annotations

import httpx
import pytest

from tenantsync.emulator.faults import Faults, parse_spec

from .emulator_world import CONTOSO_TOKEN

SPEC = "rate=0.3,codes=429:503:504:drop,latency_ms=1,seed=7"


def _outcomes(emu, n: int = 80) -> list:
    out: list = []
    with httpx.Client(base_url=emu.url, timeout=10,
                      headers={"Authorization": f"Bearer {CONTOSO_TOKEN}"}) as c:
        for _ in range(n):
            try:
                r = c.get("/users", params={"$top": "1", "$select": "id"})
            except httpx.TransportError:
                out.append("drop")
                continue
            if r.status_code == 429:
                assert r.headers["Retry-After"] == "1"
            if r.status_code != 200:
                assert r.json()["error"]["code"] in ("TooManyRequests", "ServiceUnavailable",
                                                     "GatewayTimeout")
            out.append(r.status_code)
    return out


def test_faults_are_reproducible_with_a_seed(emu):
    emu.set_faults(SPEC)
    first = _outcomes(emu)
    emu.set_faults(SPEC)                     # same seed: the same sequence again
    second = _outcomes(emu)
    assert first == second
    assert {200, 429, 503, 504, "drop"} <= set(first)
    assert 10 <= sum(1 for x in first if x != 200) <= 40
    stats = emu.stats()
    assert stats["faults"]["drop"] == 2 * first.count("drop")
    emu.set_faults("rate=0.3,codes=503,seed=8")
    assert set(_outcomes(emu, 30)) == {200, 503}


def test_control_api_is_never_faulted(emu):
    emu.set_faults("rate=1,codes=503:drop,seed=1")
    assert emu.stats()["total_requests"] == 0
    assert emu.dump("11111111-1111-4111-8111-111111111111")["users"]
    emu.set_faults("")
    assert _outcomes(emu, 5) == [200] * 5


def test_batch_items_fail_on_their_own(emu):
    emu.set_faults("rate=0.5,codes=503:drop,seed=3")
    statuses: list = []
    with httpx.Client(base_url=emu.url, headers={"Authorization": f"Bearer {CONTOSO_TOKEN}"}) as c:
        for _ in range(10):
            try:
                r = c.post("/$batch", json={"requests": [
                    {"id": str(i), "method": "GET", "url": "/users?$top=1"} for i in range(20)]})
            except httpx.TransportError:
                continue                      # the envelope itself was dropped
            if r.status_code == 200:
                statuses += [item["status"] for item in r.json()["responses"]]
    assert {200, 503, 504} <= set(statuses)   # a dropped item is a 504 inside a batch


def test_spec_as_json_or_file(tmp_path):
    assert parse_spec('{"rate": 0.2, "codes": ["503", "drop"], "seed": 1}').codes == ("503", "drop")
    path = tmp_path / "faults.txt"
    path.write_text("rate=0.5,codes=504")
    assert parse_spec(str(path)).codes == ("504",)


def test_spec_parsing():
    spec = parse_spec(SPEC)
    assert (spec.rate, spec.codes, spec.latency_ms, spec.seed) == \
        (0.3, ("429", "503", "504", "drop"), 1, 7)
    assert not parse_spec("").active and parse_spec({"rate": 0.5, "codes": [503]}).active
    for bad in ("rate=2", "codes=418", "rate", "colour=red"):
        with pytest.raises(ValueError):
            parse_spec(bad)
    a, b = Faults("rate=0.5,seed=42"), Faults("rate=0.5,seed=42")
    assert [a.draw() for _ in range(50)] == [b.draw() for _ in range(50)]
