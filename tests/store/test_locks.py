"""The configuration lock (tenantsync/store/locks.py) on SQLite and PostgreSQL: atomic, renewed by
its holder, freed by a dead holder at once (same host) or at lease expiry (another host)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import update

from tenantsync.store import locks
from tenantsync.store.locks import HOST, LockBusy, force_release, hold, holder, me, try_acquire
from tenantsync.store.sql import utcnow

OTHER = "worker-2.example/4242/99"          # a holder on another host


def _age(engine, config: str, seconds: float) -> None:
    """Move the lease's expiry (what the holder's heartbeat would have done, or not)."""
    with engine.begin() as conn:
        conn.execute(update(locks.locks).where(locks.locks.c.config == config)
                     .values(expires=utcnow() + timedelta(seconds=seconds)))


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_free_lock_is_taken_and_a_live_holder_on_another_host_refuses(store):
    e = store.writer
    assert try_acquire(e, "emea-to-hq", "sync cycle") is None
    found = holder(e, "emea-to-hq")
    assert (found.host, found.pid) == (HOST, os.getpid()) and found.holder.startswith(me() + "/")
    # another host asks: refused, told who holds it
    other = try_acquire(e, "emea-to-hq", "sync cycle", who=OTHER)
    assert other is not None and other.pid == os.getpid()
    assert f"on host {HOST} pid {os.getpid()} since" in other.describe()
    # another configuration is independent
    assert try_acquire(e, "apac-to-hq", who=OTHER) is None


def test_other_hosts_lease_holds_until_it_expires(store):
    e = store.writer
    assert try_acquire(e, "emea-to-hq", who=OTHER) is None
    assert try_acquire(e, "emea-to-hq").holder == OTHER          # lease valid: alive
    _age(e, "emea-to-hq", -1)                                     # not renewed for a lease
    assert try_acquire(e, "emea-to-hq") is None
    assert holder(e, "emea-to-hq").holder.startswith(me() + "/")


def test_same_host_holder_whose_process_is_gone_frees_it_at_once(store):
    e = store.writer
    dead = f"{HOST}/{_dead_pid()}/1"
    assert try_acquire(e, "emea-to-hq", who=dead) is None
    _age(e, "emea-to-hq", 3600)                                   # lease far from expiry
    assert try_acquire(e, "emea-to-hq") is None                   # taken over all the same
    assert holder(e, "emea-to-hq").holder.startswith(me() + "/")


def test_same_host_live_process_holds_even_with_an_expired_lease(store):
    e = store.writer
    parent = os.getppid()
    live = f"{HOST}/{parent}/{locks._start_ticks(parent)}"
    assert try_acquire(e, "emea-to-hq", who=live) is None
    _age(e, "emea-to-hq", -600)
    assert try_acquire(e, "emea-to-hq").holder == live
    # a reused pid (other start time) is not the holder
    _age(e, "emea-to-hq", 60)
    with store.writer.begin() as conn:
        conn.execute(update(locks.locks).values(holder=f"{HOST}/{parent}/1"))
    assert try_acquire(e, "emea-to-hq") is None


def test_contenders_never_both_win(store):
    e = store.writer
    assert try_acquire(e, "emea-to-hq", who=f"{HOST}/{_dead_pid()}/1") is None   # a stale holder
    wins: list[str] = []
    barrier = threading.Barrier(6)

    def contend(i: int) -> None:
        who = f"host-{i}.example/{100 + i}/7"
        barrier.wait()
        if try_acquire(e, "emea-to-hq", who=who) is None:
            wins.append(who)

    threads = [threading.Thread(target=contend, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1 and holder(e, "emea-to-hq").holder == wins[0]


def test_hold_waits_then_names_the_holder(store):
    e = store.writer
    try_acquire(e, "emea-to-hq", "paused for deletion approval", who=OTHER)
    started = time.monotonic()
    with pytest.raises(LockBusy) as caught:
        with hold(e, "emea-to-hq", wait_s=0.6, poll_s=0.1):
            pytest.fail("the body must not run")
    assert time.monotonic() - started >= 0.5
    assert str(caught.value).startswith("another cycle of emea-to-hq is running on host worker-2.example "
                                        "pid 4242 since ")
    assert "(paused for deletion approval); waited 1 s" in str(caught.value)


def test_hold_renews_and_releases(store, monkeypatch):
    e = store.writer
    monkeypatch.setattr(locks, "RENEW_S", 0.1)
    with hold(e, "emea-to-hq") as lease:
        first = holder(e, "emea-to-hq").expires
        time.sleep(0.5)
        assert holder(e, "emea-to-hq").expires > first             # the heartbeat renewed it
        lease.note("paused for deletion approval")
        assert holder(e, "emea-to-hq").what == "paused for deletion approval"
        # another run in this same process (a thread) is another holder: it waits, then is refused
        refused: list[BaseException] = []

        def second() -> None:
            try:
                with hold(e, "emea-to-hq", wait_s=0.3, poll_s=0.1):
                    pass
            except LockBusy as exc:
                refused.append(exc)

        t = threading.Thread(target=second)
        t.start()
        t.join()
        assert refused and f"pid {os.getpid()}" in str(refused[0])
        assert "(paused for deletion approval)" in str(refused[0])
        assert holder(e, "emea-to-hq").holder == lease.who           # still the first one's
    assert holder(e, "emea-to-hq") is None


def test_hold_takes_over_when_the_holder_dies_while_waiting(store):
    e = store.writer
    p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert try_acquire(e, "emea-to-hq", who=f"{HOST}/{p.pid}/{locks._start_ticks(p.pid)}") is None
        threading.Timer(0.4, p.kill).start()
        with hold(e, "emea-to-hq", wait_s=20, poll_s=0.1):
            assert holder(e, "emea-to-hq").holder.startswith(me() + "/")
    finally:
        p.kill()
        p.wait()


def test_force_release_refuses_a_live_holder_and_frees_a_dead_one(store):
    e = store.writer
    assert force_release(e, "emea-to-hq") is None                   # not locked
    try_acquire(e, "emea-to-hq", who=OTHER)
    with pytest.raises(LockBusy, match="worker-2.example pid 4242 .*its lease is renewed"):
        force_release(e, "emea-to-hq")
    assert holder(e, "emea-to-hq").holder == OTHER
    _age(e, "emea-to-hq", -1)
    assert force_release(e, "emea-to-hq").holder == OTHER
    assert holder(e, "emea-to-hq") is None
