"""UPN-suffix readiness (docs/entra-behaviour.md, "Entra Connect UPN suffixes"): states, the cloud
UPN, the five documented vectors, the CSV report and the artifact."""

from __future__ import annotations

import csv

import pytest

from tenantsync.usersource import upn_suffix as us
from tenantsync.usersource.upn_suffix import SuffixState, readiness, sync_identity

INITIAL = "contoso.onmicrosoft.com"
DOMAINS = [  # as GET /domains answers
    {"id": INITIAL, "isVerified": True, "isInitial": True},
    {"id": "contoso.com", "isVerified": False, "isInitial": False},
    {"id": "verified.contoso.com", "isVerified": True, "isInitial": False},
]


def test_the_five_documented_vectors():
    # 1. new user: mailNickname unset, primary SMTP user1, mail user2, UPN user3 on an unverified suffix
    onprem = {"proxyAddresses": ["SMTP:user1@contoso.com"], "mail": "user2@contoso.com",
              "userPrincipalName": "user3@contoso.com"}
    s1 = sync_identity(onprem, None, DOMAINS, INITIAL)
    assert (s1.mail_nickname, s1.upn) == ("user1", "user1@contoso.onmicrosoft.com")
    # 2. mailNickname set on-premises: MailNickName follows, the UPN does not change
    onprem = {**onprem, "mailNickname": "user4"}
    s2 = sync_identity(onprem, s1, DOMAINS, INITIAL)
    assert (s2.mail_nickname, s2.upn) == ("user4", "user1@contoso.onmicrosoft.com")
    # 3. on-premises UPN changes (still unverified): recalculated from the MailNickName
    onprem = {**onprem, "userPrincipalName": "user5@contoso.com"}
    s3 = sync_identity(onprem, s2, DOMAINS, INITIAL)
    assert (s3.mail_nickname, s3.upn) == ("user4", "user4@contoso.onmicrosoft.com")
    # 4. primary SMTP / mail only: no change
    onprem = {**onprem, "proxyAddresses": ["SMTP:other@contoso.com"], "mail": "other@contoso.com"}
    s4 = sync_identity(onprem, s3, DOMAINS, INITIAL)
    assert (s4.mail_nickname, s4.upn) == ("user4", "user4@contoso.onmicrosoft.com")
    # 5. on-premises UPN on a verified suffix: the UPN is kept as is
    onprem = {**onprem, "userPrincipalName": "user5@verified.contoso.com"}
    s5 = sync_identity(onprem, s4, DOMAINS, INITIAL)
    assert (s5.mail_nickname, s5.upn) == ("user4", "user5@verified.contoso.com")


def test_verifying_the_domain_recalculates_the_upn():
    onprem = {"mailNickname": "jane", "userPrincipalName": "jane.doe@contoso.com"}
    before = sync_identity(onprem, None, DOMAINS, INITIAL)
    assert before.upn == "jane@contoso.onmicrosoft.com"
    verified = [{**d, "isVerified": True} for d in DOMAINS]
    assert sync_identity(onprem, before, verified, INITIAL).upn == "jane.doe@contoso.com"


@pytest.mark.parametrize("user, nickname", [
    ({"mailNickname": "nick", "proxyAddresses": ["SMTP:p@x.com"], "mail": "m@x.com", "userPrincipalName": "u@x.com"}, "nick"),
    ({"proxyAddresses": ["smtp:s@x.com", "SMTP:p@x.com"], "mail": "m@x.com", "userPrincipalName": "u@x.com"}, "p"),
    ({"proxyAddresses": ["smtp:s@x.com"], "mail": "m@x.com", "userPrincipalName": "u@x.com"}, "m"),
    ({"proxyAddresses": ["smtp:s@x.com", "X500:/o=x"], "userPrincipalName": "u@x.com"}, "u"),
    ({"proxyAddresses": ["smtp:s@x.com"]}, "s"),
    ({}, None),
])
def test_mail_nickname_is_the_first_present_source(user, nickname):
    assert us.derive_mail_nickname(user) == nickname


def test_readiness_lists_every_suffix_with_its_state_and_the_upn_users_would_get():
    users = [
        {"id": "1", "userPrincipalName": "ann@verified.contoso.com", "mailNickname": "ann"},
        {"id": "2", "userPrincipalName": "bob@Contoso.com", "mailNickname": "bobby"},
        {"id": "3", "userPrincipalName": "cat@contoso.com", "mail": "cat.m@contoso.com"},
        {"id": "4", "userPrincipalName": "dan@fabrikam.com", "proxyAddresses": ["SMTP:daniel@fabrikam.com"]},
        {"id": "5", "userPrincipalName": "eve_fabrikam.com#EXT#@contoso.onmicrosoft.com"},   # a guest: left out
        {"id": "6"},                                                                        # no UPN: left out
        {"id": "7", "userPrincipalName": "bad..dots@verified.contoso.com", "mailNickname": "baddots"},
    ]
    rows = readiness(users, DOMAINS, INITIAL)
    assert [(r.suffix, r.state, r.users) for r in rows] == [
        ("contoso.com", SuffixState.NOT_VERIFIED, 2),
        ("fabrikam.com", SuffixState.NOT_ADDED, 1),
        ("verified.contoso.com", SuffixState.VERIFIED, 2)]
    upns = {u.id: u.cloud_upn for r in rows for u in r.user_upns}
    assert upns == {"1": "ann@verified.contoso.com", "2": "bobby@contoso.onmicrosoft.com",
                    "3": "cat.m@contoso.onmicrosoft.com", "4": "daniel@contoso.onmicrosoft.com",
                    "7": "baddots@contoso.onmicrosoft.com"}                  # invalid characters: fallback
    reasons = {u.id: u.reason for r in rows for u in r.user_upns}
    assert "invalid characters" in reasons["7"] and "not added" in reasons["4"]
    warnings = us.readiness_warnings(rows)
    assert len(warnings) == 2 and warnings[0].startswith("UPN suffix contoso.com (2 users) is added to the "
                                                         "target tenant but not verified")
    assert "<mailNickname>@contoso.onmicrosoft.com" in warnings[1] and "dan@fabrikam.com -> daniel@" in warnings[1]


