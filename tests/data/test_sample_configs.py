"""data/configs/*.yaml and data/default_mappings.yaml: what the engine and an operator rely on."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from tenantsync import config
from tenantsync.config import load_config
from tenantsync.emulator.tokens import plain_app_id

DATA = Path(__file__).resolve().parents[2] / "data"
SYNC_CONFIGS = {"emea-to-hq": ("emea", "Contoso EMEA"), "us-to-hq": ("us", "Contoso US")}
GRAPH_URL = "${TENANTSYNC_GRAPH_URL:-http://127.0.0.1:8765/v1.0}"


def _yaml(name: str):
    return yaml.safe_load((DATA / "configs" / f"{name}.yaml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def tenants():
    fixture = json.loads((DATA / "samples" / "tenants.json").read_text(encoding="utf-8"))
    return {t["displayName"]: t for t in fixture["tenants"]}


@pytest.mark.parametrize("name", SYNC_CONFIGS)
def test_sync_configs_point_at_the_sample_tenants(name, tenants):
    cfg = _yaml(name)
    conn, tenant_name = SYNC_CONFIGS[name]
    source, hq = tenants[tenant_name], tenants["Contoso HQ"]
    assert cfg["name"] == name
    assert cfg["source"] == {"connection": conn} and cfg["target"] == {"connection": "hq"}
    assert cfg["state"] == f"sqlite:///data/state/{name}.db"
    assert cfg["settings"] == {"interval_minutes": 40, "deletion_threshold": 500,
                               "notification_email": "identity-ops@contoso.com", "on_leave_scope": "delete",
                               "anchor_extension": "tenantsyncSourceAnchor"}
    assert cfg["connections"][conn]["tenant_id"] == source["id"]
    assert cfg["connections"]["hq"]["tenant_id"] == hq["id"]
    for c, token in ((conn, source["tokens"][0]), ("hq", "hq-token")):
        assert cfg["connections"][c]["graph_url"] == GRAPH_URL
        auth = {"kind": "static_token", "token_env": f"{c.upper()}_TOKEN"}
        if c == "hq":   # the target's application (setup registers the anchor extension on it)
            auth["client_id"] = plain_app_id(token)
        assert cfg["connections"][c]["auth"] == auth
        assert token.startswith(c)


@pytest.mark.parametrize("name", SYNC_CONFIGS)
def test_sync_configs_assign_the_cts_group_and_filter_on_the_upn_domain(name, tenants):
    cfg = _yaml(name)
    source = tenants[SYNC_CONFIGS[name][1]]
    assert cfg["scope"]["mode"] == "assigned"
    (group_id,) = cfg["scope"]["assignments"]["groups"]
    group = next(g for g in source["groups"] if g["id"] == group_id)
    assert group["displayName"] == "CTS - HQ sync"
    ((clause,),) = cfg["scope"]["filters"]
    assert clause["attribute"] == "userPrincipalName" and clause["operator"] == "REGEX MATCH"
    domain = source["domains"][0]["id"]
    rx = re.compile(clause["value"])
    assert rx.search(f"someone@{domain}") and not rx.search(f"svc@{source['defaultDomain']}")
    assert not rx.search(f"someone@{domain}.evil.com")
    # accountEnabled is left to the engine: the filter must keep disabled users in scope.
    assert all(c["attribute"] != "accountEnabled" for group in cfg["scope"]["filters"] for c in group)
    targets = {m["target"]: m for m in cfg["mappings"]}
    assert targets["userType"] == {"target": "userType", "type": "constant", "value": "Member", "apply": "always"}
    assert targets["displayName"]["type"] == "direct"


def test_user_source_sample_has_the_settings_of_the_user_source_flow(tenants):
    cfg = _yaml("user-source")
    assert cfg["target"] == {"directory": "sqlite:///data/state/directory.db"}
    assert cfg["source"]["connection"] in ("emea", "hq")
    assert cfg["connections"][cfg["source"]["connection"]]["tenant_id"] in {t["id"] for t in tenants.values()}
    s = cfg["settings"]
    assert s["interval_minutes"] == 60 and s["enabled"] is True and s["auto_invite"] is True
    assert s["instance_name"]
    assert s["managed_apple_id"] == {"scheme": "upn", "appleid_subdomain": True}
    assert s["custom_attributes"] == [{"name": "costCenter", "source": "department"}]


@pytest.mark.parametrize("name", SYNC_CONFIGS)
def test_sync_configs_pass_the_config_loader(name):
    cfg = load_config(DATA / "configs" / f"{name}.yaml")      # compiles every expression too
    assert cfg.name == name
    targets = [m.target for m in cfg.effective_mappings]
    assert targets[0] == "alternativeSecurityIds" and len(targets) == len(set(targets))


# data/default_mappings.yaml ----------------------------------------------------------------------

CONFIRMED = {  # docs/entra-behaviour.md#default-user-mappings: target -> (type, source or value)
    "alternativeSecurityIds": ("expression", "AltSecIdFromNetId([netId])"),
    "IsSoftDeleted": ("direct", "IsSoftDeleted"), "accountEnabled": ("direct", "accountEnabled"),
    "streetAddress": ("direct", "streetAddress"), "city": ("direct", "city"), "state": ("direct", "state"),
    "postalCode": ("direct", "postalCode"), "country": ("direct", "country"),
    "department": ("direct", "department"), "employeeId": ("direct", "employeeId"),
    "displayName": ("direct", "displayName"), "givenName": ("direct", "givenName"),
    "userPrincipalName": ("direct", "userPrincipalName"), "showInAddressList": ("constant", "true"),
    "mail": ("direct", "mail"), "userType": ("constant", "Member"), "mailNickname": ("direct", "mailNickname"),
    "preferredLanguage": ("direct", "preferredLanguage"), "manager": ("direct", "manager"),
}


@pytest.fixture(scope="module")
def defaults():
    return yaml.safe_load((DATA / "default_mappings.yaml").read_text(encoding="utf-8"))


def test_default_mappings_hold_every_documented_row(defaults):
    by_target = {m["target"]: m for m in defaults}
    assert len(by_target) == len(defaults)                   # one row per target attribute
    for target, (kind, src) in CONFIRMED.items():
        m = by_target[target]
        assert m["type"] == kind
        assert m.get({"direct": "source", "constant": "value", "expression": "expression"}[kind]) == src
        assert m["note"].startswith("CONFIRMED"), target
    assert [m["target"] for m in defaults][:2] == ["alternativeSecurityIds", "IsSoftDeleted"]


def test_matching_row_is_the_only_one_and_fixed_at_precedence_one(defaults):
    matching = [m for m in defaults if m.get("matching")]
    assert matching == [defaults[0]]
    assert defaults[0]["precedence"] == 1 and defaults[0]["apply"] == "always"


def test_every_row_is_confirmed_or_a_stated_decision(defaults):
    allowed = {"target", "type", "source", "value", "expression", "apply", "default", "matching", "precedence", "note"}
    for m in defaults:
        assert set(m) <= allowed, m
        assert m["type"] in ("direct", "constant", "expression", "none")
        assert m["apply"] in ("always", "on_create")
        assert m["note"].startswith(("CONFIRMED", "DECISION")), m["target"]
    decided = {m["target"] for m in defaults if m["note"].startswith("DECISION")}
    assert decided == {"surname", "jobTitle", "companyName", "officeLocation", "usageLocation", "mobilePhone"}
    assert "businessPhones" not in {m["target"] for m in defaults}      # multi-valued: see the file's comment
    assert next(m for m in defaults if m["target"] == "userType")["apply"] == "on_create"


def test_default_mappings_pass_the_config_loader():
    loaded = config.load_default_mappings()
    assert [m.target for m in loaded][0] == config.MATCHING_TARGET
    assert loaded[0].expression == config.MATCHING_EXPRESSION
