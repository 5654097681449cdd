"""smsauthenticationmethodconfiguration-get: the SMS authentication method policy, held to its page
(the resource's shape, the Application row of its Permissions table), and the emulator's decision
that the policy follows the users' SMS sign-in states (tenantsync/emulator/phone.py)."""

from __future__ import annotations

from tests.contract.doc import auth, error_of, expect, page
from tests.contract.world import ADELE, ALL_TOKEN, build_fixture

SMS = "/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/sms"
TOKENS = [ALL_TOKEN,
          {"token": "t-policy-read", "roles": ["Policy.Read.All"]},
          {"token": "t-auth-policy-rw", "roles": ["Policy.ReadWrite.AuthenticationMethod"]},
          {"token": "t-phone-read", "roles": ["UserAuthenticationMethod.Read.All"]}]


@page("smsauthenticationmethodconfiguration-get", "200-the-configuration")
def test_the_sms_configuration_lets_users_sign_in_while_one_is_ready(graph, doc_page):
    conf = expect(graph.get(SMS, headers=auth()), 200)
    assert conf["@odata.type"] == "#microsoft.graph.smsAuthenticationMethodConfiguration"
    assert (conf["id"], conf["state"], conf["excludeTargets"]) == ("Sms", "enabled", [])
    assert conf["includeTargets"] == [{"targetType": "group", "id": "all_users",
                                       "isRegistrationRequired": False, "isUsableForSignIn": True}]


@page("smsauthenticationmethodconfiguration-get", "not-usable-once-nobody-may-sign-in-with-sms")
def test_the_configuration_follows_the_users_states(emu, graph, doc_page):
    fixture = build_fixture()
    for tenant in fixture["tenants"]:
        for user in tenant["users"]:
            if user.get("smsSignInState") in ("ready", "notEnabled", "phoneNumberNotUnique"):
                user["smsSignInState"] = "notAllowedByPolicy"
    emu.reset(fixture)
    conf = expect(graph.get(SMS, headers=auth()), 200)
    assert [t["isUsableForSignIn"] for t in conf["includeTargets"]] == [False]
    phones = expect(graph.get(f"/users/{ADELE}/authentication/phoneMethods", headers=auth()), 200)["value"]
    assert all(m["smsSignInState"] != "ready" for m in phones)


@page("smsauthenticationmethodconfiguration-get", "application-permissions")
def test_sms_configuration_permissions(emu, graph, doc_page):
    # Application row: Policy.Read.All, Policy.ReadWrite.AuthenticationMethod
    emu.reset(build_fixture(tokens=TOKENS))
    error_of(graph.get(SMS, headers=auth("t-phone-read")), 403, "Authorization_RequestDenied")
    expect(graph.get(SMS, headers=auth("t-policy-read")), 200)
    expect(graph.get(SMS, headers=auth("t-auth-policy-rw")), 200)