def test_initial_domain_and_domain_shapes():
    assert us.initial_domain_of(DOMAINS) == INITIAL
    assert us.initial_domain_of(["contoso.com", "contoso.onmicrosoft.com"]) == INITIAL
    assert us.initial_domain_of({"value": DOMAINS}) == INITIAL
    for shape in (DOMAINS, {"contoso.com": False, "verified.contoso.com": True}, {"value": DOMAINS}):
        assert us.suffix_state("CONTOSO.com", shape) is SuffixState.NOT_VERIFIED
        assert us.suffix_state("verified.contoso.com", shape) is SuffixState.VERIFIED
        assert us.suffix_state("nope.com", shape) is SuffixState.NOT_ADDED
    assert readiness([{"userPrincipalName": "a@contoso.com", "mailNickname": "a"}], DOMAINS)[0].user_upns[0].cloud_upn \
        == "a@contoso.onmicrosoft.com"                    # initial domain taken from the domains


def test_connection_test_uses_the_same_states():
    from tenantsync.ops.connection_test import suffix_states

    assert suffix_states({"contoso.com": 2, "verified.contoso.com": 1, "x.com": 1}, DOMAINS) == {
        "contoso.com": "Not verified", "verified.contoso.com": "Verified", "x.com": "Not added"}


def test_csv_report_is_formula_safe(tmp_path):
    users = [{"id": "=1+1", "userPrincipalName": "-cmd@contoso.com", "mailNickname": "@SUM(A1)"},
             {"id": "2", "userPrincipalName": "+x@verified.contoso.com", "mailNickname": "x"}]
    files = us.write_readiness_report(readiness(users, DOMAINS, INITIAL), tmp_path)
    with files["upn-suffixes"].open(encoding="utf-8") as f:
        suffixes = list(csv.DictReader(f))
    assert list(suffixes[0]) == list(us.SUFFIX_COLUMNS)
    assert [(r["suffix"], r["state"], r["users"]) for r in suffixes] == [
        ("contoso.com", "Not verified", "1"), ("verified.contoso.com", "Verified", "1")]
    assert suffixes[0]["exampleUserPrincipalName"] == "'-cmd@contoso.com"
    with files["upn-suffix-users"].open(encoding="utf-8") as f:
        people = list(csv.DictReader(f))
    assert list(people[0]) == list(us.USER_COLUMNS)
    first = people[0]
    assert first["id"] == "'=1+1" and first["mailNickname"] == "'@SUM(A1)"
    assert first["cloudUserPrincipalName"] == "'@SUM(A1)@contoso.onmicrosoft.com"
    assert people[1]["userPrincipalName"] == "'+x@verified.contoso.com"


def test_artifact_for_the_prefect_layer():
    rows = readiness([{"userPrincipalName": "a|b@contoso.com", "mailNickname": "ab"}], DOMAINS, INITIAL)
    art = us.readiness_artifact(rows)
    assert art["key"] == "upn-suffix-readiness"
    assert "| contoso.com | Not verified | 1 | `a|b@contoso.com` → `ab@contoso.onmicrosoft.com` |" in art["markdown"]
    assert art["table"] == [{"suffix": "contoso.com", "state": "Not verified", "users": 1,
                             "exampleUserPrincipalName": "a|b@contoso.com",
                             "exampleCloudUserPrincipalName": "ab@contoso.onmicrosoft.com"}]
    assert len(art["warnings"]) == 1
    assert "No source user" in us.readiness_artifact([])["markdown"]


def test_readiness_from_graph_on_the_emulator(tenant):
    """The small world's users against the other tenant's domains (GET /domains)."""
    from tenantsync.graph.api import GraphApi

    from .usworld import OTHER_TENANT, TENANT

    src = GraphApi({"name": "s", "tenant_id": TENANT, "graph_url": tenant.url,
                    "auth": {"kind": "static_token", "token_env": "US_SRC_TOKEN"}}, read_only=True)
    tgt = GraphApi({"name": "t", "tenant_id": OTHER_TENANT, "graph_url": tenant.url,
                    "auth": {"kind": "static_token", "token_env": "US_OTHER_TOKEN"}}, read_only=True)
    try:
        (row,) = us.readiness_from_graph(src, tgt)
        assert (row.suffix, row.state, row.users) == ("corp.example", SuffixState.NOT_ADDED, 5)
        assert row.example.cloud_upn == "user1@otherexample.onmicrosoft.com"
        (own,) = us.readiness_from_graph(src)
        assert own.state is SuffixState.VERIFIED and own.example.cloud_upn == "user1@corp.example"
    finally:
        src.close()
        tgt.close()
