"""What an incremental cycle costs in Graph requests, at a small scale: at most 10 + changes/20
(a $batch counts once). The SMS sign-in rule reads the tenant's SMS authentication method policy
once (smsauthenticationmethodconfiguration-get) and each written user's phone methods only where
that policy lets someone sign in with SMS; the behaviours stay: a ready user is skipped and kept,
hand edits in the target are put back."""

from __future__ import annotations

from tenantsync import permissions
from tenantsync.connectors.entra_source import SMS_POLICY
from tenantsync.cycle import run_cycle
from tenantsync.emulator.tokens import app_token
from tenantsync.graph.api import GraphApi
from tenantsync.graph.connection import AuthSettings

from .conftest import SRC, uid, world

PHONE_ROUTE = "GET /users/{id}/authentication/phoneMethods"
POLICY_ROUTE = "GET " + SMS_POLICY


def _no_sms_sign_in(w) -> None:
    """The world's only SMS-ready user (uid 92) back to notAllowedByPolicy: no one may sign in with SMS."""
    w.emulator.patch_user(SRC, uid(92), {"smsSignInState": "notAllowedByPolicy"})


def _change(w, numbers, title: str) -> None:
    for n in numbers:
        w.src_api.request("PATCH", f"/users/{uid(n)}", {"jobTitle": title})


def test_no_phone_methods_are_read_when_the_policy_allows_no_sms_sign_in(w):
    _no_sms_sign_in(w)
    w.sync()
    linked = w.b2b()
    hand = linked[uid(3)]["id"]
    w.tgt_api.request("PATCH", f"/users/{hand}", {"department": "Edited by hand"})
    _change(w, range(1, 11), "Lead")
    w.emulator.reset_stats()

    report = w.sync()

    stats = w.emulator.stats()
    assert report.kind == "incremental" and report.counts["update"] == 10 and report.counts["failure"] == 0
    assert stats["by_route"].get(PHONE_ROUTE, 0) == 0 and stats["by_route"][POLICY_ROUTE] == 1
    assert stats["total_requests"] <= 10 + 10 / 20
    users = {u["id"]: u for u in w.target()["users"]}
    assert users[hand]["department"] == "Sales"                         # the hand edit is still noticed
    assert all(users[linked[uid(n)]["id"]]["jobTitle"] == "Lead - Sales" for n in range(1, 11))


def test_once_the_policy_allows_it_a_ready_user_is_skipped_and_kept(w):
    _no_sms_sign_in(w)
    w.sync()
    w.emulator.patch_user(SRC, uid(2), {"smsSignInState": "ready"})    # SMS sign-in turned on for uid 2
    _change(w, (2, 4), "Lead")
    w.emulator.reset_stats()

    report = w.sync()

    assert w.emulator.stats()["by_route"][PHONE_ROUTE] == 2            # read one by one again
    assert w.b2b()[uid(2)]["jobTitle"] == "Engineer - Sales"            # skipped, kept as it was
    assert w.b2b()[uid(4)]["jobTitle"] == "Lead - Sales"
    row = next(r for r in w.store.log(w.cfg.name, report.cycle_id) if r["sourceIdentity.id"] == uid(2))
    assert row["status"] == "skipped" and "SMS sign-in is enabled" in row["reason"]


def test_an_unreadable_policy_falls_back_to_reading_each_user(w, monkeypatch):
    # a source application without Policy.Read.All: the policy answers 403
    limited = app_token(SRC, "0b000000-0000-4000-8000-00000000b002",
                        [p for p in permissions.needed("source") if not p.startswith("Policy.")])
    fixture = world()
    fixture["tenants"][0]["tokens"].append(limited)
    w.emulator.reset(fixture)
    _no_sms_sign_in(w)
    w.sync()
    _change(w, (1, 2, 3), "Lead")
    monkeypatch.setenv("LIMITED_SRC_TOKEN", limited)
    conn = w.cfg.connection("emea").model_copy(update={"auth": AuthSettings(kind="static_token",
                                                                             token_env="LIMITED_SRC_TOKEN")})
    source = GraphApi(conn, read_only=True)
    w.emulator.reset_stats()
    try:
        report = run_cycle(w.cfg, source_api=source, target_api=w.tgt_api, store=w.store)
    finally:
        source.close()
    routes = w.emulator.stats()["by_route"]
    assert routes[POLICY_ROUTE] == 1 and routes[PHONE_ROUTE] == 3
    assert report.counts["update"] == 3 and report.counts["failure"] == 0


def test_a_cycle_without_changes_reads_neither_the_policy_nor_phone_methods(w):
    w.sync()
    w.emulator.reset_stats()
    report = w.sync()
    routes = w.emulator.stats()["by_route"]
    assert report.kind == "incremental" and report.counts["update"] == report.counts["create"] == 0
    assert POLICY_ROUTE not in routes and PHONE_ROUTE not in routes
    assert w.emulator.stats()["total_requests"] <= 10
