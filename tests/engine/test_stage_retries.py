"""A stage run again after a transient Graph failure, the way a Prefect task retry runs it
(pipeline.py, tasks/stages.py): nothing recorded twice, nothing written twice.

The emulator answers every call 500 while its faults are on, so a whole $batch is refused; the
Graph clients here do not retry themselves (max_retries=0), as if their own retries were spent.
- A batch refused before the last attempt comes back as a retryable error; run again, every user
  is invited once and logged once, in one cycle record -- also when the invitations went through
  and only the PATCHes that follow them were refused.
- Without retries (run_cycle), the refused writes are failures in the log, escrowed for a later
  cycle, and the cycle goes on to its end.
- begin run again after its memberships read failed keeps the one cycle record it opened; without
  a retry, that failure is the cycle's, recorded as such.
- A page planned again after its target lookup failed is logged and counted once.
"""

from __future__ import annotations

from collections import Counter

import pytest

from tenantsync import pipeline
from tenantsync.cycle import CycleOptions, entra_cycle
from tenantsync.cycle_apply import BatchRefused
from tenantsync.errors import GraphError
from tenantsync.graph.api import GraphApi

from .conftest import uid

FAULT = "rate=1,codes=500"     # every Graph call answered 500 while on
ATTEMPTS = 3                   # tasks/retry.py: a first run and two retries
IN_SCOPE = 10                  # conftest's world: the users the engine provisions or matches


@pytest.fixture
def apis(w):
    """Graph clients that give up at the first refusal (their own retries spent)."""
    made = {"source": GraphApi(w.cfg.connection("emea"), max_retries=0),
            "target": GraphApi(w.cfg.connection("hq"), max_retries=0)}
    yield made
    for api in made.values():
        api.close()
    w.emulator.set_faults("")


def open_cycle(w, apis):
    cycle = entra_cycle(w.cfg, source_api=apis["source"], target_api=apis["target"], store=w.store,
                        options=CycleOptions())
    cycle.target.sleep = lambda seconds: None      # the target's own rounds: no need to wait here
    return cycle


class Retried:
    """A stage called as a Prefect task with retries calls it: again after a retryable
    GraphError, ``final`` on the last attempt; the emulator's faults are on for the first ones."""

    def __init__(self, w, call, *, faulted: int = 1):
        self.w, self.call, self.faulted, self.errors = w, call, faulted, []

    def __call__(self, stages, *args):
        for attempt in range(1, ATTEMPTS + 1):
            self.w.emulator.set_faults(FAULT if attempt <= self.faulted else "")
            try:
                return self.call(stages, *args, final=attempt == ATTEMPTS)
            except GraphError as exc:
                self.errors.append(exc)
                if not exc.retryable or attempt == ATTEMPTS:
                    raise
            finally:
                self.w.emulator.set_faults("")
        raise AssertionError("unreachable")


def rows_per_user(w, cycle_id):
    return Counter(r["sourceIdentity.id"] for r in w.store.log(w.cfg.name, cycle_id)
                   if r["sourceIdentity.id"].startswith("00000000-"))


def anchored(w):
    anchor = w.cfg.settings.anchor_attribute
    return [u for u in w.target()["users"] if "#EXT#" in u["userPrincipalName"] and u.get(anchor)]


def test_a_refused_batch_run_again_writes_and_logs_each_user_once(w, apis):
    apply = Retried(w, lambda s, batch, n, final: s.apply(batch, final=final))
    report = pipeline.drive(open_cycle(w, apis), pipeline.Steps(apply=apply))
    assert apply.errors and all(isinstance(e, BatchRefused) for e in apply.errors)     # a retry fired
    assert report.counts["failure"] == 0 and report.counts["create"] > 0
    assert len(anchored(w)) == IN_SCOPE
    invited = [i["invitedUserEmailAddress"] for i in w.target().get("invitations", [])]
    assert len(invited) == len(set(invited)) == report.counts["create"]                # nobody invited twice
    per_user = rows_per_user(w, report.cycle_id)
    assert len(per_user) >= IN_SCOPE and set(per_user.values()) == {1}
    assert [c["status"] for c in w.store.cycles(w.cfg.name)] == ["success"]
    assert w.store.count_escrows(w.cfg.name) == 0


