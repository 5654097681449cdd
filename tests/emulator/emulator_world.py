"""The small fixture the emulator tests run against (three tenants)."""

from __future__ import annotations

import copy

CONTOSO = "11111111-1111-4111-8111-111111111111"      # target ("HQ")
FABRIKAM = "22222222-2222-4222-8222-222222222222"     # source, auto-redemption configured
NORTHWIND = "33333333-3333-4333-8333-333333333333"    # no cross-tenant policy at all

CONTOSO_TOKEN = "token-contoso-app1"
CONTOSO_TOKEN_2 = "token-contoso-app2"
FABRIKAM_TOKEN = "token-fabrikam"
NORTHWIND_TOKEN = "token-northwind"

FABRIKAM_USERS = 2500
# A directory extension registered (fixture "applications") in Contoso and Fabrikam on the
# application EXT_APP_ID: the emulator refuses unregistered extension_* names.
EXT_APP_ID = "0a1b2c3d-4e5f-4071-8293-a4b5c6d7e8f9"
EXT = "extension_0a1b2c3d4e5f40718293a4b5c6d7e8f9_tenantsyncAnchor"


def ext_application() -> dict:
    """The fixture entry that registers EXT."""
    return {"appId": EXT_APP_ID, "displayName": "tenantsync tests",
            "extensionProperties": [{"name": "tenantsyncAnchor", "dataType": "String",
                                     "targetObjects": ["User"]}]}


def _uid(prefix: int, n: int) -> str:
    return f"{prefix:08x}-0000-4000-8000-{n:012x}"


def contoso_users() -> list[dict]:
    users = []
    for n in range(1, 6):
        users.append({"id": _uid(0xC0, n), "userPrincipalName": f"user{n}@contoso.com",
                      "mail": f"user{n}@contoso.com", "displayName": f"Contoso User {n}",
                      "givenName": "User", "surname": f"Number{n}", "userType": "Member",
                      "accountEnabled": True, "jobTitle": "Engineer" if n % 2 else "Manager",
                      "department": "Sales" if n <= 2 else "R&D"})
    users[0]["smsSignInState"] = "ready"
    users[0]["mobilePhone"] = "+1 425 555 0101"
    users[1]["smsSignInState"] = "notAllowedByPolicy"
    users.append({"id": _uid(0xC0, 100), "userType": "Guest",
                  "userPrincipalName": "pending.guest_litware.com#EXT#@contoso.onmicrosoft.com",
                  "mail": "pending.guest@litware.com", "displayName": "Pending Guest",
                  "externalUserState": "PendingAcceptance", "creationType": "Invitation",
                  "accountEnabled": True, "createdDateTime": "2024-01-02T03:04:05Z"})
    users.append({"id": _uid(0xC0, 101), "userType": "Guest",
                  "userPrincipalName": "happy.guest_litware.com#EXT#@contoso.onmicrosoft.com",
                  "mail": "happy.guest@litware.com", "displayName": "Accepted Guest",
                  "externalUserState": "Accepted", "creationType": "Invitation",
                  "accountEnabled": True, EXT: "a/b"})
    return users


def build_fixture() -> dict:
    """A fresh copy of the test fixture."""
    fabrikam_users = [{"id": _uid(0xFA, n), "userPrincipalName": f"u{n:05d}@fabrikam.com",
                       "mail": f"u{n:05d}@fabrikam.com", "displayName": f"Fabrikam {n:05d}",
                       "givenName": "Fab", "surname": f"S{n:05d}", "userType": "Member",
                       "accountEnabled": n % 10 != 0, "department": ["Sales", "R&D"][n % 2]}
                      for n in range(1, FABRIKAM_USERS + 1)]
    contoso = contoso_users()
    return copy.deepcopy({"tenants": [
        {"id": CONTOSO, "displayName": "Contoso HQ",
         "defaultDomain": "contoso.onmicrosoft.com",
         "domains": [{"id": "contoso.com", "isVerified": True, "isDefault": True}],
         "tokens": [CONTOSO_TOKEN, CONTOSO_TOKEN_2], "premium": True,
         "applications": [ext_application()],
         "authorizationPolicy": {"allowInvitesFrom": "everyone"},
         "crossTenantAccessPolicy": {"partners": [
             {"tenantId": FABRIKAM,
              "automaticUserConsentSettings": {"inboundAllowed": True, "outboundAllowed": False},
              "identitySynchronization": {"userSyncInbound": {"isSyncAllowed": True}}}]},
         "users": contoso,
         "groups": [
             {"id": _uid(0xC6, 1), "displayName": "Sales", "mailNickname": "sales",
              "members": [contoso[0]["id"], contoso[1]["id"]]},
             {"id": _uid(0xC6, 2), "displayName": "All staff", "mailNickname": "all",
              "members": [_uid(0xC6, 1), contoso[2]["id"]]}]},
        {"id": FABRIKAM, "displayName": "Fabrikam",
         "defaultDomain": "fabrikam.onmicrosoft.com",
         "domains": [{"id": "fabrikam.com", "isVerified": True}],
         "tokens": [FABRIKAM_TOKEN], "premium": True,
         "applications": [ext_application()],
         "crossTenantAccessPolicy": {"partners": [
             {"tenantId": CONTOSO,
              "automaticUserConsentSettings": {"inboundAllowed": False,
                                               "outboundAllowed": True}}]},
         "users": fabrikam_users,
         "groups": [{"id": _uid(0xF6, 1), "displayName": "Sync scope",
                     "members": [u["id"] for u in fabrikam_users[:1500]]}]},
        {"id": NORTHWIND, "displayName": "Northwind",
         "defaultDomain": "northwind.onmicrosoft.com",
         "domains": [{"id": "northwind.com", "isVerified": True}],
         "tokens": [NORTHWIND_TOKEN], "premium": False,
         "users": [{"id": _uid(0xB0, 1), "userPrincipalName": "ann@northwind.com",
                    "mail": "ann@northwind.com", "displayName": "Ann", "userType": "Member",
                    "accountEnabled": True}]},
    ]})
