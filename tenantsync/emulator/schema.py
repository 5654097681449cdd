"""Graph v1.0 property names the emulator knows, per resource type.

The lists are checked against msgraph-sdk's typed models by tests/emulator/test_fidelity.py, so a
property served here is always one the SDK can parse.
"""

from __future__ import annotations

from typing import Protocol

# Structural (non-navigation) properties of microsoft.graph.user in v1.0.
USER_PROPERTIES: frozenset[str] = frozenset("""
aboutMe accountEnabled ageGroup assignedLicenses assignedPlans authorizationInfo birthday
businessPhones city companyName consentProvidedForMinor country createdDateTime creationType
customSecurityAttributes deletedDateTime department displayName employeeHireDate employeeId
employeeLeaveDateTime employeeOrgData employeeType externalUserState
externalUserStateChangeDateTime faxNumber givenName hireDate id identities imAddresses interests
isManagementRestricted isResourceAccount jobTitle lastPasswordChangeDateTime
legalAgeGroupClassification licenseAssignmentStates mail mailNickname mailboxSettings mobilePhone
mySite officeLocation onPremisesDistinguishedName onPremisesDomainName
onPremisesExtensionAttributes onPremisesImmutableId onPremisesLastSyncDateTime
onPremisesProvisioningErrors onPremisesSamAccountName onPremisesSecurityIdentifier
onPremisesSyncEnabled onPremisesUserPrincipalName otherMails passwordPolicies passwordProfile
pastProjects postalCode preferredDataLocation preferredLanguage preferredName print
provisionedPlans proxyAddresses responsibilities schools securityIdentifier
serviceProvisioningErrors showInAddressList signInActivity signInSessionsValidFromDateTime skills
state streetAddress surname usageLocation userPrincipalName userType
""".split())

# Graph's default user property set (what GET /users returns without $select), in Graph's order.
USER_DEFAULT: tuple[str, ...] = (
    "businessPhones", "displayName", "givenName", "jobTitle", "mail", "mobilePhone",
    "officeLocation", "preferredLanguage", "surname", "userPrincipalName", "id")

USER_COLLECTIONS: frozenset[str] = frozenset("""
businessPhones otherMails proxyAddresses imAddresses identities assignedLicenses assignedPlans
provisionedPlans onPremisesProvisioningErrors serviceProvisioningErrors licenseAssignmentStates
interests pastProjects responsibilities schools skills
""".split())

# Properties a client may not set (Graph answers 400 for them on POST/PATCH).
USER_READ_ONLY: frozenset[str] = frozenset("""
id createdDateTime creationType deletedDateTime externalUserState externalUserStateChangeDateTime
securityIdentifier signInActivity assignedPlans provisionedPlans licenseAssignmentStates
lastPasswordChangeDateTime onPremisesSyncEnabled onPremisesLastSyncDateTime
onPremisesSecurityIdentifier onPremisesProvisioningErrors serviceProvisioningErrors
""".split())

# Fields a fixture may carry on a user that are not user properties: they describe the user's
# authentication methods and are served under /users/{id}/authentication/phoneMethods only.
USER_FIXTURE_ONLY: frozenset[str] = frozenset({"smsSignInState", "phoneNumber"})

GROUP_PROPERTIES: frozenset[str] = frozenset("""
allowExternalSenders assignedLabels assignedLicenses autoSubscribeNewMembers classification
createdDateTime deletedDateTime description displayName expirationDateTime groupTypes
hasMembersWithLicenseErrors hideFromAddressLists hideFromOutlookClients id isAssignableToRole
isManagementRestricted licenseProcessingState mail mailEnabled mailNickname membershipRule
membershipRuleProcessingState onPremisesDomainName onPremisesExtensionAttributes
onPremisesLastSyncDateTime onPremisesNetBiosName onPremisesProvisioningErrors
onPremisesSamAccountName onPremisesSecurityIdentifier onPremisesSyncEnabled preferredDataLocation
preferredLanguage proxyAddresses renewedDateTime resourceBehaviorOptions
resourceProvisioningOptions securityEnabled securityIdentifier serviceProvisioningErrors theme
uniqueName visibility
""".split())

