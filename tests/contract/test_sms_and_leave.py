"""phoneauthenticationmethod-disablesmssignin and externalidentitiespolicy-get (beta), the two calls
of the documented SMS sign-in repair and of the leave-settings check, held to their pages: request
and response shapes, the beta-only endpoint, and the Application rows of their Permissions tables.
"""

from __future__ import annotations

import httpx
import pytest

from tests.contract.doc import auth, context_is, error_of, expect, page
from tests.contract.world import ADELE, ALL_TOKEN, GRADY, MOBILE_METHOD, build_fixture

PHONES = f"/users/{ADELE}/authentication/phoneMethods"
DISABLE = f"{PHONES}/{MOBILE_METHOD}/disableSmsSignIn"
POLICY = "/policies/externalIdentitiesPolicy"
TOKENS = [ALL_TOKEN,
          {"token": "t-phone-read", "roles": ["UserAuthenticationMethod.Read.All"]},
          {"token": "t-phone-rw", "roles": ["UserAuthenticationMethod.ReadWrite.All"]},
          {"token": "t-phone-only-rw", "roles": ["UserAuthMethod-Phone.ReadWrite.All"]},
          {"token": "t-user-read", "roles": ["User.Read.All"]},
          {"token": "t-policy-read", "roles": ["Policy.Read.All"]},
          {"token": "t-ext-rw", "roles": ["Policy.ReadWrite.ExternalIdentities"]}]


@pytest.fixture
def beta(emu):
    """Raw HTTP to the emulator's /beta root."""
    with httpx.Client(base_url=f"{emu.base}/beta", timeout=30) as client:
        yield client


@pytest.fixture
def roles(emu):
    emu.reset(build_fixture(tokens=TOKENS))


def mobile_state(graph, token: str = ALL_TOKEN) -> str:
    methods = expect(graph.get(PHONES, headers=auth(token)), 200)["value"]
    return next(m["smsSignInState"] for m in methods if m["id"] == MOBILE_METHOD)


@page("phoneauthenticationmethod-disablesmssignin", "204-no-body-then-not-ready")
def test_disable_sms_sign_in(graph, doc_page):
    assert mobile_state(graph) == "ready"
    resp = graph.post(DISABLE, headers=auth())
    expect(resp, 204)
    assert resp.content == b""                          # "It does not return anything in the response body."
    assert mobile_state(graph) == "notEnabled"


@page("phoneauthenticationmethod-disablesmssignin", "404-no-mobile-phone")
def test_disable_sms_sign_in_without_a_mobile_phone(graph, doc_page):
    error_of(graph.post(f"/users/{GRADY}/authentication/phoneMethods/{MOBILE_METHOD}/disableSmsSignIn",
                        headers=auth()), 404)


@page("phoneauthenticationmethod-disablesmssignin", "application-permissions")
def test_disable_sms_sign_in_permissions(graph, roles, doc_page):
    # Application row: UserAuthMethod-Phone.ReadWrite.All, UserAuthenticationMethod.ReadWrite.All
    err = error_of(graph.post(DISABLE, headers=auth("t-phone-read")), 403, "Authorization_RequestDenied")
    assert err["message"] == "Insufficient privileges to complete the operation."
    assert mobile_state(graph) == "ready"
    expect(graph.post(DISABLE, headers=auth("t-phone-only-rw")), 204)
    expect(graph.post(DISABLE, headers=auth("t-phone-rw")), 204)
    assert mobile_state(graph, "t-phone-read") == "notEnabled"


@page("externalidentitiespolicy-get", "200-beta-policy-with-the-example-defaults")
def test_external_identities_policy(beta, doc_page):
    body = expect(beta.get(POLICY, headers=auth()), 200)
    context_is(body, "policies/externalIdentitiesPolicy/$entity")
    assert "/beta/$metadata#" in body["@odata.context"]
    assert body["id"] == "externalIdentityPolicy" and body["displayName"] == "External Identities Policy"
    assert body["allowExternalIdentitiesToLeave"] is True
    assert body["allowDeletedIdentitiesDataRemoval"] is False


@page("externalidentitiespolicy-get", "fixture-sets-the-leave-setting")
def test_external_identities_policy_from_the_fixture(emu, beta, doc_page):
    fixture = build_fixture()
    fixture["tenants"][0]["externalIdentitiesPolicy"] = {"allowExternalIdentitiesToLeave": False}
    emu.reset(fixture)
    body = expect(beta.get(POLICY, headers=auth()), 200)
    assert body["allowExternalIdentitiesToLeave"] is False and body["allowDeletedIdentitiesDataRemoval"] is False


@page("externalidentitiespolicy-get", "beta-only-not-in-v1.0")
def test_external_identities_policy_is_not_in_v1(graph, doc_page):
    error_of(graph.get(POLICY, headers=auth()), 400)
    error_of(graph.get(f"/beta{POLICY}", headers=auth()), 400)     # nor a /v1.0/beta/... path


@page("externalidentitiespolicy-get", "application-permissions")
def test_external_identities_policy_permissions(beta, roles, doc_page):
    # Application row: Policy.Read.All, Policy.ReadWrite.ExternalIdentities
    error_of(beta.get(POLICY, headers=auth("t-user-read")), 403, "Authorization_RequestDenied")
    expect(beta.get(POLICY, headers=auth("t-policy-read")), 200)
    expect(beta.get(POLICY, headers=auth("t-ext-rw")), 200)
