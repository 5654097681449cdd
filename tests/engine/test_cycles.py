"""Scenario tests: cycles against the emulator, asserting the target tenant's resulting state."""

from __future__ import annotations

from .conftest import GROUP, PENDING, TGT, uid

HQ = "contosohq.onmicrosoft.com"


def test_initial_cycle_creates_b2b_users_for_direct_internal_enabled_members(w):
    report = w.sync()
    synced = w.b2b()
    assert set(synced) == {uid(i) for i in range(1, 11)}        # not the guest, nested-only or SMS user
    u = synced[uid(1)]
    assert u["userPrincipalName"] == f"user1_emea.contoso.com#EXT#@{HQ}"
    assert u["userType"] == "Member" and u["displayName"] == "José Test1"   # accents kept
    assert u["jobTitle"] == "Engineer - Sales" and u["accountEnabled"] is True
    assert u["mail"] == "user1@emea.contoso.com"
    assert report.kind == "initial" and report.counts["create"] == 9 and report.counts["failure"] == 0
    log = {r["sourceIdentity.id"]: r for r in w.store.log(w.cfg.name, report.cycle_id)}
    sms = log[uid(92)]
    assert sms["provisioningAction"] == "other" and sms["status"] == "skipped"
    assert "SMS sign-in" in sms["reason"]
    assert log[uid(90)]["status"] == "skipped"                     # the source guest
    created = log[uid(1)]
    assert {p["displayName"] for p in created["modifiedProperties"]} >= {"displayName", "userPrincipalName"}


def test_internal_target_user_with_the_same_mail_is_never_touched(w):
    w.sync()
    admin = next(u for u in w.target()["users"] if u["userPrincipalName"] == "admin@contoso.com")
    assert admin["displayName"] == "HQ Admin" and not admin.get(w.cfg.settings.anchor_attribute)
    assert w.b2b()[uid(3)]["id"] != admin["id"]


def test_second_cycle_is_incremental_and_writes_nothing_when_in_step(w):
    w.sync()
    w.emulator.reset_stats()
    report = w.sync()
    stats = w.emulator.stats()
    assert report.kind == "incremental" and report.counts["create"] == report.counts["update"] == 0
    assert stats["total_requests"] > 0 and stats["writes"] == 0


def test_update_rename_and_department_change_flow_to_target(w):
    w.sync()
    w.src_api.request("PATCH", f"/users/{uid(2)}", {"displayName": "Renamed Person", "department": "Legal",
                                                    "userPrincipalName": "renamed@emea.contoso.com"})
    report = w.sync()
    u = w.b2b()[uid(2)]
    assert u["displayName"] == "Renamed Person" and u["jobTitle"] == "Engineer - Legal"
    assert u["userPrincipalName"] == f"renamed_emea.contoso.com#EXT#@{HQ}"
    row = next(r for r in w.store.log(w.cfg.name, report.cycle_id) if r["sourceIdentity.id"] == uid(2))
    changes = {p["displayName"]: (p["oldValue"], p["newValue"]) for p in row["modifiedProperties"]}
    assert changes["displayName"][1] == "Renamed Person" and "mail" not in changes


def test_removed_from_assigned_group_is_soft_deleted(w):
    w.sync()
    w.src_api.request("DELETE", f"/groups/{GROUP}/members/{uid(4)}/$ref")
    report = w.sync()
    assert uid(4) not in w.b2b()
    assert any(d.get("mail") == "user4@emea.contoso.com" for d in w.deleted())
    assert report.counts["delete"] == 1


def test_disabled_in_source_blocks_sign_in(w):
    w.sync()
    w.src_api.request("PATCH", f"/users/{uid(5)}", {"accountEnabled": False})
    report = w.sync()
    assert w.b2b()[uid(5)]["accountEnabled"] is False
    assert report.counts["disable"] == 1


def test_soft_deleted_source_soft_deletes_target_and_restore_within_30_days_restores(w):
    w.sync()
    w.src_api.request("DELETE", f"/users/{uid(6)}")
    w.sync()
    assert uid(6) not in w.b2b()
    w.src_api.request("POST", f"/directory/deletedItems/{uid(6)}/restore")
    w.sync()
    assert uid(6) in w.b2b()
    assert len([u for u in w.target()["users"] if u.get("mail") == "user6@emea.contoso.com"]) == 1


def test_hard_deleted_source_deletes_target(w):
    w.sync()
    w.src_api.request("DELETE", f"/users/{uid(7)}")
    w.src_api.request("DELETE", f"/directory/deletedItems/{uid(7)}")
    w.sync()
    assert uid(7) not in w.b2b()


def test_target_admin_soft_delete_is_not_restored(w):
    w.sync()
    target_id = w.b2b()[uid(8)]["id"]
    w.tgt_api.request("DELETE", f"/users/{target_id}")
    w.src_api.request("PATCH", f"/users/{uid(8)}", {"department": "Finance"})
    report = w.sync()
    assert uid(8) not in w.b2b()
    row = next(r for r in w.store.log(w.cfg.name, report.cycle_id) if r["sourceIdentity.id"] == uid(8))
    assert row["status"] == "warning" and "not restored" in row["reason"]


def test_user_who_left_the_organisation_is_provisioned_again(w):
    w.sync()
    target_id = w.b2b()[uid(9)]["id"]
    w.emulator.leave(TGT, target_id)
    w.sync(restart=True)
    assert uid(9) in w.b2b() and w.b2b()[uid(9)]["id"] != target_id


def test_dry_run_writes_nothing_and_reports_what_it_would_do(w):
    report = w.sync(dry_run=True)
    assert w.b2b() == {}
    assert report.counts["create"] == 9 and report.dry_run
    rows = w.store.log(w.cfg.name, report.cycle_id)
    assert all(r["reason"].startswith("Dry run") for r in rows if r["provisioningAction"] == "create")


