"""Application permissions: read from the tokens, checked by test connection, refused by a cycle.

The tokens are JWT-shaped like Graph's app-only tokens (their ``roles`` claim is what the product
reads); the emulator enforces the same Permissions tables, so a missing permission is also a 403.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tenantsync import permissions
from tenantsync.cycle import CycleOptions, drive
from tenantsync.errors import SetupRequired
from tenantsync.graph.token_claims import read_claims
from tenantsync.ops.connection_test import test_connection
from tenantsync.service import open_cycle

from .opsworld import ADMIN_TOKENS, ANCHOR, SRC, TGT, TGT_APP, token, world

README = Path(__file__).resolve().parents[2] / "README.md"
SOURCE_LACKS = ["UserAuthenticationMethod.Read.All"]
TARGET_LACKS = ["User.ReadWrite.All", "User.DeleteRestore.All"]


def without(side: str, lacking: list[str]) -> str:
    return token(side, [p for p in permissions.needed(side) if p not in lacking])  # type: ignore[arg-type]


@pytest.fixture
def lacking(ops):
    """The ops world, but the product's tokens lack one source and two target permissions."""
    src, tgt = without("source", SOURCE_LACKS), without("target", TARGET_LACKS)
    ops.load(world(source={"tokens": [src, ADMIN_TOKENS["source"]]},
                   target={"tokens": [tgt, ADMIN_TOKENS["target"]], "applications": [
                       {"appId": TGT_APP, "extensionProperties": [{"name": "tenantsyncSourceAnchor",
                                                                   "dataType": "String",
                                                                   "targetObjects": ["User"]}]}]}))
    ops.mp.setenv("OPS_SRC_TOKEN", src)
    ops.mp.setenv("OPS_TGT_TOKEN", tgt)
    return ops


def test_test_connection_names_each_missing_permission_per_side_and_the_fix(lacking):
    report = test_connection(lacking.cfg)
    assert report.exit_code == 1 and not report.ok
    src, tgt = report.check("Source permissions"), report.check("Target permissions")
    assert (src.status, src.blocking, tgt.status) == ("failed", True, "failed")
    assert src.message.endswith(f"lacks {', '.join(SOURCE_LACKS)}.")
    assert tgt.message.endswith(f"lacks {', '.join(TARGET_LACKS)}.")
    assert f"application {TGT_APP}" in tgt.message and TGT in tgt.message
    for perm in TARGET_LACKS:
        assert f"grant {perm} (Application) to application {TGT_APP} in tenant {TGT} and admin-consent" \
            in tgt.recommended_action
    assert f"grant {SOURCE_LACKS[0]} (Application)" in src.recommended_action and SRC in src.recommended_action
    text = report.render_text()
    assert all(p in text for p in SOURCE_LACKS + TARGET_LACKS)


def test_a_cycle_with_such_tokens_refuses_with_the_same_names_and_changes_nothing(lacking):
    before = lacking.emulator.dump(TGT)
    stats = lacking.emulator.stats()
    with pytest.raises(SetupRequired) as refused:
        with open_cycle(lacking.cfg, CycleOptions(), store=lacking.store) as cycle:
            drive(cycle)
    message = str(refused.value)
    assert "tenantsync setup" in message and "eyJ" not in message       # no token in any message
    assert refused.value.missing == {"source": SOURCE_LACKS, "target": TARGET_LACKS}
    assert re.search(rf"source connection 'emea' \(tenant {SRC}\) lacks {SOURCE_LACKS[0]}", message)
    assert f"target connection 'hq' (tenant {TGT}) lacks {', '.join(TARGET_LACKS)}" in message
    # nothing written: not in the target, not in the state store (not even a cycle record)
    assert lacking.emulator.dump(TGT) == before
    assert lacking.emulator.stats().get("writes", 0) == stats.get("writes", 0)
    assert lacking.store.cycles(lacking.cfg.name) == []
    assert lacking.store.links(lacking.cfg.name) == {}
    assert lacking.store.job(lacking.cfg.name).code == "NotRun"
    assert lacking.store.anchor_attribute(lacking.cfg.name) is None


def test_a_dry_run_needs_only_the_reading_permissions(lacking):
    # The target lacks only permissions for writing: a dry run refuses on the source's phone-method
    # read alone, which planning needs.
    with pytest.raises(SetupRequired) as refused:
        with open_cycle(lacking.cfg, CycleOptions(dry_run=True), store=lacking.store):
            pass
    assert refused.value.missing == {"source": SOURCE_LACKS}


