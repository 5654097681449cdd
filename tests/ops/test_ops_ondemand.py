"""Provision on demand on the emulator: created, out of scope (with the failing rule), already in step."""

from __future__ import annotations

import pytest

from tenantsync.ops.ondemand import check_user_ids, provision, render_markdown, render_text, result_per_user

from .opsworld import HQ_DOMAIN, OUT_OF_SCOPE, uid


def only(report):
    [r] = result_per_user(report)
    return r


def test_user_in_scope_is_created_and_every_step_reads_like_the_portal(ops):
    report = provision(ops.cfg, [uid(1)], store=ops.store)
    assert report.kind == "on-demand" and report.counts["create"] == 1 and report.counts["failure"] == 0
    r = only(report)
    assert r["reply"] == {"result": "Success", "details": {}}
    assert r["import"]["status"] == "success" and r["import"]["changeType"] == "Add"
    assert r["import"]["attributes"]["userPrincipalName"] == "user1@emea.ops.example"
    assert r["import"]["attributes"]["department"] == "Sales"
    assert r["scoping"]["inScope"] and r["scoping"]["failingRule"] is None
    assert [x["passed"] for x in r["scoping"]["rules"]] == [True, True, True]
    assert "Scoping filter 1.department EQUALS 'Sales'" in [x["rule"] for x in r["scoping"]["rules"]]
    assert r["matching"]["found"] is False and r["matching"]["by"] is None
    assert r["action"]["action"] == "create" and r["action"]["step"]["status"] == "success"
    props = {m["name"]: (m["old"], m["new"]) for m in r["modifiedProperties"]}
    assert props["userPrincipalName"] == (None, f"user1_emea.ops.example#EXT#@{HQ_DOMAIN}")
    # the target has the user, and only that one
    synced = ops.synced()
    assert set(synced) == {uid(1)} and synced[uid(1)]["id"] == r["targetId"]
    # logged like any cycle, with cycle kind on-demand
    [cycle] = ops.store.cycles(ops.cfg.name)
    assert cycle["kind"] == "on-demand"
    [row] = ops.store.log(ops.cfg.name, report.cycle_id)
    assert row["provisioningAction"] == "create" and row["sourceIdentity.id"] == uid(1)


def test_user_out_of_scope_shows_the_failing_rule(ops):
    report = provision(ops.cfg, uid(OUT_OF_SCOPE), store=ops.store)
    r = only(report)
    assert r["reply"]["result"] == "Skipped"
    assert r["scoping"]["inScope"] is False
    assert r["scoping"]["failingRule"] == "Scoping filter 1.department EQUALS 'Sales'"
    assert r["scoping"]["skipReason"] == "NotInScope"
    assert r["action"]["action"] == "other" and report.counts["create"] == 0
    assert ops.synced() == {}
    text = render_text(report)
    assert "FAIL Scoping filter 1.department EQUALS 'Sales'" in text


def test_user_already_in_step_is_skipped_with_redundant_export(ops):
    provision(ops.cfg, [uid(2)], store=ops.store)
    report = provision(ops.cfg, [uid(2)], store=ops.store)
    r = only(report)
    assert r["action"]["action"] == "other", r
    assert r["action"]["errorCode"] == "RedundantExport"
    assert r["reply"] == {"result": "Skipped", "details": {
        "errorCode": "RedundantExport",
        "errorMessage": "The state of the user in both the source and target systems already match."}}
    assert r["matching"]["found"] and r["matching"]["by"] == "link"
    assert r["action"]["step"]["details"]["SkipReason"] == "RedundantExport"
    assert r["modifiedProperties"] == []


def test_changed_user_is_updated_with_old_and_new_values(ops):
    provision(ops.cfg, [uid(3)], store=ops.store)
    ops.api("source").request("PATCH", f"/users/{uid(3)}", {"displayName": "Renamed Three"})
    r = only(provision(ops.cfg, [uid(3)], store=ops.store))
    assert r["action"]["action"] == "update"
    assert {m["name"]: (m["old"], m["new"]) for m in r["modifiedProperties"]}["displayName"] == \
        ("Ops User3", "Renamed Three")
    again = provision(ops.cfg, [uid(3)], store=ops.store)
    assert "RedundantExport" in render_markdown(again) and "RedundantExport" in render_text(again)


def test_several_users_in_one_call_keep_their_order(ops):
    report = provision(ops.cfg, [uid(4), uid(OUT_OF_SCOPE), uid(5)], store=ops.store)
    results = result_per_user(report)
    assert [r["sourceId"] for r in results] == [uid(4), uid(OUT_OF_SCOPE), uid(5)]
    assert [r["reply"]["result"] for r in results] == ["Success", "Skipped", "Success"]
    md = render_markdown(report)
    assert md.count("## ") == 3 and "| Determine if user is in scope |" in md
    assert "| userPrincipalName | (empty) |" in md


def test_unknown_user_is_reported_not_found_and_nothing_is_deleted(ops):
    provision(ops.cfg, [uid(6)], store=ops.store)
    ops.api("source").request("DELETE", f"/users/{uid(6)}")
    report = provision(ops.cfg, [uid(6), "0a000000-0000-4000-8000-999999999999"], store=ops.store)
    assert [r["action"]["errorCode"] for r in result_per_user(report)] == ["SourceObjectNotFound"] * 2
    assert report.counts["delete"] == 0 and uid(6) in ops.synced()


def test_on_demand_does_not_lift_a_quarantine(ops):
    from tenantsync.quarantine import JobKeeper

    JobKeeper(ops.store, ops.cfg).enter_quarantine("TooManyDeletes", "staged")
    provision(ops.cfg, [uid(7)], store=ops.store)
    job = ops.store.job(ops.cfg.name)
    assert job.code == "Quarantine" and job.quarantine.reason == "TooManyDeletes"
    assert uid(7) in ops.synced()


@pytest.mark.parametrize("ids", [[], ["", " "], [uid(i) for i in range(1, 7)]])
def test_more_than_five_or_no_user_is_refused_before_anything_runs(ids):
    with pytest.raises(ValueError, match="at most 5|at least one"):
        check_user_ids(ids)


def test_duplicates_are_counted_once():
    assert check_user_ids([uid(1), uid(1), uid(2)]) == (uid(1), uid(2))
    assert len(check_user_ids([uid(i) for i in range(1, 6)] + [uid(1)])) == 5
