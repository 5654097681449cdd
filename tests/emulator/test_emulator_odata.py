"""$filter / $select / $orderby / $top parsing and evaluation (no server)."""

from __future__ import annotations

import pytest

from tenantsync.emulator.odata import ODataError, parse_filter, parse_orderby, parse_select, parse_top
from tenantsync.emulator.schema import USERS

# the user properties of a tenant where extension_abc_anchor is registered (applications.py)
USERS_EXT = USERS.with_extensions({"extension_abc_anchor": {"dataType": "String",
                                                            "isMultiValued": False}})

ALICE = {"id": "a1", "displayName": "Alice O'Hara", "userType": "Guest", "accountEnabled": True,
         "externalUserState": "PendingAcceptance", "mail": "Alice@Fabrikam.com",
         "otherMails": ["alice@home.net"], "proxyAddresses": ["SMTP:alice@fabrikam.com"],
         "onPremisesExtensionAttributes": {"extensionAttribute1": "x1"},
         "createdDateTime": "2024-03-01T10:00:00Z", "extension_abc_anchor": "a/b"}
BOB = {"id": "b2", "displayName": "Bob", "userType": "Member", "accountEnabled": False,
       "createdDateTime": "2023-01-01T00:00:00Z"}


@pytest.mark.parametrize("text,alice,bob", [
    ("userType eq 'Guest' and externalUserState eq 'PendingAcceptance'", True, False),
    ("displayName eq 'Alice O''Hara'", True, False),
    ("mail eq 'alice@fabrikam.com'", True, False),
    ("accountEnabled eq false", False, True),
    ("externalUserState eq null", False, True),
    ("externalUserState ne null", True, False),
    ("not (userType eq 'Guest')", False, True),
    ("id in ('b2', 'zz')", False, True),
    ("startswith(displayName,'ali') or startswith(displayName,'BO')", True, True),
    ("endswith(mail,'@fabrikam.com')", True, False),
    ("extension_abc_anchor eq 'a/b'", True, False),
    ("otherMails/any(m:m eq 'ALICE@home.net')", True, False),
    ("proxyAddresses/any(p:startswith(p,'smtp:'))", True, False),
    ("onPremisesExtensionAttributes/extensionAttribute1 eq 'x1'", True, False),
    ("createdDateTime ge '2024-01-01T00:00:00Z'", True, False),
    ("((userType eq 'Member') or (accountEnabled eq true)) and id ne 'zz'", True, True),
    ("USERTYPE EQ 'guest'", True, False),
])
def test_filter_evaluation(text, alice, bob):
    flt = parse_filter(text, USERS_EXT)
    assert (flt.predicate(ALICE), flt.predicate(BOB)) == (alice, bob)


@pytest.mark.parametrize("text", [
    "userType eq", "(userType eq 'Guest'", "userType eq 'Guest')", "colour eq 'red'",
    "userType like 'G%'", "startswith(displayName, 3)", "userType eq 'unterminated",
    "userType eq 'a' and", "displayName eq Bob",
])
def test_filter_syntax_errors(text):
    with pytest.raises(ODataError):
        parse_filter(text, USERS)


def test_filter_metadata_and_planner():
    flt = parse_filter("userType ne 'Guest' and not (accountEnabled eq true)", USERS)
    assert flt.needs_advanced and flt.properties == {"userType", "accountEnabled"}
    assert not parse_filter("userType eq 'Guest'", USERS).needs_advanced
    flt = parse_filter("(mail eq 'a' or mail eq 'b') and accountEnabled eq true", USERS)
    index = {("mail", "a"): {"1"}, ("mail", "b"): {"2"}, ("accountEnabled", True): {"1", "2", "3"}}
    assert flt.candidates(lambda p, v: index.get((p, v), set())) == {"1", "2"}
    assert parse_filter("startswith(mail,'a')", USERS).candidates(lambda p, v: set()) is None
    assert parse_filter("id eq 'a' or id eq 'b'", USERS).id_values() == ["a", "b"]
    assert parse_filter("id eq 'a' and mail eq 'b'", USERS).id_values() is None


def test_select_orderby_top():
    assert parse_select("DisplayName, id,displayName", USERS) == ["displayName", "id"]
    assert parse_select("id,extension_abc_anchor", USERS_EXT) == ["id", "extension_abc_anchor"]
    for props, name in ((USERS, "extension_abc_anchor"), (USERS_EXT, "extension_abc_Anchor"),
                        (USERS_EXT, "extension_abc_other")):
        with pytest.raises(ODataError, match=f"Could not find a property named '{name}'"):
            parse_select(f"id,{name}", props)
        with pytest.raises(ODataError, match=f"Could not find a property named '{name}'"):
            parse_filter(f"{name} eq 'a/b'", props)
    with pytest.raises(ODataError):
        parse_select("smsSignInState", USERS)
    assert parse_orderby("displayName desc, id", USERS) == [("displayName", True), ("id", False)]
    with pytest.raises(ODataError):
        parse_orderby("displayName sideways", USERS)
    assert parse_top(None, 100) == 100 and parse_top("999", 100) == 999
    for bad in ("0", "1000", "ten"):
        with pytest.raises(ODataError):
            parse_top(bad, 100)
