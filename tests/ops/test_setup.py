"""tenantsync setup and the first cycle's own setup: the anchor directory extension, registered on
the target's application (extension_<appId without dashes>_<name>), found again, recorded, used."""

from __future__ import annotations

import pytest

from tenantsync.anchor import extension_name
from tenantsync.cycle import CycleOptions, drive
from tenantsync.emulator.tokens import plain_app_id
from tenantsync.errors import GraphError, SetupRequired
from tenantsync.ops.setup import run_setup
from tenantsync.service import open_cycle

from .opsworld import ADMIN_TOKENS, SRC, TGT, TGT_APP, TGT_TOKEN, permissions, token, uid, world

ANCHOR = extension_name(TGT_APP, "tenantsyncSourceAnchor")


@pytest.fixture
def fresh(ops):
    """The ops world before setup: the target's application has no extension; the configuration
    names none (its appId comes from the token's appid claim)."""
    ops.load(world(target={"applications": []}), settings={"anchor_attribute": None})
    return ops


def extensions(ops, app_id: str = TGT_APP) -> list[str]:
    admin = ops.api("target")
    return [e["name"] for e in admin.get_json(f"/applications(appId='{app_id}')/extensionProperties")["value"]]


def cycle(ops, notes: list[str] | None = None, **opts):
    with open_cycle(ops.cfg, CycleOptions(**opts), store=ops.store,
                    on_setup=notes.append if notes is not None else None) as c:
        return drive(c)


def test_setup_registers_the_extension_a_second_run_says_it_is_there_and_a_cycle_writes_it(fresh):
    assert ANCHOR == f"extension_{TGT_APP.replace('-', '')}_tenantsyncSourceAnchor"
    first = run_setup(fresh.cfg)
    assert first.ok, first.message
    assert (first.anchor.action, first.anchor.attribute) == ("registered", ANCHOR)
    assert "registered " + ANCHOR in first.message
    assert extensions(fresh) == [ANCHOR]
    assert fresh.store.anchor_attribute(fresh.cfg.name) == ANCHOR

    second = run_setup(fresh.cfg)
    assert second.ok and second.anchor.action == "found"
    assert "already registered" in second.message and "nothing to do" in second.message
    assert not any(c.startswith("POST") for c in second.anchor.calls)
    assert extensions(fresh) == [ANCHOR]

    report = cycle(fresh)
    assert report.counts["create"] == 10 and report.counts["failure"] == 0
    anchored = {u[ANCHOR] for u in fresh.target_users() if u.get(ANCHOR)}
    assert anchored == {f"{SRC}/{uid(n)}" for n in range(1, 11)}


def test_the_first_cycle_does_the_setup_and_says_so(fresh):
    notes: list[str] = []
    report = cycle(fresh, notes)
    assert report.counts["create"] == 10
    assert len(notes) == 1 and "first cycle" in notes[0] and f"registered {ANCHOR}" in notes[0]
    assert fresh.store.anchor_attribute(fresh.cfg.name) == ANCHOR
    again: list[str] = []
    assert cycle(fresh, again).counts["create"] == 0 and again == []      # recorded: no setup again


def test_dry_run_lists_the_calls_and_writes_nothing(fresh):
    before = fresh.emulator.stats().get("writes", 0)
    report = run_setup(fresh.cfg, dry_run=True)
    assert report.ok and report.anchor.action == "would register" and report.dry_run
    post = [c for c in report.anchor.calls if c.startswith("POST")]
    assert len(post) == 1 and post[0].endswith("(not sent: dry run)") and "'targetObjects': ['User']" in post[0]
    assert report.anchor.calls[0] == f"GET /applications(appId='{TGT_APP}')"
    assert extensions(fresh) == [] and fresh.store.anchor_attribute(fresh.cfg.name) is None
    assert fresh.emulator.stats().get("writes", 0) == before
    # and a dry-run cycle cannot register it either: it refuses, naming setup
    with pytest.raises(SetupRequired, match="tenantsync setup"):
        cycle(fresh, dry_run=True)
    assert fresh.store.cycles(fresh.cfg.name) == []