def test_a_graph_403_names_the_permission_its_route_needs(ops):
    tgt = without("target", ["Policy.Read.All"])
    ops.load(world(target={"tokens": [tgt, ADMIN_TOKENS["target"]]}))
    ops.mp.setenv("OPS_TGT_TOKEN", tgt)
    report = test_connection(ops.cfg)
    check = report.check("Inbound identity synchronization")
    assert (check.status, check.code) == ("failed", "Authorization_RequestDenied")
    assert "needs the application permission Policy.Read.All" in check.recommended_action
    assert "crosstenantidentitysyncpolicypartner-get" in check.recommended_action


def test_an_opaque_token_is_a_warning_not_a_failure(ops):
    ops.load(world(source={"tokens": ["opaque-src", ADMIN_TOKENS["source"]]}))
    ops.mp.setenv("OPS_SRC_TOKEN", "opaque-src")
    report = test_connection(ops.cfg)
    check = report.check("Source permissions")
    assert check.status == "warning" and "could not be read" in check.message
    assert report.ok


# -- the table ----------------------------------------------------------------------------------------

def test_a_permission_is_satisfied_by_a_higher_privileged_one_the_page_lists():
    # a ReadWrite permission reads too (domain-list lists Directory.Read.All, not ReadWrite)
    assert permissions.missing("target", ["Directory.ReadWrite.All"], ["sync"], writes=False) == []
    # user-delete does not list Directory.ReadWrite.All, nor do restore and permanent delete
    assert permissions.missing("target", ["Directory.ReadWrite.All"], ["sync"]) == [
        "User.ReadWrite.All", "User.DeleteRestore.All"]
    assert permissions.missing("source", ["Directory.Read.All", "UserAuthenticationMethod.Read.All"],
                               ["sync"]) == []
    assert permissions.missing("source", None) is None
    assert permissions.missing("source", [], ["sync"]) == ["User.Read.All", "GroupMember.Read.All",
                                                           "UserAuthenticationMethod.Read.All"]
    # memberOf is read by provisioning on demand only
    assert permissions.missing("source", [], ["on-demand"]) == ["Directory.Read.All"]


def test_every_row_names_its_page_and_grants_a_permission_the_page_lists():
    for r in permissions.REQUIREMENTS:
        assert r.permission in r.accepted and r.page and r.purpose and r.routes
        assert r.url == f"https://learn.microsoft.com/graph/api/{r.page}"
    assert permissions.needed("target", ["setup"]) == ["Application.ReadWrite.OwnedBy", "Directory.Read.All"]


def test_readme_permissions_table_is_the_generated_one():
    text = README.read_text(encoding="utf-8")
    start, end = "<!-- permissions:start -->", "<!-- permissions:end -->"
    assert start in text and end in text
    block = text.split(start, 1)[1].split(end, 1)[0].strip("\n")
    assert block + "\n" == permissions.render_markdown(), "run: python -m tenantsync.permissions --markdown"


def test_token_claims_are_read_from_a_jwt_and_unknown_otherwise():
    claims = read_claims(token("target", ["User.Invite.All"]))
    assert claims.roles == {"User.Invite.All"} and claims.app_id == TGT_APP and claims.tenant_id == TGT
    assert read_claims("ops-tgt-admin").roles is None and not read_claims("a.b.c").known
    assert read_claims(None).roles is None


def test_graph_api_exposes_the_roles_and_app_of_its_current_token(ops):
    api = ops.api("target", admin=False)
    assert api.granted_roles == frozenset(permissions.needed("target")) and api.app_id == TGT_APP
    assert "eyJ" not in repr(api)                      # the token itself is never shown
    opaque = ops.api("target")                         # the tests' plain administrator token
    assert opaque.granted_roles is None and opaque.app_id is None


def test_an_opaque_token_missing_a_permission_gets_each_user_failed_with_the_permission_named(ops):
    # Roles of an opaque token cannot be checked before the cycle: Graph's 403 on each invitation
    # is then the evidence, and the provisioning log names the permission to grant.
    # (User.ReadWrite.All would also allow invitations: invitation-post lists it)
    roles = [p for p in permissions.needed("target") if p not in ("User.Invite.All", "User.ReadWrite.All")]
    ops.load(world(target={"tokens": [{"token": "opaque-tgt", "appId": TGT_APP, "roles": roles},
                                      ADMIN_TOKENS["target"]], "applications": [
        {"appId": TGT_APP, "extensionProperties": [{"name": "tenantsyncSourceAnchor",
                                                    "dataType": "String", "targetObjects": ["User"]}]}]}))
    ops.mp.setenv("OPS_TGT_TOKEN", "opaque-tgt")
    report = ops.sync()
    rows = [r for r in ops.store.log(ops.cfg.name, report.cycle_id)
            if r["provisioningAction"] == "create"]
    assert rows and all(r["status"] == "failure" for r in rows)
    assert all("needs the application permission User.Invite.All" in r["reason"] for r in rows)
    assert not any(u.get(ANCHOR) for u in ops.target_users())
