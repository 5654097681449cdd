"""A cycle killed at any point, or run through a faulty network, converges without duplicates."""

from __future__ import annotations

import pytest

from tenantsync.connectors.entra_target import EntraTarget
from tenantsync.cycle import Cycle
from tenantsync.store import Store

from .conftest import GROUP, World, uid

SHAPE = ("userPrincipalName", "displayName", "userType", "accountEnabled", "jobTitle", "mail")


def target_shape(w: World) -> dict[str, tuple]:
    users = w.b2b()
    return {sid: tuple(u.get(k) for k in SHAPE) for sid, u in users.items()}


def b2b_count(w: World) -> int:
    return sum(1 for u in w.target()["users"] if "#EXT#" in u["userPrincipalName"])


class Crash(Exception):
    pass


@pytest.fixture
def reference(env, tmp_path):
    """The target state an uninterrupted initial + incremental run produces."""
    ref = World(env, f"sqlite:///{tmp_path}/ref.db")
    ref.sync()
    changes(ref)
    ref.sync()
    shape = target_shape(ref)
    ref.close()
    env.reset(__import__("tests.engine.conftest", fromlist=["world"]).world())
    return shape


def changes(w: World) -> None:
    w.src_api.request("PATCH", f"/users/{uid(2)}", {"displayName": "Renamed"})
    w.src_api.request("DELETE", f"/groups/{GROUP}/members/{uid(4)}/$ref")


def crash_on_call(monkeypatch, owner, name, n):
    original = getattr(owner, name)
    calls = {"n": 0}

    def wrapper(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == n:
            raise Crash(f"killed in {name} call {n}")
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, wrapper)


@pytest.mark.parametrize("owner,name,n", [
    (EntraTarget, "_send", 1),          # after the invitations, before their PATCH
    (Cycle, "apply", 2),                # after the first batch of writes
    (Store, "save_watermarks", 1),      # everything applied, watermark not yet saved
    (Store, "append_log", 1),           # applied, nothing logged yet
])
def test_killed_cycle_converges_to_the_uninterrupted_state(w, reference, monkeypatch, owner, name, n):
    w.cfg = w.cfg.model_copy(update={"settings": w.cfg.settings.model_copy(update={"batch_size": 3})})
    with monkeypatch.context() as m:
        crash_on_call(m, owner, name, n)
        with pytest.raises(Crash):
            w.sync()
    w.sync()
    changes(w)
    with monkeypatch.context() as m:
        crash_on_call(m, owner, name, n)
        try:
            w.sync()
        except Crash:
            pass
    w.sync()
    assert target_shape(w) == reference
    assert b2b_count(w) == len(reference)


def test_cycle_through_ten_percent_faults_converges(w, reference):
    w.emulator.set_faults("rate=0.1,codes=429:503:drop,seed=11")
    try:
        w.sync()
        changes(w)
        w.sync()
    finally:
        w.emulator.set_faults("")
    assert target_shape(w) == reference
    assert b2b_count(w) == len(reference)