def test_an_unregistered_name_is_refused_by_graph_and_by_setup(fresh):
    unregistered = extension_name(TGT_APP, "notRegistered")
    target_user = fresh.target_users()[0]["id"]
    with pytest.raises(GraphError) as refused:
        fresh.api("target").request("PATCH", f"/users/{target_user}", {unregistered: "x"})
    assert refused.value.status == 400

    fresh.configure(settings={"anchor_attribute": unregistered})
    report = run_setup(fresh.cfg)
    assert not report.ok and unregistered in report.message and "not a directory extension registered" \
        in report.message
    with pytest.raises(SetupRequired, match=unregistered):
        cycle(fresh)
    assert fresh.store.cycles(fresh.cfg.name) == [] and fresh.target_users()[0]["id"] == target_user


def test_an_opaque_token_needs_auth_client_id_unless_the_extension_exists(fresh):
    fresh.load(world(target={"applications": [], "tokens": ["opaque-tgt", ADMIN_TOKENS["target"]]}),
               settings={"anchor_attribute": None})
    fresh.mp.setenv("OPS_TGT_TOKEN", "opaque-tgt")
    report = run_setup(fresh.cfg)
    assert not report.ok and "connections.hq.auth.client_id" in report.message
    assert report.missing["target"] is None            # roles unknown: not counted as missing

    # with auth.client_id (the sample configurations' way) it registers on that application
    app = plain_app_id("opaque-tgt")
    hq = fresh.cfg.connection("hq")
    fresh.configure(settings={"anchor_attribute": None}, connections={
        "emea": fresh.cfg.connection("emea").model_dump(),
        "hq": {**hq.model_dump(), "auth": {**hq.auth.model_dump(exclude_none=True), "client_id": app}}})
    registered = run_setup(fresh.cfg)
    assert registered.ok and registered.anchor.attribute == extension_name(app, "tenantsyncSourceAnchor")

    # and without it, an extension already registered in the tenant is found
    fresh.configure(settings={"anchor_attribute": None})
    found = run_setup(fresh.cfg)
    assert found.ok and found.anchor.action == "found" and found.anchor.attribute == registered.anchor.attribute


def test_without_the_right_to_register_the_first_cycle_refuses_and_writes_nothing(fresh):
    tgt = token("target", [p for p in permissions.needed("target") if p != "Application.ReadWrite.OwnedBy"])
    fresh.load(world(target={"applications": [], "tokens": [tgt, ADMIN_TOKENS["target"]]}),
               settings={"anchor_attribute": None})
    fresh.mp.setenv("OPS_TGT_TOKEN", tgt)
    with pytest.raises(SetupRequired) as refused:
        cycle(fresh)
    assert "tenantsync setup" in str(refused.value) and "Application.ReadWrite.OwnedBy" in str(refused.value)
    assert fresh.store.cycles(fresh.cfg.name) == [] and fresh.store.links(fresh.cfg.name) == {}
    assert len(fresh.target_users()) == 1 and extensions(fresh) == []
    report = run_setup(fresh.cfg)
    assert not report.ok and report.blocking_missing == {"target": ["Application.ReadWrite.OwnedBy"]}
    row = next(r for r in report.rows if r["permission"] == "Application.ReadWrite.OwnedBy")
    assert row["status"] == "missing" and row["neededBy"] == ["setup"]
    assert any(f"grant Application.ReadWrite.OwnedBy (Application) to application {TGT_APP} in tenant {TGT}"
               in f for f in report.fixes)


def test_a_refused_token_in_the_first_cycle_quarantines_as_at_begin_and_setup_waits_for_the_next_attempt(fresh):
    from tenantsync.errors import QuarantinedError

    fresh.mp.setenv("OPS_TGT_TOKEN", "not-the-right-token")
    with pytest.raises(GraphError) as refused:
        cycle(fresh)
    assert refused.value.code == "InvalidAuthenticationToken"
    job = fresh.store.job(fresh.cfg.name)
    assert job.code == "Quarantine" and job.quarantine.reason == "EncounteredQuarantineException"
    assert [c["status"] for c in fresh.store.cycles(fresh.cfg.name)] == ["failure"]
    fresh.mp.setenv("OPS_TGT_TOKEN", TGT_TOKEN)
    with pytest.raises(QuarantinedError):          # not due yet: no Graph call, nothing registered
        cycle(fresh)
    assert extensions(fresh) == []
    assert cycle(fresh, restart=True).counts["create"] == 10 and extensions(fresh) == [ANCHOR]
