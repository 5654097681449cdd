"""bench/generate.py: deterministic, realistic, fast enough for 100,000 users."""

from __future__ import annotations

import json
import time
import uuid

import pytest
import yaml

from bench.generate import (
    REGIONS,
    TenantGenerator,
    ascii_fold,
    dumps,
    mail_local,
    main,
    make_fixture,
    make_tenant,
    sync_config_yaml,
)
from tenantsync.emulator.fixture import load_directory


def _tenant(**kw):
    args = dict(tenant_id="00000000-0000-4000-8000-000000000001", display_name="Fabrikam",
                default_domain="fabrikam.onmicrosoft.com", verified_domains=["fabrikam.com"], n_users=300,
                n_groups=30, seed=7, token="t")
    return make_tenant(**{**args, **kw})


def test_same_arguments_give_byte_identical_fixtures():
    assert dumps(make_fixture(n_users=500, n_groups=25, seed="s")) == dumps(make_fixture(n_users=500, n_groups=25, seed="s"))


def test_another_seed_gives_other_users_and_ids():
    a, b = make_fixture(n_users=50, n_groups=3, seed=1), make_fixture(n_users=50, n_groups=3, seed=2)
    assert {u["id"] for u in a["tenants"][0]["users"]}.isdisjoint(u["id"] for u in b["tenants"][0]["users"])
    assert a["tenants"][0]["id"] != b["tenants"][0]["id"]


def test_ids_are_version_4_uuids():
    t = _tenant()
    for o in t["users"] + t["groups"]:
        assert uuid.UUID(o["id"]).version == 4


def test_hundred_thousand_users_have_unique_upns_and_ids_and_take_seconds():
    started = time.perf_counter()
    fixture = make_fixture(n_users=100_000, n_groups=50, seed="bench")
    elapsed = time.perf_counter() - started
    users = fixture["tenants"][0]["users"]
    assert len(users) == 100_000
    assert len({u["userPrincipalName"].lower() for u in users}) == 100_000
    assert len({u["id"] for u in users}) == 100_000
    assert len({u["employeeId"] for u in users}) == 100_000
    assert elapsed < 30, f"{elapsed:.1f}s"          # about 2-4 s on a developer machine


def test_users_look_like_a_real_directory():
    t = _tenant(n_users=2000, region="global")
    members = [u for u in t["users"] if u["userType"] == "Member"]
    assert sum(u["accountEnabled"] for u in members) > 0.95 * len(members)
    assert sum(u["smsSignInState"] == "notAllowedByPolicy" for u in members) > 0.9 * len(members)
    assert all(u["userPrincipalName"].endswith("@fabrikam.com") for u in members)
    assert all(u["mail"] == u["userPrincipalName"] for u in members)
    assert all(u["userPrincipalName"].isascii() for u in members)
    names = {u["givenName"] for u in members} | {u["surname"] for u in members}
    assert {"Zoë", "José", "Åsa", "Bjørn", "Łukasz", "Müller"} <= names
    assert len({u["country"] for u in members}) > 10
    assert all(u["createdDateTime"].endswith("Z") for u in members)


def test_upn_collisions_get_a_number():
    gen = TenantGenerator(seed=1, domains=["x.com"], default_domain="x.onmicrosoft.com")
    upns = [gen.member(given="Zoë", surname="Müller")["userPrincipalName"] for _ in range(3)]
    assert upns == ["zoe.muller@x.com", "zoe.muller2@x.com", "zoe.muller3@x.com"]
    with pytest.raises(ValueError, match="already taken"):
        gen.member(userPrincipalName="ZOE.MULLER@x.com")


@pytest.mark.parametrize("given, surname, local", [
    ("Zoë", "Müller", "zoe.muller"), ("Bjørn", "Ødegård", "bjorn.odegard"), ("Łukasz", "Wiśniewski", "lukasz.wisniewski"),
    ("Siobhán", "Ó Súilleabháin", "siobhan.osuilleabhain"), ("Tyler", "St. John", "tyler.stjohn"),
    ("Daan", "van den Berg", "daan.vandenberg"), ("İrem", "Yılmaz", "irem.yilmaz"), ("Jörg", "Groß", "jorg.gross"),
])
def test_mail_local_parts_fold_accents_to_ascii(given, surname, local):
    assert mail_local(given, surname) == local
    assert ascii_fold(given).isascii()


