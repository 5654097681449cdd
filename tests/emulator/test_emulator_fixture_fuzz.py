"""Every field of a fixture replaced by a value of every JSON type: the loader either accepts it or
raises a FixtureError naming the tenant and the object, never a TypeError or AttributeError (which
`tenantsync emulator` would print as a crash, exit 1, instead of the one-line refusal, exit 2)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tenantsync.emulator.fixture import FixtureError, load_directory

CORPUS = Path(__file__).parent.parent / "corpus" / "fixtures"
WRONG = [5, 1.5, "x", "", [], {}, None, True, [[1]], {"a": []}, [5], ["x"], [{}]]
TENANT = "11111111-1111-4111-8111-111111111111"
EXT_APP = "0a1b2c3d-4e5f-4071-8293-a4b5c6d7e8f9"


def _fixture() -> dict:
    users = [{"id": f"00000000-0000-4000-8000-00000000000{i}", "userPrincipalName":
              f"u{i}@contoso.com", "displayName": f"User {i}", "accountEnabled": True,
              "businessPhones": ["+1 425 555 0100"], "smsSignInState": "notAllowedByPolicy",
              "passwordProfile": {"password": "x"}} for i in range(1, 4)]
    users[1]["manager"] = users[0]["id"]
    return {"tenants": [{
        "id": TENANT, "displayName": "Contoso", "defaultDomain": "contoso.com",
        "domains": ["contoso.com", {"id": "fabrikam.com"}],
        "tokens": ["token-a", {"token": "token-b", "appId": EXT_APP, "roles": ["User.Read.All"]}],
        "premium": True, "authorizationPolicy": {"allowInvitesFrom": "everyone"},
        "externalIdentitiesPolicy": {"allowExternalIdentitiesToLeave": True},
        "crossTenantAccessPolicy": {"partners": [{
            "tenantId": "22222222-2222-4222-8222-222222222222",
            "identitySynchronization": {"userSyncInbound": {"isSyncAllowed": True}}}]},
        "applications": [{"appId": EXT_APP, "displayName": "app", "extensionProperties": [
            {"name": "anchor", "dataType": "String", "targetObjects": ["User"]}]}],
        "users": users,
        "groups": [{"id": "00000000-0000-4000-8000-0000000000a1", "displayName": "Staff",
                    "securityEnabled": True, "groupTypes": [], "members": [users[0]["id"]]}],
    }]}


def _paths(node: Any, prefix: tuple = ()) -> Iterator[tuple]:
    if prefix:
        yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, prefix + (key,))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _paths(value, prefix + (i,))


def _replace(root: dict, path: tuple, value: Any) -> dict:
    out = copy.deepcopy(root)
    node = out
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    return out


def test_wrong_types_in_every_field_are_named_fixture_errors():
    base = _fixture()
    load_directory(copy.deepcopy(base))                   # the unmodified fixture loads
    refused, tried = 0, 0
    for path in _paths(base):
        for value in WRONG:
            tried += 1
            try:
                load_directory(_replace(base, path, value))
            except FixtureError as exc:
                refused += 1
                text = str(exc)
                assert "\n" not in text and (text.startswith(("tenant ", "tenants[", "fixture"))), \
                    (path, value, text)
    assert tried > 800 and refused > 300                 # most wrong types are refused


def test_every_corpus_file_is_a_fixture_error_not_a_crash():
    for path in sorted(CORPUS.glob("*.json")):
        try:
            load_directory(path)
        except FixtureError as exc:
            assert str(exc).startswith((f"{path}: ", f"cannot read fixture {path}")), str(exc)
        else:
            raise AssertionError(f"{path.name} was accepted")

