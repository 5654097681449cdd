"""The tenant the contract cases run against, built from the ids of the doc examples.

Ids, names and values come from the examples of the pages each case cites, so a case reads like
its page: Adele Vance (user-get), the MOD Administrator and Conf Room Adams (user-list), the
"All Company" and "sg-HR" groups (delta-query-groups), the organization id (organization-get),
the partner tenants (crosstenantidentitysyncpolicypartner-get / -put), the applications and
extension names (application-post-extensionproperty, application-list-extensionproperty,
directoryobject-getavailableextensionproperties).
"""

from __future__ import annotations

import copy

# organization-get: GET /organization/dcd219dd-bc68-4b9b-bf0b-4a33a796be35
TENANT = "dcd219dd-bc68-4b9b-bf0b-4a33a796be35"
ALL_TOKEN = "contract-token-all"          # a string entry: an application with every permission

# Partners: crosstenantidentitysyncpolicypartner-get (has a sync policy) and
# crosstenantaccesspolicyconfigurationpartner-put-identitysynchronization (has none yet).
PARTNER_SYNCED = "9c5d131d-b1c3-4fc4-9e3f-c6557947d551"
PARTNER_NEW = "90e29127-71ad-49c7-9ce8-db3f41ea06f1"

# Users.
ADELE = "87d349ed-44d7-43e1-9a83-5f2406dee5bd"          # user-get example 1
ADMIN = "4562bcc8-c436-4f95-b7c0-4f8ce89dca5e"          # user-list example 1 (MOD Administrator)
ADAMS = "6ea91a8d-e32e-41a1-b7bd-d2d185eed0e0"          # user-list example 1 (Conf Room Adams)
GRADY = "e8b753b5-4117-464e-9a08-713e1ff266b3"          # user-list example 5
ADELE_GUEST = "39807bd1-3dde-48f3-8165-81ddd4e46de0"    # user-list example 8 (B2B guest)
JOHANNA = "6e7b768e-07e2-4810-8459-485f84f8f204"        # user-list-memberof example 1
JOHN = "ffff7b1a-13b6-477b-8c0c-380905cd99f7"           # delta-query-users (Testuser1)
JANE = "605d1257-ffff-40b6-8e6f-528a53f5dc55"           # delta-query-users (Testuser2)
PAT = "693acd06-2877-4339-8ade-b704261fe7a0"            # delta-query-groups: All Company member
MEGHAN = "49320844-be99-4164-8167-87ff5d047ace"         # delta-query-groups: All Company member
OBRIEN = "8ffff70c-1c63-4860-b963-e34ec660931d"         # delta-query-users (@removed example)
OBRIEN_MAIL = "o'brien+test@litware.com"                # query-parameters: quotes and encoding
GUEST_UPN = "AdeleV_adatum.com#EXT#@contoso.com"        # user-get tip: encode # as %23

# Groups.
ALL_COMPANY = "c2f798fd-f95d-4623-8824-63aec21fffff"    # delta-query-groups: two members
SG_HR = "ec22655c-8eb2-432a-b4ea-8b8a254bffff"          # delta-query-groups: no members
ALL_USERS = "c11b732b-0e16-46c1-b0fa-bd32c8a42455"      # user-list-memberof example 6

# Applications and directory extensions.
B2C_APP = "fd918e4b-c821-4efb-b50a-5eddd23afc6f"        # application-post-extensionproperty
B2C_APP_ID = "25883231-668a-43a7-80b2-5685c3f874bc"
JOBGROUP_EXT = "extension_25883231668a43a780b25685c3f874bc_jobGroup"
SAMPLE_APP = "acc848e9-e8ec-4feb-a521-8d58b5482e09"     # application-list-extensionproperty
SAMPLE_APP_ID = "4d405aa8-baa0-4fb4-94d3-e0571fd9fd71"  # directoryobject-getavailable...
SKYPE_EXT = "extension_4d405aa8baa04fb494d3e0571fd9fd71_skypeId"
MOBILE_METHOD = "3179e48a-750b-4051-897c-87b9720928f7"  # authentication-list-phonemethods

DEFAULT_USER_KEYS = {"businessPhones", "displayName", "givenName", "id", "jobTitle", "mail",
                     "mobilePhone", "officeLocation", "preferredLanguage", "surname",
                     "userPrincipalName"}                # user-list / user-get: default set


def _user(uid: str, upn: str, display: str, **extra: object) -> dict:
    return {"id": uid, "userPrincipalName": upn, "displayName": display, "userType": "Member",
            "accountEnabled": True, **extra}