def test_groups_sync_group_first_departments_then_teams_with_acyclic_nesting():
    t = _tenant(n_users=400, n_groups=40, guest_ratio=0.05, nested_ratio=0.5)
    groups = t["groups"]
    assert len(groups) == 40 and groups[0]["displayName"] == "CTS - HQ sync"
    assert groups[1]["displayName"].startswith("Dept - ")
    position = {g["id"]: i for i, g in enumerate(groups)}
    nested = [(i, position[m]) for i, g in enumerate(groups) for m in g["members"] if m in position]
    assert nested and all(parent < child for parent, child in nested)      # no cycles
    assert any(parent == 0 for parent, _ in nested)                          # a group nested in the sync group
    guests = {u["id"] for u in t["users"] if u["userType"] == "Guest"}
    assert guests and not guests & set(groups[0]["members"])
    assert all("#EXT#@fabrikam.onmicrosoft.com" in u["userPrincipalName"] for u in t["users"] if u["id"] in guests)


def test_ratios_are_respected():
    t = _tenant(n_users=3000, n_groups=1, disabled_ratio=0.1, sms_ready_ratio=0.05, sync_group_share=0.5)
    n = len(t["users"])
    assert 0.07 * n < sum(not u["accountEnabled"] for u in t["users"]) < 0.13 * n
    assert 0.03 * n < sum(u["smsSignInState"] == "ready" for u in t["users"]) < 0.07 * n
    assert all(u["mobilePhone"] for u in t["users"] if u["smsSignInState"] == "ready")
    assert 0.45 * n < len(t["groups"][0]["members"]) < 0.55 * n


def test_fixture_source_and_empty_target_allow_automatic_redemption():
    source, target = make_fixture(n_users=10, n_groups=2, seed=3)["tenants"]
    assert target["users"] == [] and target["groups"] == []
    (out,) = source["crossTenantAccessPolicy"]["partners"]
    (inb,) = target["crossTenantAccessPolicy"]["partners"]
    assert out["tenantId"] == target["id"] and out["automaticUserConsentSettings"]["outboundAllowed"] is True
    assert inb["tenantId"] == source["id"] and inb["automaticUserConsentSettings"]["inboundAllowed"] is True
    assert inb["identitySynchronization"]["userSyncInbound"]["isSyncAllowed"] is True
    assert source["premium"] and target["premium"]
    assert len(source["groups"][0]["members"]) == 10       # every member in the assigned group


def test_cli_writes_fixture_and_matching_config(tmp_path, capsys):
    out, cfg = tmp_path / "f.json", tmp_path / "c.yaml"
    assert main(["--users", "200", "--groups", "5", "--seed", "9", "--out", str(out), "--config", str(cfg)]) == 0
    fixture = json.loads(out.read_text(encoding="utf-8"))
    config = yaml.safe_load(cfg.read_text(encoding="utf-8"))
    source, target = fixture["tenants"]
    assert len(source["users"]) == 200 and len(source["groups"]) == 5
    assert config["scope"] == {"mode": "all"}
    assert config["connections"]["source"]["tenant_id"] == source["id"]
    assert config["connections"]["target"]["tenant_id"] == target["id"]
    assert config["connections"]["source"]["auth"] == {"kind": "static_token", "token_env": "SOURCE_TOKEN"}
    assert config["connections"]["source"]["graph_url"] == "${TENANTSYNC_GRAPH_URL:-http://127.0.0.1:8765/v1.0}"
    assert "200 users" in capsys.readouterr().err


def test_assigned_scope_config_names_the_sync_group():
    fixture = make_fixture(n_users=20, n_groups=3, seed=4)
    config = yaml.safe_load(sync_config_yaml(fixture, scope="assigned", name="b"))
    assert config["scope"]["assignments"]["groups"] == [fixture["tenants"][0]["groups"][0]["id"]]
    with pytest.raises(ValueError):
        sync_config_yaml(make_fixture(n_users=20, n_groups=0, seed=4), scope="assigned")


def test_unknown_region_is_refused():
    with pytest.raises(ValueError, match="unknown region"):
        _tenant(region="mars")
    assert set(REGIONS) == {"emea", "us", "global"}


def test_the_emulator_accepts_generated_fixtures():
    fixture = make_fixture(n_users=300, n_groups=30, seed=5)
    directory = load_directory(fixture)
    assert len(directory.tenants) == len(fixture["tenants"])
    assert load_directory({"tenants": [_tenant(guest_ratio=0.2, sms_ready_ratio=0.1)]}).tenants
