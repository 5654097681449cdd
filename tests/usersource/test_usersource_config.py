"""The user-source configuration file: the sample loads; every mistake names file, line, key and
what is allowed, before anything is read or written."""

from __future__ import annotations

from pathlib import Path

import pytest

from tenantsync.errors import ConfigError
from tenantsync.usersource import load_user_source_config
from tenantsync.usersource.appleid import managed_apple_id
from tenantsync.usersource.config import ManagedAppleId, substitute, variables_in

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "configs" / "user-source.yaml"

GOOD = """\
name: corp-user-source
source: {connection: corp}
target: {directory: "sqlite:///DIR/directory.db"}
settings:
  instance_name: Corp
  managed_apple_id: {scheme: upn}
  invitation:
    subject: "Hello ${givenName}"
    body: "cost center ${costCenter}"
  custom_attributes:
    - {name: costCenter, source: department}
connections:
  corp: {tenant_id: 2cee517d-601a-44f9-82ff-f26697be201f, graph_url: "http://127.0.0.1:1/v1.0", auth: {kind: static_token, token_env: X}}
"""


def write(tmp_path, text: str) -> Path:
    path = tmp_path / "us.yaml"
    path.write_text(text.replace("DIR", str(tmp_path)), encoding="utf-8")
    return path


def error_of(tmp_path, text: str) -> ConfigError:
    with pytest.raises(ConfigError) as err:
        load_user_source_config(write(tmp_path, text))
    return err.value


def test_the_sample_loads_with_its_documented_settings():
    cfg = load_user_source_config(SAMPLE)
    s = cfg.settings
    assert (cfg.name, s.instance_name, s.interval_minutes, s.enabled, s.auto_invite) == \
        ("emea-user-source", "Contoso EMEA", 60, True, True)
    assert s.managed_apple_id == ManagedAppleId(scheme="upn", appleid_subdomain=True)
    assert cfg.custom_names == ("costCenter",) and "costCenter" in cfg.variables
    assert cfg.directory_url == "sqlite:///data/state/directory.db"
    assert cfg.source_connection.tenant_id == "2cee517d-601a-44f9-82ff-f26697be201f"


def test_a_good_file_loads(tmp_path):
    cfg = load_user_source_config(write(tmp_path, GOOD))
    assert cfg.settings.enabled and not cfg.settings.auto_invite and cfg.settings.interval_minutes == 60
    assert [m.target for m in cfg.user_mappings][:3] == ["userPrincipalName", "mail", "displayName"]


@pytest.mark.parametrize("old, new, line, key, allowed, says", [
    ("{scheme: upn}", "{scheme: appleid}", 6, "settings.managed_apple_id.scheme", "none, email or upn",
     "'appleid' is not allowed"),
    ("cost center ${costCenter}", "cost center ${costCentre}", 9, "settings.invitation.body", "costCenter",
     "unknown variable ${costCentre} in the invitation body"),
    ("{name: costCenter, source: department}", "{name: mail, source: department}", 11,
     "settings.custom_attributes[0].name", None, "'mail' is a built-in variable"),
    ("{name: costCenter, source: department}", "{name: costCenter, source: department, value: x}", 11,
     "settings.custom_attributes[0]", None, "exactly one of 'source', 'expression' or 'value'"),
    ("{name: costCenter, source: department}", "{name: costCenter, expression: 'Jion([a])'}", 11,
     "settings.custom_attributes[0].expression", None, "unknown function"),
    ("source: {connection: corp}", "source: {connection: emea}", 2, "source.connection", "corp",
     "connection 'emea' is not defined"),
    ("  instance_name: Corp\n", "  instance_name: Corp\n  interval_minutes: 0\n", 6,
     "settings.interval_minutes", None, "greater than or equal to 1"),
    ("  instance_name: Corp\n", "  instance_name: Corp\n  ignore_missing: [nickname]\n", 6,
     "settings.ignore_missing[0]", "costCenter", "'nickname' is neither"),
    ("  instance_name: Corp\n", "  instance_name: Corp\n  enabeld: true\n", 6, "settings.enabeld", None,
     "unknown key 'enabeld'"),
])
def test_errors_name_file_line_key_and_allowed_values(tmp_path, old, new, line, key, allowed, says):
    assert old in GOOD
    err = error_of(tmp_path, GOOD.replace(old, new))
    assert err.file and err.file.endswith("us.yaml") and err.key == key and says in str(err)
    assert err.line == line, str(err)
    if allowed:
        assert allowed in (err.allowed or "")
    assert str(err).startswith(f"{err.file}:{line}: {key}: ")


def test_mappings_target_directory_attributes_only(tmp_path):
    text = GOOD.replace("settings:", "mappings:\n  - {target: costCenter, type: direct, source: department}\n"
                                     "settings:")
    err = error_of(tmp_path, text)
    assert err.key == "mappings[0].target" and err.line == 5
    assert "userPrincipalName" in err.allowed and "settings.custom_attributes" in str(err)


def test_scope_is_every_user_and_group_and_state_is_not_a_key(tmp_path):
    err = error_of(tmp_path, GOOD.replace("settings:", "scope: {mode: assigned}\nsettings:"))
    assert err.key == "scope.mode" and err.allowed == "all"
    err = error_of(tmp_path, GOOD.replace("settings:", "state: sqlite:///x.db\nsettings:"))
    assert err.key == "state" and err.line == 4 and "directory database" in str(err)


def test_instance_name_is_required(tmp_path):
    err = error_of(tmp_path, GOOD.replace("  instance_name: Corp\n", ""))
    assert err.key == "settings.instance_name" and "required key 'instance_name' is missing" in str(err)


def test_variables_and_dollar_escape():
    assert variables_in("a ${x} $${y} ${z}") == ["x", "z"]
    assert substitute("${a}-${b}-$$-${c}", {"a": "1", "b": None, "c": True}) == "1--$-true"


@pytest.mark.parametrize("scheme, subdomain, user, expected", [
    ("upn", True, {"userPrincipalName": "jane@contoso.com"}, "jane@appleid.contoso.com"),
    ("upn", False, {"userPrincipalName": "jane@contoso.com"}, "jane@contoso.com"),
    ("email", True, {"mail": "jane.doe@contoso.com", "userPrincipalName": "j@x.com"}, "jane.doe@appleid.contoso.com"),
    ("email", True, {"userPrincipalName": "jane@contoso.com"}, None),                 # no mail
    ("upn", True, {"userPrincipalName": "jane@appleid.contoso.com"}, "jane@appleid.contoso.com"),
    ("upn", True, {"userPrincipalName": "jane_fabrikam.com#EXT#@contoso.onmicrosoft.com"}, None),
    ("none", True, {"userPrincipalName": "jane@contoso.com"}, None),
])
def test_managed_apple_id(scheme, subdomain, user, expected):
    assert managed_apple_id(user, ManagedAppleId(scheme=scheme, appleid_subdomain=subdomain)) == expected