USERS: list[dict] = [
    _user(ADELE, "AdeleV@contoso.com", "Adele Vance", givenName="Adele", surname="Vance",
          mail="AdeleV@contoso.com", jobTitle="Retail Manager", officeLocation="18/2111",
          businessPhones=["+1 425 555 0109"], mobilePhone="+1 425 555 0109",
          preferredLanguage="en-US", postalCode="98004",
          identities=[{"signInType": "userPrincipalName", "issuer": "contoso.com",
                       "issuerAssignedId": "AdeleV@contoso.com"}],
          smsSignInState="ready", phoneNumber="+1 2065555555"),
    _user(ADMIN, "admin@contoso.com", "MOD Administrator", givenName="MOD",
          surname="Administrator", businessPhones=["425-555-0100"], mobilePhone="425-555-0101",
          preferredLanguage="en-US"),
    _user(ADAMS, "Adams@contoso.com", "Conf Room Adams", mail="Adams@contoso.com",
          accountEnabled=False),
    _user(GRADY, "GradyA@contoso.com", "Grady Archie", givenName="Grady", surname="Archie",
          jobTitle="Designer", mail="GradyA@contoso.com"),
    _user(JOHANNA, "JohannaL@contoso.com", "Johanna Lorenz", mail="JohannaL@contoso.com"),
    _user(JOHN, "testuser1@contoso.com", "Testuser1", givenName="John", surname="Doe",
          mail="testuser1@contoso.com"),
    _user(JANE, "testuser2@contoso.com", "Testuser2", givenName="Jane", surname="Doe",
          mail="testuser2@contoso.com"),
    _user(PAT, "testuser3@contoso.com", "Testuser3", givenName="Pat", surname="Doe",
          mail="testuser3@contoso.com"),
    _user(MEGHAN, "testuser4@contoso.com", "Testuser4", givenName="Meghan", surname="Doe",
          mail="testuser4@contoso.com"),
    {"id": ADELE_GUEST, "userPrincipalName": GUEST_UPN, "displayName": "Adele Vance",
     "mail": "AdeleV@adatum.com", "userType": "Guest", "accountEnabled": True,
     "creationType": "Invitation", "externalUserState": "Accepted",
     "identities": [{"signInType": "userPrincipalName", "issuer": "contoso.com",
                     "issuerAssignedId": "AdeleV_adatum.com#EXT#@cntoso.com"}]},
    {"id": OBRIEN, "userPrincipalName": "obrien_litware.com#EXT#@contoso.com",
     "displayName": "Siobhan O'Brien", "mail": OBRIEN_MAIL, "userType": "Guest",
     "accountEnabled": True, "creationType": "Invitation", "externalUserState": "Accepted"},
]

GROUPS: list[dict] = [
    {"id": ALL_COMPANY, "displayName": "All Company", "mailNickname": "allcompany",
     "description": "This is the default group for everyone in the network",
     "mail": "allcompany@contoso.com", "groupTypes": ["Unified"], "mailEnabled": True,
     "securityEnabled": False, "members": [PAT, MEGHAN]},
    {"id": SG_HR, "displayName": "sg-HR", "mailNickname": "sg-hr",
     "description": "All HR personnel", "members": []},
    {"id": ALL_USERS, "displayName": "All Users", "mailNickname": "allusers",
     "securityEnabled": True, "mailEnabled": False, "members": [JOHANNA, ADELE]},
]

APPLICATIONS: list[dict] = [
    {"id": B2C_APP, "appId": B2C_APP_ID,
     "displayName": "b2c-extensions-app. Do not modify. Used by AADB2C for storing user data.",
     "extensionProperties": []},
    {"id": SAMPLE_APP, "appId": SAMPLE_APP_ID, "displayName": "SampleApp",
     "extensionProperties": [{"name": "skypeId", "dataType": "String",
                              "targetObjects": ["User"]}]},
]


def build_fixture(tokens: list | None = None, applications: list[dict] | None = None) -> dict:
    """A fresh copy of the contract tenant; `tokens`/`applications` replace the defaults."""
    tenant = {
        "id": TENANT, "displayName": "Contoso", "defaultDomain": "contoso.onmicrosoft.com",
        "domains": [{"id": "contoso.com", "isVerified": True, "isDefault": True}],
        "tokens": tokens if tokens is not None else [ALL_TOKEN], "premium": True,
        "authorizationPolicy": {"allowInvitesFrom": "everyone"},
        "crossTenantAccessPolicy": {"partners": [
            {"tenantId": PARTNER_SYNCED,
             "automaticUserConsentSettings": {"inboundAllowed": True, "outboundAllowed": False},
             "identitySynchronization": {"displayName": "Fabrikam",
                                         "userSyncInbound": {"isSyncAllowed": True}}},
            {"tenantId": PARTNER_NEW}]},
        "applications": applications if applications is not None else APPLICATIONS,
        "users": USERS,
        "groups": GROUPS,
    }
    return copy.deepcopy({"tenants": [tenant]})
