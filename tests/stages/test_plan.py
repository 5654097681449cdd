"""Planning decisions (docs/entra-behaviour.md#provisioning-cycles, #deprovisioning) on plain data."""

from tenantsync.model import ScopeResult
from tenantsync.stages.mapping import Desired, b2b_upn
from tenantsync.stages.matching import Match, TargetIndex, match_user
from tenantsync.stages.plan import plan_user

IN = ScopeResult(True, (("Assigned to the application", True),), None, "passed")
OUT = ScopeResult(False, (("Assigned to the application", False),), "NotEffectivelyEntitled", "not assigned")
SRC = {"id": "s1", "displayName": "Zoë Müller", "mail": "zoe@emea.contoso.com", "accountEnabled": True}
TGT = {"id": "t1", "displayName": "Zoe Muller", "accountEnabled": True, "userType": "Member",
       "userPrincipalName": "zoe_emea.contoso.com#EXT#@contosohq.onmicrosoft.com", "externalUserState": "Accepted"}


def desired(**v):
    return Desired(v, {}, frozenset())


def plan(source=SRC, scope=IN, match=None, link="active", removal=None, create=None, update=None, leave="delete"):
    return plan_user(source, source_id="s1", scope=scope, desired_create=create, desired_update=update,
                     match=match or Match(None, "none"), link_state=link, on_leave_scope=leave, removal=removal)


def test_b2b_upn_form():
    assert b2b_upn("john.doe@fabrikam.com", "contoso.onmicrosoft.com") == \
        "john.doe_fabrikam.com#EXT#@contoso.onmicrosoft.com"


def test_no_target_creates_with_invitation_type_from_user_type():
    a = plan(link=None, create=desired(displayName="Zoë Müller", userType="Member"))
    assert a.kind == "create" and a.invite_email == "zoe@emea.contoso.com" and a.invite_type == "Member"


def test_update_sends_only_differences_and_none_when_in_step():
    a = plan(match=Match(TGT, "link"), update=desired(displayName="Zoë Müller", accountEnabled=True))
    assert a.kind == "update" and list(a.changes) == ["displayName"]
    assert a.changes["displayName"].old == "Zoe Muller"
    a = plan(match=Match(TGT, "link"), update=desired(displayName="Zoe Muller"))
    assert a.kind == "other" and a.status == "skipped" and a.error_code == "RedundantExport"


def test_disabled_source_blocks_sign_in_and_is_not_created():
    a = plan(match=Match(TGT, "link"), update=desired(accountEnabled=False))
    assert a.kind == "disable" and a.changes["accountEnabled"].new is False
    a = plan(source={**SRC, "accountEnabled": False}, link=None, create=desired())
    assert a.kind == "other" and a.status == "skipped"


def test_leaving_scope_soft_deletes_or_disables():
    assert plan(scope=OUT, match=Match(TGT, "link")).kind == "delete"
    a = plan(scope=OUT, match=Match(TGT, "link"), leave="disable")
    assert a.kind == "disable" and a.changes["accountEnabled"].new is False


def test_disabled_then_removed_from_group_is_not_deleted():
    a = plan(source={**SRC, "accountEnabled": False}, scope=OUT,
             match=Match({**TGT, "accountEnabled": False}, "link"))
    assert a.kind == "other"


def test_hard_deleted_source_deletes_target():
    a = plan(scope=None, match=Match(TGT, "link"), removal="hard")
    assert a.kind == "delete" and a.hard_delete


def test_target_soft_deleted_by_admin_is_not_restored_but_ours_is():
    a = plan(match=Match(TGT, "deleted"), update=desired(displayName="x"))
    assert a.kind == "other" and a.status == "warning"
    a = plan(match=Match(TGT, "deleted"), link="deleted", update=desired(displayName="x"))
    assert a.kind == "update" and a.restore


def test_left_the_organisation_is_provisioned_again():
    a = plan(link="active", create=desired(displayName="x"))
    assert a.kind == "create" and "Left the target organisation" in a.reason


def test_user_never_ours_out_of_scope_is_left_alone():
    a = plan(scope=OUT, match=Match(TGT, "mail"), link=None)
    assert a.kind == "other" and a.status == "skipped"


def test_matching_never_takes_internal_users_and_finds_hand_invited_by_mail():
    internal = {"id": "i1", "userPrincipalName": "zoe@contoso.com", "mail": "zoe@emea.contoso.com"}
    invited = {"id": "b1", "userPrincipalName": "old_emea.contoso.com#EXT#@contosohq.onmicrosoft.com",
               "mail": "zoe@emea.contoso.com", "externalUserState": "PendingAcceptance"}
    idx = TargetIndex.build([internal, invited], "extension_x_anchor")
    m = match_user(SRC, link_target_id=None, anchor="ten/s1", index=idx)
    assert m.by == "mail" and m.target["id"] == "b1"
    idx = TargetIndex.build([internal], "extension_x_anchor")
    assert match_user(SRC, link_target_id=None, anchor="ten/s1", index=idx).target is None


def test_anchor_beats_mail_and_claimed_users_are_not_matched_by_mail():
    claimed = {"id": "b2", "userPrincipalName": "z_x#EXT#@hq", "mail": "zoe@emea.contoso.com",
               "externalUserState": "Accepted", "extension_x_anchor": "ten/other"}
    mine = {"id": "b3", "userPrincipalName": "y_x#EXT#@hq", "externalUserState": "Accepted",
            "extension_x_anchor": "ten/s1"}
    idx = TargetIndex.build([claimed, mine], "extension_x_anchor")
    assert match_user(SRC, link_target_id=None, anchor="ten/s1", index=idx).target["id"] == "b3"
    idx = TargetIndex.build([claimed], "extension_x_anchor")
    assert match_user(SRC, link_target_id=None, anchor="ten/s1", index=idx).target is None
