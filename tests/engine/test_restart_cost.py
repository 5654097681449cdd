"""What a restart over a tenant in step costs (README "Where the time goes"): the mappings evaluated
once per user, no snapshot written again, and still one provisioning-log row per object."""

from __future__ import annotations

from collections import Counter

from tenantsync.stages.mapping import MappingPlan
from tenantsync.store import Store

from .conftest import uid


def test_restart_in_step_writes_no_snapshot_and_logs_every_object(w, monkeypatch):
    first = w.sync()
    assert first.counts["create"] == 9
    before = w.store.snapshots(w.cfg.name)
    written: list[int] = []
    save = Store.save_snapshots

    def counted(self, config, users):
        written.append(save(self, config, users))
        return written[-1]

    monkeypatch.setattr(Store, "save_snapshots", counted)
    report = w.sync(restart=True)
    assert report.kind == "initial" and report.counts["create"] == 0 and report.counts["update"] == 0
    assert written and sum(written) == 0
    assert w.store.snapshots(w.cfg.name) == before
    rows = w.store.log(w.cfg.name, report.cycle_id)
    users = [r for r in rows if r["sourceIdentity.id"]]
    # auditors see every object (docs/contracts.md): one row per source user, with its steps
    assert sorted(r["sourceIdentity.id"] for r in users) == sorted(before)
    in_step = [r for r in users if r["errorCode"] == "RedundantExport"]
    assert len(in_step) == 10          # the 9 created and user 10, invited by hand and matched by mail
    assert [s["name"] for s in in_step[0]["provisioningSteps"]] == [
        "EntryImport", "EntrySynchronizationScoping", "EntryImportMatching", "EntrySynchronizationSkip"]
    assert len({r["id"] for r in rows}) == len(rows) and len({r["changeId"] for r in rows}) == len(rows)


def test_a_matched_users_mappings_are_evaluated_once_per_cycle(w, monkeypatch):
    w.sync()
    w.src_api.request("PATCH", f"/users/{uid(2)}", {"department": "Ops"})
    calls: Counter[str] = Counter()
    original = MappingPlan.map_user

    def counted(self, user, *, creating):
        calls[user["id"]] += 1
        return original(self, user, creating=creating)

    monkeypatch.setattr(MappingPlan, "map_user", counted)
    report = w.sync(restart=True)
    assert report.counts["update"] == 1
    assert w.b2b()[uid(2)]["jobTitle"] == "Engineer - Ops"
    assert calls and max(calls.values()) == 1


def test_a_full_read_drops_the_snapshots_of_users_the_source_no_longer_has(w):
    w.sync()
    assert uid(3) in w.store.snapshots(w.cfg.name)
    w.src_api.request("DELETE", f"/users/{uid(3)}")
    w.sync(restart=True)
    snapshots = w.store.snapshots(w.cfg.name)
    assert uid(3) not in snapshots and uid(4) in snapshots


def test_log_rows_are_one_per_action_with_their_own_ids_and_the_documented_steps():
    from uuid import UUID

    from tenantsync.model import Action, Step
    from tenantsync.records import export_step, log_rows, new_ids

    ids = new_ids(1000)
    assert len(set(ids)) == 1000
    assert all(UUID(i).version == 4 and str(UUID(i)) == i for i in ids)
    skip = dict(kind="other", status="skipped", error_code="RedundantExport",
                reason="The state of the user in both the source and target systems already match.")
    actions = [Action(source_id=f"s{i}", target_id=f"t{i}", display_name=f"User {i}",
                      steps=[Step("EntryImport", "import", "success", f"Retrieved User 'u{i}'.", {})], **skip)
               for i in range(3)]
    actions.append(Action("other", "s9", None, reason="Out of scope.", status="skipped",
                          error_code="NotEffectivelyEntitled"))
    rows = log_rows(actions, job_id="j", cycle_id="c")
    assert [r["sourceIdentity.id"] for r in rows] == ["s0", "s1", "s2", "s9"]
    assert len({r["id"] for r in rows} | {r["changeId"] for r in rows}) == 8
    for a, r in zip(actions, rows):
        assert r["provisioningSteps"] == [s.as_dict() for s in a.steps] + [export_step(a).as_dict()]
        assert r["modifiedProperties"] == []


def test_stages_raise_the_collectors_young_threshold_and_put_it_back():
    import gc
    import threading

    from tenantsync.cycle import YOUNG, fewer_collections

    before = gc.get_threshold()
    with fewer_collections():
        assert gc.get_threshold()[0] == max(before[0], YOUNG)
        inner_done = threading.Event()

        def other_stage():                         # a concurrent stage (another Prefect task)
            with fewer_collections():
                pass
            inner_done.set()

        threading.Thread(target=other_stage).start()
        assert inner_done.wait(5)
        assert gc.get_threshold()[0] == max(before[0], YOUNG)   # the other one did not put it back
    assert gc.get_threshold() == before
    try:
        with fewer_collections():
            raise RuntimeError("a stage failed")
    except RuntimeError:
        pass
    assert gc.get_threshold() == before
