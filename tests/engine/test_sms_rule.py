"""The SMS sign-in rule in every cycle and on demand (cross-tenant-synchronization-configure,
troubleshooting: users with SMS sign-in enabled are skipped; the scoping step shows
"Filter external users.alternativeSecurityIds EQUALS 'None'" false)."""

from __future__ import annotations

from tenantsync import permissions
from tenantsync.connectors.entra_source import MOBILE_METHOD_ID, EntraSource
from tenantsync.cycle import CycleOptions, run_cycle
from tenantsync.emulator.tokens import app_token
from tenantsync.graph.api import GraphApi
from tenantsync.graph.connection import AuthSettings
from tenantsync.stages.scope import SMS_CLAUSE
from tests.graph.graph_fake import FAST, TOKEN, FakeGraph, error

from .conftest import SRC, uid, world

PHONE_ROUTE = "GET /users/{id}/authentication/phoneMethods"
PERMISSION = "UserAuthenticationMethod.Read.All"


def row(w, report, n):
    return next(r for r in w.store.log(w.cfg.name, report.cycle_id) if r["sourceIdentity.id"] == uid(n))


def scoping(steps):
    return next(s for s in steps if s["provisioningStepType"] == "scoping")


def test_a_provisioned_user_whose_sms_sign_in_becomes_ready_gets_no_more_updates_and_is_kept(w):
    w.sync()
    w.emulator.patch_user(SRC, uid(2), {"smsSignInState": "ready"})
    w.src_api.request("PATCH", f"/users/{uid(2)}", {"department": "Legal"})
    w.src_api.request("PATCH", f"/users/{uid(4)}", {"department": "Legal"})
    report = w.sync()
    assert report.kind == "incremental"
    kept, other = w.b2b()[uid(2)], w.b2b()[uid(4)]
    assert kept["jobTitle"] == "Engineer - Sales" and kept["accountEnabled"] is True    # not updated, not disabled
    assert other["jobTitle"] == "Engineer - Legal"                                      # the rule is per user
    assert report.counts["delete"] == report.counts["disable"] == 0 and not w.deleted()
    r = row(w, report, 2)
    assert (r["provisioningAction"], r["status"]) == ("other", "skipped")
    assert "SMS sign-in is enabled" in r["reason"] and "kept as it is" in r["reason"]
    assert scoping(r["provisioningSteps"])["details"]["ScopeEvaluationResult"][SMS_CLAUSE] is False
    # a later cycle leaves it alone as well; turning SMS sign-in off lets the next change through
    assert w.sync().counts["update"] == 0
    w.emulator.patch_user(SRC, uid(2), {"smsSignInState": "notEnabled"})
    w.src_api.request("PATCH", f"/users/{uid(2)}", {"department": "Finance"})
    w.sync()
    assert w.b2b()[uid(2)]["jobTitle"] == "Engineer - Finance"


def test_a_full_cycle_skips_and_keeps_a_ready_user_it_would_update(w):
    w.sync()
    w.emulator.patch_user(SRC, uid(5), {"smsSignInState": "ready"})
    w.tgt_api.request("PATCH", f"/users/{w.b2b()[uid(5)]['id']}", {"jobTitle": "Edited in HQ"})
    report = w.sync(restart=True)
    assert w.b2b()[uid(5)]["jobTitle"] == "Edited in HQ" and w.b2b()[uid(5)]["accountEnabled"] is True
    assert row(w, report, 5)["status"] == "skipped" and report.counts["update"] == 0


def test_on_demand_shows_the_documented_scoping_step(w):
    w.sync()
    w.emulator.patch_user(SRC, uid(3), {"smsSignInState": "ready"})
    report = w.sync(user_ids=(uid(3), uid(4)))
    by_id = {a.source_id: a for a in report.actions}
    sms, fine = by_id[uid(3)], by_id[uid(4)]
    assert sms.status == "skipped" and "SMS sign-in is enabled" in sms.reason
    step = next(s for s in sms.steps if s.type == "scoping")
    assert step.status == "skipped" and step.details["ScopeEvaluationResult"][SMS_CLAUSE] is False
    assert SMS_CLAUSE not in next(s for s in fine.steps if s.type == "scoping").details["ScopeEvaluationResult"]
    assert uid(3) in w.b2b()                                            # kept


def test_phone_methods_are_read_only_for_users_a_cycle_would_write(w):
    w.sync()
    w.src_api.request("PATCH", f"/users/{uid(1)}", {"department": "Legal"})
    w.src_api.request("PATCH", f"/users/{uid(2)}", {"department": "Legal"})
    w.emulator.reset_stats()
    w.sync()                                   # incremental: two users would be updated
    assert w.emulator.stats()["by_route"].get(PHONE_ROUTE) == 2
    w.emulator.reset_stats()
    w.sync(restart=True)                       # in step: only the SMS user it would create (uid 92)
    assert w.emulator.stats()["by_route"].get(PHONE_ROUTE) == 1


def test_a_refused_phone_methods_read_is_an_escrowed_error_never_not_ready(w, monkeypatch):
    # a second token of the source tenant: an application without UserAuthenticationMethod.Read.All
    limited = app_token(SRC, "0b000000-0000-4000-8000-00000000b001",
                        [p for p in permissions.needed("source") if p != PERMISSION])
    fixture = world()
    fixture["tenants"][0]["tokens"].append(limited)
    w.emulator.reset(fixture)
    w.sync()
    w.src_api.request("PATCH", f"/users/{uid(2)}", {"department": "Legal"})
    monkeypatch.setenv("LIMITED_SRC_TOKEN", limited)
    conn = w.cfg.connection("emea").model_copy(update={"auth": AuthSettings(kind="static_token",
                                                                             token_env="LIMITED_SRC_TOKEN")})
    source = GraphApi(conn, read_only=True)
    try:
        report = run_cycle(w.cfg, source_api=source, target_api=w.tgt_api, store=w.store, options=CycleOptions())
    finally:
        source.close()
    assert w.b2b()[uid(2)]["jobTitle"] == "Engineer - Sales"          # not written
    r = row(w, report, 2)
    assert r["status"] == "failure" and PERMISSION in r["reason"] and "403" in r["reason"]
    assert report.counts["failure"] == 1 and w.store.count_escrows(w.cfg.name) == 1
    assert w.store.job(w.cfg.name).code == "Active"                    # one user's error, not the job's


def test_a_phone_methods_read_still_failing_after_retries_is_reported_failed(monkeypatch):
    fake = FakeGraph(users=2)
    path = "/users/u00001/authentication/phoneMethods"
    fake.script("GET", path, *[error(503, "serviceUnavailable")] * (FAST.max_retries + 1))
    fake.script("GET", "/users/u00000/authentication/phoneMethods",
                (200, {}, {"value": [{"id": MOBILE_METHOD_ID, "smsSignInState": "ready"}]}))
    monkeypatch.setenv("FAKE_TOKEN", TOKEN)
    api = GraphApi({"name": "fake", "tenant_id": "t1", "graph_url": fake.base,
                    "auth": {"kind": "static_token", "token_env": "FAKE_TOKEN"}},
                   transport=fake.transport(), retry_policy=FAST)
    try:
        read = EntraSource(api, ["displayName"]).sms_sign_in(["u00000", "u00001"])
    finally:
        api.close()
    assert read.ready == {"u00000"} and set(read.failed) == {"u00001"}
    assert read.failed["u00001"].status == 503
    assert sum(1 for m, p in fake.log if m == "POST") == FAST.max_retries + 1     # retried, then reported
