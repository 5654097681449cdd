"""A configuration's mappings and scoping filters as a synchronizationSchema and back (pure)."""

from __future__ import annotations

import json

import pytest

from tenantsync.config import OPERATORS, UNARY_OPERATORS, FilterClause, Mapping, SyncConfig, load_default_mappings
from tenantsync.syncschema import (
    RULE_ID,
    RULE_NAME,
    config_parts_from_schema,
    default_schema,
    schema_from_config,
    user_object_mapping,
    user_rule,
)

VALUES = {"&": "4", "!&": "8", "ENDS_WITH": "@contoso.com", "EQUALS": "Sales", "Greater_Than": 5,
          "Greater_Than_OR_EQUALS": 10, "Includes": "Paris", "NOT EQUALS": "Guest",
          "NOT REGEX MATCH": r".*\@fabrikam.com", "REGEX MATCH": r"(1[0-9][0-9])"}


def cfg(mappings: list[dict], filters: list[list[dict]], default_mappings: bool = False) -> SyncConfig:
    return SyncConfig.model_validate({
        "name": "emea-to-hq", "source": {"connection": "emea"}, "target": {"connection": "hq"},
        "scope": {"mode": "all", "filters": filters}, "mappings": mappings,
        "default_mappings": default_mappings})


def without_notes(ms: list[Mapping]) -> list[Mapping]:
    return [m.model_copy(update={"note": None}) for m in ms]


def test_default_schema_is_the_cts_user_rule_with_the_documented_default_mappings():
    schema = default_schema()
    rule = user_rule(schema)
    assert (rule["name"], rule["id"], rule["priority"]) == (RULE_NAME, RULE_ID, 1)
    assert rule["sourceDirectoryName"] == "Azure Active Directory"
    assert rule["targetDirectoryName"] == "Azure Active Directory (target tenant)"
    assert {"key": "supportsProvisionOnDemand", "value": "true"} in rule["metadata"]
    om = user_object_mapping(schema)
    assert om["name"] == "Provision Azure Active Directory Users"
    by_target = {m["targetAttributeName"]: m for m in om["attributeMappings"]}
    alt = by_target["alternativeSecurityIds"]
    assert alt["source"]["expression"] == "AltSecIdFromNetId([netId])"
    assert (alt["source"]["type"], alt["source"]["name"], alt["matchingPriority"]) == ("Function", "AltSecIdFromNetId", 1)
    assert by_target["userType"]["source"] == {"expression": '"Member"', "name": "Member", "parameters": [],
                                               "type": "Constant"}
    assert by_target["userType"]["flowType"] == "ObjectAddOnly"
    assert by_target["mail"]["source"]["type"] == "Attribute"
    assert by_target["mail"]["flowType"] == "Always" and by_target["mail"]["matchingPriority"] == 0
    assert om["scope"]["groups"] == []
    mappings, filters = config_parts_from_schema(schema)
    assert mappings == without_notes(load_default_mappings()) and filters == []


def test_every_operator_round_trips_and_groups_stay_an_or_of_ands():
    clauses = [{"attribute": "department", "operator": op} | ({} if op in UNARY_OPERATORS else {"value": VALUES[op]})
               for op in OPERATORS]
    filters = [clauses[:7], clauses[7:], [clauses[3]]]
    config = cfg([], filters)
    schema = schema_from_config(config)
    groups = user_object_mapping(schema)["scope"]["groups"]
    assert [len(g["clauses"]) for g in groups] == [7, len(OPERATORS) - 7, 1]
    assert {c["operatorName"] for g in groups for c in g["clauses"]} == set(OPERATORS)
    unary = next(c for c in groups[1]["clauses"] if c["operatorName"] == "IS NULL")
    assert unary["targetOperand"] == {"values": []}
    assert groups[2]["clauses"] == [{"operatorName": "EQUALS", "sourceOperandName": "department",
                                     "targetOperand": {"values": ["Sales"]}}]
    _, back = config_parts_from_schema(json.loads(json.dumps(schema)))
    assert back == config.scope.filters


def test_every_mapping_type_round_trips_and_expressions_are_kept_verbatim():
    expression = 'Join("_", Mid([userPrincipalName], 1, 8),  Switch([country], "x", "FR", "\\"quoted\\""))'
    mappings = [
        {"target": "jobTitle", "type": "direct", "source": "jobTitle", "default": "Staff"},
        {"target": "companyName", "type": "constant", "value": 'Contoso "EU"', "apply": "on_create"},
        {"target": "mailNickname", "type": "expression", "expression": expression},
        {"target": "employeeType", "type": "none", "default": "Contractor"},
    ]
    config = cfg(mappings, [])
    schema = schema_from_config(config)
    by_target = {m["targetAttributeName"]: m for m in user_object_mapping(schema)["attributeMappings"]}
    assert by_target["mailNickname"]["source"]["expression"] == expression
    assert by_target["mailNickname"]["source"]["name"] == "Join"
    assert by_target["employeeType"]["source"] is None
    assert by_target["employeeType"]["defaultValue"] == "Contractor"
    assert by_target["companyName"]["flowType"] == "ObjectAddOnly"
    assert by_target["jobTitle"]["defaultValue"] == "Staff"
    back, _ = config_parts_from_schema(json.loads(json.dumps(schema)))
    assert back == list(config.effective_mappings)


def test_configured_mappings_lay_over_the_defaults_in_the_schema():
    config = cfg([{"target": "userType", "type": "constant", "value": "Member", "apply": "always"}], [],
                 default_mappings=True)
    by_target = {m["targetAttributeName"]: m
                 for m in user_object_mapping(schema_from_config(config))["attributeMappings"]}
    assert by_target["userType"]["flowType"] == "Always"
    assert "alternativeSecurityIds" in by_target and "manager" in by_target


def test_a_schema_edited_elsewhere_with_an_unsupported_flow_type_is_refused_with_its_attribute():
    schema = default_schema()
    user_object_mapping(schema)["attributeMappings"][2]["flowType"] = "MultiValueAddOnly"
    with pytest.raises(ValueError, match="accountEnabled: flowType MultiValueAddOnly"):
        config_parts_from_schema(schema)


def test_a_binary_clause_without_a_value_is_refused():
    schema = schema_from_config(cfg([], [[{"attribute": "city", "operator": "EQUALS", "value": "Paris"}]]))
    user_object_mapping(schema)["scope"]["groups"][0]["clauses"][0]["targetOperand"]["values"] = []
    with pytest.raises(ValueError, match="city EQUALS: one value expected"):
        config_parts_from_schema(schema)


def test_a_schema_without_rules_is_refused():
    with pytest.raises(ValueError, match="no synchronizationRules"):
        config_parts_from_schema({"synchronizationRules": []})


def test_filter_clause_type_is_the_config_model():
    schema = schema_from_config(cfg([], [[{"attribute": "city", "operator": "IS TRUE"}]]))
    assert config_parts_from_schema(schema)[1] == [[FilterClause(attribute="city", operator="IS TRUE")]]
