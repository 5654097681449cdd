"""Task retries that fire: the sync flow's begin-cycle and apply-batch tasks run again after a
transient Graph failure (tasks/retry.py), and the cycle ends as if nothing had happened: one
cycle record, each user invited once, one provisioning-log row per user.

The emulator answers every call 500 while its faults are on: during the first read of the group
memberships (begin, after the cycle record is opened) and during the first attempt of the first
batch. The flow's Graph clients do not retry themselves here (max_retries=0, as if their own
retries were spent) and the tasks retry without delay, so the test takes seconds, not minutes.
"""

from __future__ import annotations

import functools
from collections import Counter

import pytest

from .flowkit import HQ, run

pytestmark = pytest.mark.usefixtures("prefect_harness")

FAULT = "rate=1,codes=500"


def task_runs_of(state) -> dict[str, object]:
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(flow_run_filter=FlowRunFilter(
            id=FlowRunFilterId(any_=[state.state_details.flow_run_id])))
    return {r.name: r for r in runs}


def test_begin_and_a_batch_failing_once_are_retried_without_duplicates(make_config, reports_dir, world,
                                                                         monkeypatch):
    import tasks.stages
    import tenantsync.service
    from flows.sync import sync_cycle
    from tenantsync import cycle_begin
    from tenantsync.config import load_config
    from tenantsync.connectors import entra_target
    from tenantsync.cycle import Cycle
    from tenantsync.graph.api import GraphApi
    from tenantsync.store import Store

    monkeypatch.setattr(tenantsync.service, "GraphApi", functools.partial(GraphApi, max_retries=0))
    monkeypatch.setattr(entra_target, "FIRST_WAIT_S", 0.0)
    for name in ("begin_cycle", "apply_batch"):
        monkeypatch.setattr(tasks.stages, name, getattr(tasks.stages, name).with_options(retry_delay_seconds=0))

    calls = Counter()

    def once_faulted(what, original):
        def call(*args, **kwargs):
            calls[what] += 1
            world.set_faults(FAULT if calls[what] == 1 else "")
            try:
                return original(*args, **kwargs)
            finally:
                world.set_faults("")
        return call

    monkeypatch.setattr(cycle_begin, "read_memberships", once_faulted("begin", cycle_begin.read_memberships))
    monkeypatch.setattr(Cycle, "apply", once_faulted("apply", Cycle.apply))

    config = make_config()
    state, result = run(sync_cycle, config=str(config), reports_dir=str(reports_dir))

    assert state.is_completed(), state.message
    runs = task_runs_of(state)
    assert runs["begin-cycle"].run_count == 2 and runs["apply-batch-1"].run_count == 2   # the retries fired
    assert calls["begin"] == 2 and calls["apply"] >= 2
    assert result["kind"] == "initial" and result["counts"]["failure"] == 0 and result["counts"]["create"] > 50

    cfg = load_config(config)
    store = Store.for_url(cfg.state_url)
    assert [c["cycleId"] for c in store.cycles(cfg.name)] == [result["cycle_id"]]       # one cycle record
    rows = Counter(r["sourceIdentity.id"] for r in store.log(cfg.name, result["cycle_id"])
                   if r["sourceIdentity.id"])
    assert rows and set(rows.values()) == {1}                                           # one row per user
    invited = [i["invitedUserEmailAddress"] for i in world.dump(HQ).get("invitations", [])]
    assert len(invited) == len(set(invited)) == result["counts"]["create"]              # invited once each