GROUP_DEFAULT: tuple[str, ...] = (
    "id", "deletedDateTime", "classification", "createdDateTime", "description", "displayName",
    "expirationDateTime", "groupTypes", "isAssignableToRole", "mail", "mailEnabled",
    "mailNickname", "membershipRule", "membershipRuleProcessingState", "onPremisesDomainName",
    "onPremisesLastSyncDateTime", "onPremisesNetBiosName", "onPremisesSamAccountName",
    "onPremisesSecurityIdentifier", "onPremisesSyncEnabled", "preferredDataLocation",
    "preferredLanguage", "proxyAddresses", "renewedDateTime", "resourceBehaviorOptions",
    "resourceProvisioningOptions", "securityEnabled", "securityIdentifier", "theme", "visibility",
    "onPremisesProvisioningErrors", "serviceProvisioningErrors")

GROUP_COLLECTIONS: frozenset[str] = frozenset("""
groupTypes proxyAddresses resourceBehaviorOptions resourceProvisioningOptions assignedLabels
assignedLicenses onPremisesProvisioningErrors serviceProvisioningErrors
""".split())

GROUP_READ_ONLY: frozenset[str] = frozenset("""
id createdDateTime deletedDateTime mail proxyAddresses renewedDateTime securityIdentifier
onPremisesSyncEnabled onPremisesLastSyncDateTime onPremisesSecurityIdentifier
onPremisesProvisioningErrors serviceProvisioningErrors
""".split())


def looks_like_extension(name: str) -> bool:
    """Shaped like a directory extension name (`extension_<appId>_<name>`), registered or not.

    Only chooses the wording of an error: a name is accepted only when registered (see
    PropertySet.extensions and applications.py)."""
    return name.startswith("extension_") and len(name) > len("extension_")


class PropertyNames(Protocol):
    """What a query ($select, $filter, $orderby) reads of a type: a PropertySet, or the union of
    two for a collection of users and groups (groups._MemberProps)."""

    @property
    def type_name(self) -> str: ...

    @property
    def collections(self) -> frozenset[str]: ...

    def canonical(self, name: str) -> str | None: ...


class PropertySet:
    """Known properties of one resource type, with Graph's case-insensitive name lookup.

    `extensions` maps the directory extension names registered for the type in one tenant to
    their extensionProperty definitions; they are matched exactly (extension names are
    case-sensitive). The module-level sets have none: tenants hold their own (Tenant.user_props).
    """

    def __init__(self, type_name: str, known: frozenset[str], default: tuple[str, ...],
                 collections: frozenset[str], read_only: frozenset[str],
                 extensions: dict[str, dict] | None = None) -> None:
        self.type_name = type_name
        self.known = known
        self.default = default
        self.collections = collections
        self.read_only = read_only
        self.extensions: dict[str, dict] = dict(extensions or {})
        self._by_lower = {name.lower(): name for name in known}

    def with_extensions(self, extensions: dict[str, dict]) -> PropertySet:
        """The same type with exactly these registered extension properties."""
        return PropertySet(self.type_name, self.known, self.default, self.collections,
                           self.read_only, extensions)

    def canonical(self, name: str) -> str | None:
        """The property's canonical spelling, or None when the type has no such property."""
        found = self._by_lower.get(name.lower())
        if found:
            return found
        return name if name in self.extensions else None

    def empty(self, name: str) -> object:
        """The value Graph shows for an unset property: [] for collections, null otherwise."""
        return [] if name in self.collections else None


USERS = PropertySet("microsoft.graph.user", USER_PROPERTIES, USER_DEFAULT, USER_COLLECTIONS,
                    USER_READ_ONLY)
GROUPS = PropertySet("microsoft.graph.group", GROUP_PROPERTIES, GROUP_DEFAULT, GROUP_COLLECTIONS,
                     GROUP_READ_ONLY)
