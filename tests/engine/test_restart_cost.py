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
