"""Pending-acceptance UPN repair: the samples' pending user, and the grouping by five."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tenantsync.config import load_config
from tenantsync.ops.ondemand import provision
from tenantsync.ops.repair import pending_acceptance, run_repair
from tenantsync.store import Store

from .opsworld import HQ_DOMAIN, OUT_OF_SCOPE, uid, world

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "data" / "samples" / "tenants.json"
HQ = "7242482c-0038-4818-b3af-70b2766b9f27"
ZOE_SOURCE, ZOE_PENDING = "2c61be39-a49f-4975-a086-bbe7b399a465", "28c3823a-0966-4f71-afff-858b141b0bea"
RENEE_SOURCE, RENEE_PENDING = "50de6959-ade1-47c0-8ffb-090c27324a56", "bc05e76e-e638-4e3b-9302-25593f9bf341"
MAELLE_PENDING = "707cae82-7325-46be-81e6-a83afe5d4aaa"


@pytest.fixture
def samples(emulator, tmp_path, monkeypatch):
    emulator.reset(json.loads(SAMPLES.read_text(encoding="utf-8")))
    monkeypatch.setenv("TENANTSYNC_GRAPH_URL", emulator.url)
    for name, token in (("EMEA_TOKEN", "emea-token"), ("US_TOKEN", "us-token"), ("HQ_TOKEN", "hq-token")):
        monkeypatch.setenv(name, token)
    stores: list[Store] = []

    def load(name: str):
        cfg = load_config(ROOT / "data" / "configs" / f"{name}.yaml")
        cfg = cfg.model_copy(update={"state": f"sqlite:///{tmp_path}/{name}.db"})
        store = Store.for_url(cfg.state_url)
        stores.append(store)
        return cfg, store

    yield load
    for s in stores:
        s.close()


def rows_by_id(result):
    return {r["id"]: r for r in result.rows}


def test_the_samples_pending_user_gets_the_upn_of_its_source_user(samples, emulator):
    cfg, store = samples("emea-to-hq")
    calls: list[list[str]] = []

    def prov(ids):
        calls.append(list(ids))
        return provision(cfg, ids, store=store)

    result = run_repair(cfg, provision=prov, store=store)
    listed = {r["id"]: r for r in result.pending}
    assert {ZOE_PENDING, RENEE_PENDING, MAELLE_PENDING} <= set(listed)
    assert list(listed[ZOE_PENDING]) == ["DisplayName", "UserPrincipalName", "id", "mail", "createdDateTime"]

    rows = rows_by_id(result)
    zoe = rows[ZOE_PENDING]
    assert zoe["outcome"] == "repaired", zoe
    assert zoe["oldUpn"] == "zoe.muller_emea.contoso.com#EXT#@contosohq.onmicrosoft.com"
    assert zoe["newUpn"] == "zoe.schmidt_emea.contoso.com#EXT#@contosohq.onmicrosoft.com"
    assert (zoe["sourceId"], zoe["matchedBy"]) == (ZOE_SOURCE, "mail")
    # a partner's guest with no source user is listed, never changed
    assert rows[MAELLE_PENDING]["outcome"] == "not repaired"
    assert rows[MAELLE_PENDING]["why"].startswith("no source match")
    assert rows[MAELLE_PENDING]["newUpn"] == rows[MAELLE_PENDING]["oldUpn"]
    # Renée belongs to the US configuration: no EMEA source user has her mail
    assert rows[RENEE_PENDING]["outcome"] == "not repaired" and "no source match" in rows[RENEE_PENDING]["why"]
    assert calls == [[ZOE_SOURCE]]
    # the target user is the same object, now linked and anchored; no duplicate was created
    hq = {u["id"]: u for u in emulator.dump(HQ)["users"]}
    assert hq[ZOE_PENDING]["userPrincipalName"] == zoe["newUpn"]
    assert sum(1 for u in hq.values() if (u.get("mail") or "").lower() == "zoe.muller@emea.contoso.com") == 1
    assert store.links(cfg.name)[ZOE_SOURCE].target_id == ZOE_PENDING
    assert [c["kind"] for c in store.cycles(cfg.name)] == ["on-demand"]
    # a second run finds nothing left to repair for Zoë
    again = rows_by_id(run_repair(cfg, provision=prov, store=store))
    assert again[ZOE_PENDING]["outcome"] == "already correct" and again[ZOE_PENDING]["matchedBy"] == "link"


def test_a_pending_user_whose_upn_is_already_right_is_reported_already_correct(samples):
    cfg, store = samples("us-to-hq")
    result = run_repair(cfg, provision=lambda ids: provision(cfg, ids, store=store), store=store)
    renee = rows_by_id(result)[RENEE_PENDING]
    assert renee["outcome"] == "already correct", renee
    assert renee["oldUpn"] == renee["newUpn"] == "renee.jackson_us.contoso.com#EXT#@contosohq.onmicrosoft.com"
    assert renee["sourceId"] == RENEE_SOURCE


def pending_invite(n: int, **extra):
    return {"id": f"fe000000-0000-4000-8000-{n:012d}", "userPrincipalName":
            f"old{n}_emea.ops.example#EXT#@{HQ_DOMAIN}", "mail": f"user{n}@emea.ops.example",
            "displayName": f"Old {n}", "userType": "Guest", "externalUserState": "PendingAcceptance",
            "accountEnabled": True, "creationType": "Invitation", **extra}


def test_repair_provisions_in_groups_of_five_and_says_why_a_user_is_not_repaired(ops):
    fixture = world()
    fixture["tenants"][1]["users"] += [pending_invite(i) for i in range(1, 8)] + [pending_invite(OUT_OF_SCOPE)]
    ops.load(fixture)
    calls: list[list[str]] = []

    def prov(ids):
        calls.append(list(ids))
        return provision(ops.cfg, ids, store=ops.store)

    assert len(pending_acceptance(ops.api("target", read_only=True))) == 8
    result = run_repair(ops.cfg, provision=prov, store=ops.store)
    assert [len(c) for c in calls] == [5, 3]
    rows = rows_by_id(result)
    for i in range(1, 8):
        r = rows[f"fe000000-0000-4000-8000-{i:012d}"]
        assert r["outcome"] == "repaired" and r["newUpn"] == f"user{i}_emea.ops.example#EXT#@{HQ_DOMAIN}", r
    out = rows[f"fe000000-0000-4000-8000-{OUT_OF_SCOPE:012d}"]
    assert out["outcome"] == "not repaired"
    assert out["why"] == "not in scope: Scoping filter 1.department EQUALS 'Sales' (NotInScope)"
    assert result.repaired == 7 and not result.failed
    assert "7 repaired" in result.summary() and "| not repaired |" in result.render_markdown()
    assert {u["id"] for u in ops.target_users()} >= set(rows)            # nothing deleted
    assert uid(OUT_OF_SCOPE) not in ops.synced()


def test_repair_reports_an_error_from_the_on_demand_run(ops):
    fixture = world()
    fixture["tenants"][1]["users"] += [pending_invite(1)]
    ops.load(fixture)
    from tenantsync.errors import ErrorKind, GraphError

    def failing(ids):
        raise GraphError(429, "TooManyRequests", "Rate limit reached", kind=ErrorKind.TRANSIENT)

    result = run_repair(ops.cfg, provision=failing, store=ops.store)
    [row] = result.rows
    assert row["outcome"] == "not repaired" and row["why"] == "error TooManyRequests: Rate limit reached"
    assert row["newUpn"] == row["oldUpn"] and result.failed