def test_users_invited_before_the_outage_are_not_invited_again_and_keep_one_create_row(w, apis):
    cycle = open_cycle(w, apis)
    apply = Retried(w, lambda s, batch, n, final: s.apply(batch, final=final), faulted=0)
    recorded = cycle.target.on_invited

    def invited_then_outage(created):
        recorded(created)                   # the create rows and pending links (recovery.py)
        if not apply.errors:                # the first attempt: the PATCHes that follow meet the outage
            w.emulator.set_faults(FAULT)

    cycle.target.on_invited = invited_then_outage
    report = pipeline.drive(cycle, pipeline.Steps(apply=apply))
    assert len(apply.errors) == 1 and isinstance(apply.errors[0], BatchRefused)
    assert report.counts["failure"] == 0 and len(anchored(w)) == IN_SCOPE
    invited = [i["invitedUserEmailAddress"] for i in w.target().get("invitations", [])]
    assert len(invited) == len(set(invited)) == report.counts["create"]
    creates = [r for r in w.store.log(w.cfg.name, report.cycle_id, action="create")]
    assert len(creates) == report.counts["create"] and {r["status"] for r in creates} == {"success"}
    assert set(rows_per_user(w, report.cycle_id).values()) == {1}
    assert {link.state for link in w.store.links(w.cfg.name).values()} == {"active"}


def test_without_retries_refused_writes_are_logged_failures_and_escrowed(w, apis, monkeypatch):
    cycle = open_cycle(w, apis)
    original = type(cycle).apply

    def faulted(self, batch, **kw):
        w.emulator.set_faults(FAULT)
        try:
            return original(self, batch, **kw)
        finally:
            w.emulator.set_faults("")

    with monkeypatch.context() as m:
        m.setattr(type(cycle), "apply", faulted)
        first = pipeline.drive(cycle)
    writes = first.counts["create"] + first.counts["update"]
    assert first.counts["failure"] == writes > 0 and not anchored(w)
    per_user = rows_per_user(w, first.cycle_id)
    assert set(per_user.values()) == {1}
    assert [c["status"] for c in w.store.cycles(w.cfg.name)] == ["failure"]       # closed by its counts
    assert w.store.count_escrows(w.cfg.name) == writes          # retried by a later cycle, when due


def test_begin_run_again_keeps_its_one_cycle_record(w, apis, monkeypatch):
    from tenantsync import cycle_begin

    reads = {"n": 0}
    original = cycle_begin.read_memberships

    def counted(cycle):
        reads["n"] += 1
        return original(cycle)

    monkeypatch.setattr(cycle_begin, "read_memberships", counted)
    begin = Retried(w, lambda s, final: s.begin())
    report = pipeline.drive(open_cycle(w, apis), pipeline.Steps(begin=begin))
    assert len(begin.errors) == 1 and begin.errors[0].status == 500 and reads["n"] == 2
    cycles = w.store.cycles(w.cfg.name)
    assert [(c["cycleId"], c["kind"], c["status"]) for c in cycles] == [(report.cycle_id, "initial", "success")]
    assert len(anchored(w)) == IN_SCOPE


def test_begin_failing_without_a_retry_is_a_failed_cycle(w, apis):
    begin = Retried(w, lambda s, final: s.begin(), faulted=ATTEMPTS)
    with pytest.raises(GraphError) as failed:
        pipeline.drive(open_cycle(w, apis), pipeline.Steps(begin=begin))
    assert failed.value.status == 500 and len(begin.errors) == ATTEMPTS
    cycles = w.store.cycles(w.cfg.name)
    assert len(cycles) == 1 and cycles[0]["status"] == "failure" and "Graph 500" in cycles[0]["error"]
    assert w.sync().counts["failure"] == 0 and len(anchored(w)) == IN_SCOPE


def test_a_page_planned_again_is_logged_and_counted_once(w, apis):
    w.sync()
    w.src_api.request("PATCH", f"/users/{uid(2)}", {"displayName": "Renamed Twice"})
    cycle = open_cycle(w, apis)
    plan = Retried(w, lambda s, page, n, final: s.plan_page(page))
    report = pipeline.drive(cycle, pipeline.Steps(plan_page=plan))
    assert plan.errors and report.kind == "incremental"
    assert report.counts["update"] == 1 and report.counts["failure"] == 0
    assert rows_per_user(w, report.cycle_id) == {uid(2): 1}
    assert cycle.in_scope == 1
    assert [u["displayName"] for u in w.target()["users"] if u.get(w.cfg.settings.anchor_attribute, "")
            .endswith(uid(2))] == ["Renamed Twice"]