def test_empty_source_aborts_and_deletes_nothing(w):
    w.sync()
    cfg = w.cfg.model_copy(update={"scope": w.cfg.scope.model_copy(update={"filters": [[
        __import__("tenantsync.config", fromlist=["FilterClause"]).FilterClause(
            attribute="department", operator="EQUALS", value="Nobody")]]})})
    report = w.sync(cfg, restart=True)
    assert len(w.b2b()) == 10 and report.counts["delete"] == 0
    assert "aborted" in report.message


def test_filter_no_longer_matching_soft_deletes(w):
    w.sync()
    from tenantsync.config import FilterClause
    cfg = w.cfg.model_copy(update={"scope": w.cfg.scope.model_copy(update={"filters": [[
        FilterClause(attribute="mail", operator="NOT EQUALS", value="user10@emea.contoso.com")]]})})
    w.sync(cfg, restart=True)
    assert uid(10) not in w.b2b() and len(w.b2b()) == 9


def test_lost_state_store_causes_no_duplicate(w, tmp_path):
    w.sync()
    from .conftest import World
    fresh = World(w.emulator, f"sqlite:///{tmp_path}/other.db")
    try:
        report = fresh.sync()
        assert report.counts["create"] == 0
        assert len(fresh.b2b()) == 10
        assert len([u for u in w.target()["users"] if "#EXT#" in u["userPrincipalName"]]) == 10
    finally:
        fresh.close()


def test_restart_keeps_links_and_converges_without_writes(w):
    w.sync()
    before = w.emulator.stats().get("writes", 0)
    report = w.sync(restart=True)
    assert report.kind == "initial" and report.counts["create"] == 0
    assert w.emulator.stats().get("writes", 0) == before


def test_hand_invited_pending_user_is_matched_and_its_upn_follows_the_source(w):
    report = w.sync()
    u = w.b2b()[uid(10)]
    assert u["id"] == PENDING
    assert u["userPrincipalName"] == f"user10_emea.contoso.com#EXT#@{HQ}"
    assert u["userType"] == "Member"
    assert len([x for x in w.target()["users"] if x.get("mail") == "user10@emea.contoso.com"]) == 1
    row = next(r for r in w.store.log(w.cfg.name, report.cycle_id) if r["sourceIdentity.id"] == uid(10))
    assert row["provisioningAction"] == "update"


def test_on_demand_sees_a_group_assignment_made_since_the_last_cycle(w):
    w.sync()
    w.src_api.request("POST", f"/groups/{GROUP}/members/$ref",
                      {"@odata.id": f"https://graph.microsoft.com/v1.0/directoryObjects/{uid(91)}"})
    report = w.sync(user_ids=(uid(91),))
    assert report.kind == "on-demand" and report.counts["create"] == 1
    assert uid(91) in w.b2b()


def test_redacted_mapping_flows_but_is_logged_as_redact(w):
    cfg = w.cfg.model_copy(update={"mappings": [*w.cfg.mappings, __import__("tenantsync.config", fromlist=["Mapping"]).Mapping(
        target="employeeId", type="expression", expression='Redact(Append("EMP-", [mailNickname]))')]})
    cfg.__dict__.pop("effective_mappings", None)
    report = w.sync(cfg)
    assert w.b2b()[uid(1)]["employeeId"] == "EMP-user1"
    row = next(r for r in w.store.log(w.cfg.name, report.cycle_id) if r["sourceIdentity.id"] == uid(1))
    emp = next(p for p in row["modifiedProperties"] if p["displayName"] == "employeeId")
    assert emp["newValue"] == "[Redact]"
    assert "EMP-user1" not in str(row)


def test_creates_are_applied_between_pages_exactly_once(w):
    cfg = w.cfg.model_copy(update={"settings": w.cfg.settings.model_copy(update={"batch_size": 2})})
    before = w.emulator.stats().get("writes", 0)
    report = w.sync(cfg)
    assert report.counts["create"] == 9 and report.counts["update"] == 1 and report.counts["failure"] == 0
    # 9 invitations + 9 PATCHes + 1 PATCH of the hand-invited user: nothing applied twice
    assert w.emulator.stats().get("writes", 0) - before == 19
    assert len(w.b2b()) == 10
    rows = w.store.log(w.cfg.name, report.cycle_id)
    assert len(rows) == len({r["sourceIdentity.id"] for r in rows})      # one row per object


def test_restart_reads_in_full_only_users_whose_digest_differs_and_repairs_target_edits(w):
    w.sync()
    target_id = w.b2b()[uid(5)]["id"]
    w.tgt_api.request("PATCH", f"/users/{target_id}", {"jobTitle": "Edited in HQ"})
    w.emulator.reset_stats()
    report = w.sync(restart=True)
    assert w.b2b()[uid(5)]["jobTitle"] == "Engineer - Sales"
    row = next(r for r in w.store.log(w.cfg.name, report.cycle_id) if r["sourceIdentity.id"] == uid(5))
    assert row["modifiedProperties"] == [{"displayName": "jobTitle", "oldValue": "Edited in HQ",
                                          "newValue": "Engineer - Sales"}]
    assert report.counts["update"] == 1 and report.counts["create"] == 0
    # one user read again in full, one PATCH, and the phone methods of the two users the cycle
    # would write (the SMS rule: the updated one, and the SMS user it would create): the other
    # nine were known equal by their digests, and their phone methods are not read
    assert w.emulator.stats()["batch_items"] == 4
    assert w.emulator.stats()["by_route"]["GET /users/{id}/authentication/phoneMethods"] == 2
