"""The compiled mappings (stages/mapping.py: one generated function per flavour) give what the rules
say, evaluated one after another as the engine did before compiling them: ``interpret`` below is
that loop, kept as the reference."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tenantsync.config import Mapping, load_default_mappings
from tenantsync.expressions import IGNORE, compile_expression
from tenantsync.stages.mapping import ENGINE_TARGETS, Desired, MappingPlan, b2b_upn
from tests.expressions.test_expression_vectors import VECTORS

DOMAIN = "contosohq.onmicrosoft.com"


def upn(value: str) -> str:
    return b2b_upn(value, DOMAIN)


def interpret(mappings: list[Mapping], user: dict[str, Any], *, creating: bool,
              upn_transform: Callable[[str], str] | None = upn) -> Desired:
    """The rules one by one (the engine's map_user before compilation)."""
    view = {**user, "netId": user.get("id")}
    values: dict[str, Any] = {}
    fill: dict[str, Any] = {}
    redacted: set[str] = set()
    for m in mappings:
        if m.target in ENGINE_TARGETS or (m.apply == "on_create" and not creating):
            continue
        if m.type == "none":
            if m.default is not None:
                fill[m.target] = m.default
            continue
        redacts = False
        if m.type == "direct":
            value = view.get(m.source or "")
        elif m.type == "constant":
            value = m.value
        else:
            compiled = compile_expression(m.expression or "")
            value, redacts = compiled.evaluate(view), compiled.redacts
        if value is IGNORE:
            continue
        if (value is None or value == "") and m.default is not None and creating:
            value = m.default
        if m.target == "userPrincipalName" and value and upn_transform:
            value = upn_transform(str(value))
        if m.target in ("accountEnabled", "showInAddressList") and isinstance(value, str):
            value = value.strip().lower() == "true"
        values[m.target] = value
        if redacts:
            redacted.add(m.target)
    return Desired(values, fill, frozenset(redacted))


def same(a: Desired, b: Desired) -> bool:
    """Equal, and in the same order (the order of modifiedProperties in the log)."""
    return a == b and list(a.values) == list(b.values) and list(a.fill_if_empty) == list(b.fill_if_empty)


@pytest.mark.parametrize(("expression", "user", "expected"), VECTORS,
                         ids=[f"{i:02}-{v[0][:40]}" for i, v in enumerate(VECTORS)])
@pytest.mark.parametrize("creating", [True, False])
def test_compiled_expression_mapping_gives_the_documented_vector(expression: str, user: dict, expected: object,
                                                                 creating: bool) -> None:
    mappings = [Mapping(target="extensionAttribute1", type="expression", expression=expression)]
    got = MappingPlan(mappings).map_user(user, creating=creating)
    assert same(got, interpret(mappings, user, creating=creating))
    if expected is IGNORE:
        assert "extensionAttribute1" not in got.values
    else:
        assert got.values["extensionAttribute1"] == expected


MIXED = [
    Mapping(target="accountEnabled", type="direct", source="accountEnabled"),
    Mapping(target="displayName", type="direct", source="displayName", default="(no name)"),
    Mapping(target="userPrincipalName", type="direct", source="userPrincipalName"),
    Mapping(target="showInAddressList", type="constant", value=" TRUE "),
    Mapping(target="userType", type="constant", value="Member", apply="on_create"),
    Mapping(target="usageLocation", type="none", default="FR"),
    Mapping(target="city", type="none"),
    Mapping(target="employeeId", type="direct", source="netId"),
    Mapping(target="extensionAttribute2", type="expression", expression="Join(\"/\", [netId], [city])"),
    Mapping(target="extensionAttribute3", type="expression", expression="Redact([mobilePhone])"),
    Mapping(target="extensionAttribute4", type="expression",
            expression="IgnoreFlowIfNullOrEmpty([department])", default="none", apply="on_create"),
    Mapping(target="jobTitle", type="constant", value="", default="Staff"),
    Mapping(target="department", type="direct", source="department"),
    Mapping(target="department", type="constant", value="Sales"),          # a later rule wins
    Mapping(target="mail", type="expression", expression="ToLower([mail])", default="x@y"),
    Mapping(target="alternativeSecurityIds", type="expression", expression="AltSecIdFromNetId([netId])",
            matching=True, precedence=1),
    Mapping(target="manager", type="direct", source="manager"),
]
USERS = [
    {"id": "s1", "accountEnabled": "False", "displayName": "", "userPrincipalName": "ann@emea.contoso.com",
     "city": "Paris", "mobilePhone": "+33 6", "department": "", "mail": "Ann@EMEA.contoso.com"},
    {"id": "s2", "accountEnabled": True, "displayName": "Bo", "userPrincipalName": "",
     "department": "Ops", "mail": None},
    {"id": "s3"},
]


@pytest.mark.parametrize("user", USERS, ids=["ann", "bo", "empty"])
@pytest.mark.parametrize("creating", [True, False])
@pytest.mark.parametrize("transform", [upn, None], ids=["b2b-upn", "no-upn-transform"])
def test_compiled_mappings_equal_the_rules_one_by_one(user: dict, creating: bool, transform) -> None:
    got = MappingPlan(MIXED, upn_transform=transform).map_user(user, creating=creating)
    assert same(got, interpret(MIXED, user, creating=creating, upn_transform=transform))


def test_default_mappings_compiled_equal_the_rules_one_by_one() -> None:
    mappings = load_default_mappings()
    plan = MappingPlan(mappings, upn_transform=upn)
    user = {"id": "s9", "accountEnabled": True, "displayName": "Zoë", "userPrincipalName": "zoe@emea.contoso.com",
            "city": "Lyon", "mail": "zoe@emea.contoso.com", "manager": {"id": "m1"}}
    for creating in (True, False):
        assert same(plan.map_user(user, creating=creating), interpret(mappings, user, creating=creating))


def test_configuration_text_never_enters_the_generated_code() -> None:
    hostile = 'x"]; import os; os._exit(3); ["'
    plan = MappingPlan([Mapping(target=hostile, type="direct", source=hostile),
                        Mapping(target="city", type="constant", value=hostile)])
    assert plan.map_user({hostile: "v"}, creating=True).values == {hostile: "v", "city": hostile}
    assert hostile not in (plan._create.__doc__ or "")
