"""A bad configuration is refused before anything runs, with file, line, key, value and what is allowed."""

from __future__ import annotations

import textwrap

import pytest

from tenantsync.config import load_config
from tenantsync.errors import ConfigError

GOOD = """\
name: emea-to-hq
source: {connection: emea}
target: {connection: hq}
scope:
  mode: assigned
  assignments: {groups: [15dd8750-8a60-4194-afda-cad956a8afdd]}
  filters:
    - - {attribute: department, operator: EQUALS, value: Sales}
mappings:
  - {target: userType, type: constant, value: Member, apply: always}
  - {target: displayName, type: expression, expression: 'Join(", ", [surname], [givenName])'}
settings:
  deletion_threshold: 500
connections:
  emea: {tenant_id: 2cee517d-601a-44f9-82ff-f26697be201f, graph_url: "${TS_TEST_URL:-http://127.0.0.1:8765/v1.0}", auth: {kind: static_token, token_env: EMEA_TOKEN}}
  hq: {tenant_id: 7242482c-0038-4818-b3af-70b2766b9f27, auth: {kind: client_secret, client_id: c148f1d8-73ed-55a9-ad16-6662fffdb4c7, client_secret_env: HQ_SECRET}}
"""


def write(tmp_path, text):
    p = tmp_path / "cfg.yaml"
    p.write_text(textwrap.dedent(text))
    return p


def error_of(tmp_path, text) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    return info.value


def test_good_config_loads_over_the_default_mappings(tmp_path, monkeypatch):
    monkeypatch.setenv("TS_TEST_URL", "http://127.0.0.1:9999/v1.0")
    cfg = load_config(write(tmp_path, GOOD))
    targets = [m.target for m in cfg.effective_mappings]
    assert "alternativeSecurityIds" in targets and "accountEnabled" in targets
    assert next(m for m in cfg.effective_mappings if m.target == "userType").apply == "always"
    assert cfg.connection("emea").graph_url == "http://127.0.0.1:9999/v1.0"
    assert cfg.connection("hq").name == "hq"
    assert cfg.state_url == "sqlite:///data/state/emea-to-hq.db"


def test_bad_literal_names_line_key_value_and_allowed(tmp_path):
    err = error_of(tmp_path, GOOD.replace("mode: assigned", "mode: some"))
    assert err.line == 5 and err.key == "scope.mode" and err.value == "some"
    assert "assigned" in str(err) and "all" in str(err) and "cfg.yaml:5" in str(err)


def test_unknown_operator(tmp_path):
    err = error_of(tmp_path, GOOD.replace("operator: EQUALS", "operator: LIKE"))
    assert err.line == 8 and "LIKE" in str(err) and "REGEX MATCH" in str(err)


def test_bad_expression_names_the_column(tmp_path):
    err = error_of(tmp_path, GOOD.replace("Join(", "Jion("))
    assert err.line == 11 and "column 1" in str(err) and "Jion" in str(err)


def test_changing_the_matching_attribute_is_schema_invalid(tmp_path):
    text = GOOD.replace("mappings:\n", "mappings:\n  - {target: mail, type: direct, source: mail, matching: true}\n")
    err = error_of(tmp_path, text)
    assert "schemaInvalid" in str(err) and err.line == 10


def test_unknown_key_and_missing_key(tmp_path):
    assert "unknown key 'deletion_treshold'" in str(error_of(tmp_path, GOOD.replace("deletion_threshold", "deletion_treshold")))
    err = error_of(tmp_path, GOOD.replace("source: {connection: emea}\n", ""))
    assert "required key 'source' is missing" in str(err)


def test_assigned_scope_needs_an_assignment(tmp_path):
    err = error_of(tmp_path, GOOD.replace("assignments: {groups: [15dd8750-8a60-4194-afda-cad956a8afdd]}", "assignments: {groups: []}"))
    assert "at least one assigned user or group" in str(err)


def test_invalid_yaml_names_the_line(tmp_path):
    err = error_of(tmp_path, GOOD.replace("  mode: assigned", "  mode: [assigned"))
    assert err.line is not None and "not valid YAML" in str(err)


def test_greater_than_needs_an_integer_and_regex_must_compile(tmp_path):
    assert "integer" in str(error_of(tmp_path, GOOD.replace("operator: EQUALS, value: Sales",
                                                             "operator: Greater_Than, value: ten")))
    assert "regular expression" in str(error_of(tmp_path, GOOD.replace("operator: EQUALS, value: Sales",
                                                                        "operator: REGEX MATCH, value: '(a'")))


def test_missing_environment_variable_is_named_without_a_value(tmp_path):
    err = error_of(tmp_path, GOOD.replace("${TS_TEST_URL:-http://127.0.0.1:8765/v1.0}", "${TS_UNSET_VAR}"))
    assert "TS_UNSET_VAR" in str(err) and err.line == 15


def test_the_old_invented_anchor_name_is_refused_with_the_fix(tmp_path):
    err = error_of(tmp_path, GOOD.replace("  deletion_threshold: 500\n", "  deletion_threshold: 500\n"
                                          "  anchor_attribute: extension_tenantsync_sourceAnchor\n"))
    assert (err.key, err.line) == ("settings.anchor_attribute", 14)
    assert "not a directory extension" in err.message and "tenantsync setup CONFIG" in err.message
    assert "remove settings.anchor_attribute" in err.message


def test_anchor_names_are_checked(tmp_path):
    cfg = load_config(write(tmp_path, GOOD))
    assert cfg.settings.anchor_extension == "tenantsyncSourceAnchor" and cfg.settings.anchor_attribute is None
    full = "extension_0a1b2c3d4e5f40718293a4b5c6d7e8f9_tenantsyncSourceAnchor"
    ok = load_config(write(tmp_path, GOOD.replace("  deletion_threshold: 500\n",
                                                  f"  deletion_threshold: 500\n  anchor_attribute: {full}\n")))
    assert ok.settings.anchor_attribute == full
    for bad, key in (("anchor_attribute: extension_abc_anchor", "settings.anchor_attribute"),
                     ("anchor_extension: source-anchor", "settings.anchor_extension"),
                     (f"anchor_extension: other\n  anchor_attribute: {full}", "settings")):
        err = error_of(tmp_path, GOOD.replace("  deletion_threshold: 500\n", f"  deletion_threshold: 500\n  {bad}\n"))
        assert err.key == key, (bad, err)


def test_client_id_is_accepted_for_a_static_token(tmp_path):
    text = GOOD.replace("auth: {kind: static_token, token_env: EMEA_TOKEN}",
                        "auth: {kind: static_token, token_env: EMEA_TOKEN, client_id: 0a1b2c3d-4e5f-4071-8293-a4b5c6d7e8f9}")
    cfg = load_config(write(tmp_path, text))
    assert cfg.connection("emea").auth.client_id == "0a1b2c3d-4e5f-4071-8293-a4b5c6d7e8f9"
