"""Type checks of the values a fixture gives users and groups (fixture.py), so that a wrong type is
a FixtureError naming tenant, object and field at load time, never a TypeError in a handler later.

Types follow the user and group resource types of Graph v1.0: Boolean properties, complex types
(objects), collections (String collection: a list of strings), every other property a String
(DateTimeOffset values are strings on the wire). null leaves the property unset.
"""

from __future__ import annotations

from typing import Any

from tenantsync.emulator.limits import GROUP_MAX_LENGTHS, USER_MAX_LENGTHS
from tenantsync.emulator.schema import GROUP_COLLECTIONS, USER_COLLECTIONS

USER_BOOLEANS = frozenset({"accountEnabled", "showInAddressList", "isResourceAccount",
                           "onPremisesSyncEnabled", "isManagementRestricted"})
USER_OBJECTS = frozenset({"passwordProfile", "employeeOrgData", "onPremisesExtensionAttributes",
                          "mailboxSettings", "signInActivity", "authorizationInfo",
                          "customSecurityAttributes", "print"})
USER_OBJECT_COLLECTIONS = frozenset({"identities", "assignedLicenses", "assignedPlans",
                                     "provisionedPlans", "onPremisesProvisioningErrors",
                                     "serviceProvisioningErrors", "licenseAssignmentStates"})
GROUP_BOOLEANS = frozenset({"securityEnabled", "mailEnabled", "isAssignableToRole",
                            "hideFromAddressLists", "hideFromOutlookClients",
                            "allowExternalSenders", "autoSubscribeNewMembers",
                            "hasMembersWithLicenseErrors", "onPremisesSyncEnabled",
                            "isManagementRestricted"})
GROUP_OBJECTS = frozenset({"licenseProcessingState", "onPremisesExtensionAttributes"})
GROUP_OBJECT_COLLECTIONS = frozenset({"assignedLabels", "assignedLicenses",
                                      "onPremisesProvisioningErrors", "serviceProvisioningErrors"})
# Fields of a fixture user that are not Graph properties (schema.USER_FIXTURE_ONLY): strings.
FIXTURE_ONLY_STRINGS = frozenset({"smsSignInState", "phoneNumber"})


def type_name(value: Any) -> str:
    """'a string', 'a number', ... for messages."""
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string",
            list: "a list", dict: "an object"}.get(type(value), type(value).__name__)


def _expected(name: str, booleans: frozenset, objects: frozenset, collections: frozenset,
              object_collections: frozenset) -> tuple[str, Any]:
    if name in booleans:
        return "a boolean", lambda v: isinstance(v, bool)
    if name in objects:
        return "an object", lambda v: isinstance(v, dict)
    if name in object_collections:
        return "a list of objects", lambda v: isinstance(v, list) and all(
            isinstance(x, dict) for x in v)
    if name in collections:
        return "a list of strings", lambda v: isinstance(v, list) and all(
            isinstance(x, str) for x in v)
    return "a string", lambda v: isinstance(v, str)


def value_problem(kind: str, name: str, value: Any) -> str | None:
    """Why `value` cannot be the `kind` ("User" or "Group") property `name`, or None."""
    if value is None:
        return None
    if kind == "User":
        want, ok = _expected(name, USER_BOOLEANS, USER_OBJECTS, USER_COLLECTIONS,
                             USER_OBJECT_COLLECTIONS)
        limits = USER_MAX_LENGTHS
    else:
        want, ok = _expected(name, GROUP_BOOLEANS, GROUP_OBJECTS, GROUP_COLLECTIONS,
                             GROUP_OBJECT_COLLECTIONS)
        limits = GROUP_MAX_LENGTHS
    if not ok(value):
        return f"'{name}' must be {want} (got {type_name(value)})"
    limit = limits.get(name)
    if limit is not None and len(value) > limit:
        return (f"'{name}' is {len(value)} characters long; the {kind.lower()} resource allows "
                f"at most {limit}")
    return None
