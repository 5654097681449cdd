"""Scoping (docs/entra-behaviour.md#scoping): assignment, internal members only, filters (AND inside, OR
across), nulls."""

import pytest

from tenantsync.config import FilterClause, Scope
from tenantsync.stages.scope import SMS_CLAUSE, ScopeContext, clause_passes, evaluate_scope


def clause(attribute, operator, value=None):
    return FilterClause(attribute=attribute, operator=operator, value=value)


def ctx(mode="assigned", users=(), groups=(), memberships=None, filters=()):
    scope = Scope(mode=mode, assignments={"users": list(users), "groups": list(groups)},
                  filters=[list(g) for g in filters])
    return ScopeContext.build(scope, memberships or {})


ALICE = {"id": "a", "userPrincipalName": "alice@emea.contoso.com", "userType": "Member",
         "department": "Sales", "accountEnabled": True, "employeeId": "1234567"}


@pytest.mark.parametrize("value,op,arg,expected", [
    ("Sales", "EQUALS", "Sales", True),
    ("Sales", "EQUALS", "sales", False),                 # case sensitive
    ("Sales", "NOT EQUALS", "sales", True),
    ("Sales team", "Includes", "team", True),
    ("Sales team", "Includes", "Team", False),
    ("jo@domain.com", "ENDS_WITH", "@domain.com", True),
    ("jo@domain.com", "REGEX MATCH", r".*\@domain.com", True),
    ("jo@other.com", "NOT REGEX MATCH", r".*\@domain.com", True),
    ("1500000", "REGEX MATCH", "(1[0-9][0-9][0-9][0-9][0-9][0-9])", True),
    ("2500000", "REGEX MATCH", "^(1[0-9][0-9][0-9][0-9][0-9][0-9])$", False),
    ("42", "REGEX MATCH", "([1-9][0-9])", True),
    ("10", "Greater_Than", 9, True),
    ("9", "Greater_Than", 9, False),
    ("9", "Greater_Than_OR_EQUALS", 9, True),
    ("abc", "Greater_Than", 9, False),
    (True, "IS TRUE", None, True),
    (False, "IS TRUE", None, False),
    (False, "IS FALSE", None, True),
    ("Sales", "&", "Sales,Marketing", True),
    ("HR", "!&", "Sales,Marketing", True),
])
def test_operator(value, op, arg, expected):
    assert clause_passes(value, clause("x", op, arg)) is expected


@pytest.mark.parametrize("op,arg", [("EQUALS", "x"), ("NOT EQUALS", "x"), ("Includes", "x"),
                                    ("NOT REGEX MATCH", "x"), ("IS TRUE", None), ("IS FALSE", None),
                                    ("Greater_Than", 1), ("IS NOT NULL", None)])
@pytest.mark.parametrize("empty", [None, ""])
def test_null_or_empty_attribute_fails_every_operator_but_is_null(op, arg, empty):
    assert clause_passes(empty, clause("x", op, arg)) is False
    assert clause_passes(empty, clause("x", "IS NULL")) is True


def test_multivalued_attributes_cannot_be_filtered():
    assert clause_passes(["a", "b"], clause("proxyAddresses", "EQUALS", "a")) is False


def test_direct_member_of_assigned_group_is_in_scope_nested_is_not():
    c = ctx(groups=["g"], memberships={"g": {"a"}, "nested": {"n"}})
    assert evaluate_scope(ALICE, c).in_scope
    r = evaluate_scope({**ALICE, "id": "n"}, c)
    assert not r.in_scope and r.skip_reason == "NotEffectivelyEntitled"
    assert r.rules == (("Assigned to the application", False),)


def test_directly_assigned_user_and_all_mode():
    assert evaluate_scope(ALICE, ctx(users=["a"])).in_scope
    assert evaluate_scope(ALICE, ctx(mode="all")).in_scope


def test_source_guest_is_never_in_scope():
    guest = {**ALICE, "userType": "Guest", "userPrincipalName": "x_fabrikam.com#EXT#@emea.onmicrosoft.com",
             "externalUserState": "Accepted"}
    r = evaluate_scope(guest, ctx(mode="all"))
    assert not r.in_scope and ("Filter external users.userType EQUALS 'Member'", False) in r.rules


def test_filters_and_inside_or_across_with_titles():
    f1 = [clause("department", "EQUALS", "Marketing")]
    f2 = [clause("department", "EQUALS", "Sales"), clause("accountEnabled", "IS TRUE")]
    r = evaluate_scope(ALICE, ctx(mode="all", filters=[f1, f2]))
    assert r.in_scope
    assert ("Scoping filter 1.department EQUALS 'Marketing'", False) in r.rules
    assert ("Scoping filter 2.accountEnabled IS TRUE", True) in r.rules
    r = evaluate_scope({**ALICE, "accountEnabled": False}, ctx(mode="all", filters=[f1, f2]))
    assert not r.in_scope and "Scoping filter evaluation failed" in r.description


def test_sms_sign_in_ready_is_skipped_with_the_documented_clause():
    r = evaluate_scope(ALICE, ctx(mode="all"), sms_ready=True)
    assert not r.in_scope and r.rules[-1] == (SMS_CLAUSE, False)
    assert "SMS sign-in" in r.description
