"""The SMS sign-in repair (tenantsync disable-sms) on the emulator: what the source tenant says
afterwards, the report's rows, and the refusals that keep it from writing what it should not."""

from __future__ import annotations

import csv

import pytest

from tenantsync import permissions
from tenantsync.errors import SetupRequired
from tenantsync.ops.disable_sms import COLUMNS, run_disable_sms, write_report

from .opsworld import ADMIN_TOKENS, OUT_OF_SCOPE, SRC, SRC_APP, token, uid, world

WRITE = "UserAuthenticationMethod.ReadWrite.All"
MOBILE = "3179e48a-750b-4051-897c-87b9720928f7"
READY = [2, 5]


def sms_world(ops, source_token: str | dict, *, ready=(*READY, OUT_OF_SCOPE)):
    """The ops world; the product's source token is ``source_token``; ``ready`` users can sign in by SMS."""
    ops.load(world(source={"tokens": [source_token, ADMIN_TOKENS["source"]]}))
    ops.mp.setenv("OPS_SRC_TOKEN", source_token if isinstance(source_token, str) else source_token["token"])
    for n in ready:
        ops.emulator.patch_user(SRC, uid(n), {"smsSignInState": "ready"})
    return ops


def writer_token() -> str:
    return token("source", permissions.needed("source") + [WRITE])


def sms_state(ops, n: int) -> str | None:
    methods = ops.api("source").get_json(f"/users/{uid(n)}/authentication/phoneMethods")["value"]
    return next((m["smsSignInState"] for m in methods if m["id"] == MOBILE), None)


def test_in_scope_users_ready_for_sms_are_listed_turned_off_and_then_provisioned(ops, tmp_path):
    sms_world(ops, writer_token())
    first = ops.sync()                      # a cycle skips them: SMS sign-in is enabled
    assert not {uid(n) for n in READY} & set(ops.synced())
    assert first.counts.get("create") == 8

    result = run_disable_sms(ops.cfg)
    assert [r["id"] for r in result.rows] == [uid(n) for n in READY]
    for r in result.rows:
        assert (r["phoneMethodId"], r["smsSignInStateBefore"], r["outcome"]) == (MOBILE, "ready", "disabled")
        assert r["smsSignInStateAfter"] not in ("ready", "")
        assert r["userPrincipalName"] == f"user{int(r['id'][-3:])}@emea.ops.example"
    assert not result.failed and "turned off for 2" in result.summary()
    # read back from the source tenant: no longer ready; the out-of-scope user is untouched
    assert [sms_state(ops, n) for n in READY] == ["notEnabled", "notEnabled"]
    assert sms_state(ops, OUT_OF_SCOPE) == "ready"
    assert sms_state(ops, 3) == "notAllowedByPolicy"

    path = write_report(result, tmp_path / "sms-sign-in.csv")
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == list(COLUMNS) and [r["outcome"] for r in rows] == ["disabled", "disabled"]

    # the next cycle provisions the repaired users
    ops.sync()
    synced = ops.synced()
    assert {uid(n) for n in READY} <= set(synced) and uid(OUT_OF_SCOPE) not in synced


def test_dry_run_lists_them_and_writes_nothing_to_graph(ops):
    sms_world(ops, writer_token())
    before = ops.emulator.stats().get("writes", 0)
    result = run_disable_sms(ops.cfg, dry_run=True)
    assert [(r["id"], r["smsSignInStateAfter"], r["outcome"]) for r in result.rows] == [
        (uid(n), "ready", "dry run: not changed") for n in READY]
    assert "dry run: nothing written to Graph (2 would be turned off)" in result.summary()
    assert ops.emulator.stats().get("writes", 0) == before
    assert [sms_state(ops, n) for n in READY] == ["ready", "ready"]


def test_a_token_without_the_write_permission_is_refused_before_anything_is_written(ops):
    sms_world(ops, token("source"))         # what sync needs: the phone methods are only read
    with pytest.raises(SetupRequired) as refused:
        run_disable_sms(ops.cfg)
    message = str(refused.value)
    assert f"lacks {WRITE}" in message and f"grant {WRITE} (Application) to application {SRC_APP}" in message
    assert refused.value.missing == {"source": [WRITE]} and "eyJ" not in message
    assert [sms_state(ops, n) for n in READY] == ["ready", "ready"]
    # a dry run needs only the reads, and says what a real run would lack
    dry = run_disable_sms(ops.cfg, dry_run=True)
    assert len(dry.rows) == 2 and f"lacks {WRITE}: a run without --dry-run would be refused" in dry.summary()


def test_a_graph_403_on_the_write_names_the_permission(ops):
    # an opaque token: its roles cannot be read beforehand; Graph refuses each disableSmsSignIn
    sms_world(ops, {"token": "opaque-src", "appId": SRC_APP, "roles": permissions.needed("source")})
    result = run_disable_sms(ops.cfg)
    assert result.failed and [r["id"] for r in result.rows] == [uid(n) for n in READY]
    for r in result.rows:
        assert r["outcome"].startswith("failed: 403 Authorization_RequestDenied")
        assert f"needs the application permission {WRITE}" in r["outcome"]
        assert "phoneauthenticationmethod-disablesmssignin" in r["outcome"]
        assert r["smsSignInStateAfter"] == "ready"
    assert [sms_state(ops, n) for n in READY] == ["ready", "ready"]


def test_named_users_each_get_a_row_saying_what_was_done_or_why_not(ops):
    sms_world(ops, writer_token())
    ops.emulator.patch_user(SRC, uid(7), {"accountEnabled": False, "smsSignInState": "ready"})
    asked = [uid(3), uid(OUT_OF_SCOPE), "user5@emea.ops.example", uid(7), "0a000000-0000-4000-8000-999999999999"]
    result = run_disable_sms(ops.cfg, user_ids=asked)
    outcomes = [(r["id"], r["outcome"]) for r in result.rows]
    assert outcomes[0] == (uid(3), "skipped: SMS sign-in is not ready (notAllowedByPolicy): not what keeps "
                                   "this user out")
    assert outcomes[1][0] == uid(OUT_OF_SCOPE)
    assert outcomes[1][1] == "skipped: not in scope (Scoping filter 1.department EQUALS 'Sales')"
    assert outcomes[2] == (uid(5), "disabled")
    assert outcomes[3][0] == uid(7) and outcomes[3][1].startswith("skipped: the account is disabled")
    assert outcomes[4][1] == "skipped: not found in the source tenant"
    assert sms_state(ops, 5) == "notEnabled"
    assert [sms_state(ops, n) for n in (2, 7, OUT_OF_SCOPE)] == ["ready", "ready", "ready"]
