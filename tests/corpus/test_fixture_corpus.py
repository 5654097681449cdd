"""Malformed emulator fixtures through the real command line, `tenantsync emulator --fixture FILE`.

Each file of ``fixtures/`` is one mistake (wrong type or missing field in every part of the fixture
format, docs/contracts.md#emulator-fixture). The command must refuse it while loading, before it binds a
port: exit status 2, nothing on stdout (it never printed "tenantsync emulator on ..."), and one
line on stderr naming the file, the tenant, the object and the field:
``error: FILE: tenant T: users[3]: 'x' ...``; a file that is not JSON names its line and column.
It runs as a subprocess with a short timeout, because with a good fixture the command serves until
interrupted.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
T = "tenant 11111111-1111-4111-8111-111111111111"

# file -> what follows "error: FILE: " (text), or a pattern for the whole line (re.Pattern)
CASES: dict[str, str | re.Pattern] = {
    "not-json.json": re.compile(r"error: cannot read fixture {file}: .*line 2 column 10\b.*"),
    "invalid-utf8.json": re.compile(r"error: cannot read fixture {file}: .*UTF-8.*line 1 column \d+.*"),
    "empty.json": re.compile(r"error: cannot read fixture {file}: .*empty.*line 1 column 1\b.*"),
    "top-level-list.json": 'fixture: expected {"tenants": [...]}',
    "tenants-an-object.json": 'fixture: expected {"tenants": [...]}',
    "tenant-a-string.json": "tenants[0]: expected an object",
    "tenant-id-a-number.json": "tenants[0]: 'id' is required (a non-empty string)",
    "default-domain-missing.json": f"{T}: 'defaultDomain' is required (a non-empty string)",
    "domains-a-string.json": f"{T}: 'domains' must be a list (got a string)",
    "domain-without-id.json": f"{T}: domains[1]: each domain is a name or an object with an 'id' "
                              "(a string)",
    "tokens-an-object.json": f"{T}: 'tokens' must be a list (got an object)",
    "token-a-number.json": f"{T}: tokens[1]: expected a string or an object with token, appId, roles",
    "premium-a-string.json": f"{T}: 'premium' must be a boolean (got a string)",
    "authorization-policy-a-list.json": f"{T}: 'authorizationPolicy' must be an object (got a list)",
    "partners-a-number.json": f"{T}: crossTenantAccessPolicy: 'partners' must be a list (got a number)",
    "partner-without-tenant-id.json": f"{T}: crossTenantAccessPolicy.partners[0]: 'tenantId' is "
                                      "required (a non-empty string)",
    "identity-sync-a-string.json": f"{T}: crossTenantAccessPolicy.partners[0]: "
                                   "'identitySynchronization' must be an object (got a string)",
    "application-without-app-id.json": f"{T}: applications[0]: 'appId' is required (a GUID)",
    "users-an-object.json": f"{T}: 'users' must be a list (got an object)",
    "user-a-string.json": f"{T}: users[3]: expected an object",
    "user-unknown-field.json": f"{T}: users[3]: 'x' is not a Graph user property (or a fixture "
                               "field: phoneNumber, smsSignInState)",
    "user-upn-a-number.json": f"{T}: users[3]: 'userPrincipalName' must be a string (got a number)",
    "user-id-a-list.json": f"{T}: users[3]: 'id' must be a string (got a list)",
    "user-account-enabled-a-string.json": f"{T}: users[3]: 'accountEnabled' must be a boolean "
                                          "(got a string)",
    "user-display-name-300.json": f"{T}: users[3]: 'displayName' is 300 characters long; the user "
                                  "resource allows at most 256",
    "user-business-phones-a-string.json": f"{T}: users[3]: 'businessPhones' must be a list of "
                                          "strings (got a string)",
    "user-password-profile-a-string.json": f"{T}: users[3]: 'passwordProfile' must be an object "
                                           "(got a string)",
    "user-sms-state-a-number.json": f"{T}: users[3]: 'smsSignInState' must be a string",
    "user-duplicate-upn.json": f"{T}: users[3]: duplicate userPrincipalName u1@contoso.com",
    "user-manager-unknown.json": f"{T}: users[3]: 'manager' must be the id of another user of this "
                                 "tenant (got '00000000-0000-4000-8000-000000000099')",
    "groups-a-string.json": f"{T}: 'groups' must be a list (got a string)",
    "group-members-a-string.json": f"{T}: groups[0]: 'members' must be a list of member ids "
                                   "(got a string)",
    "group-member-unknown.json": f"{T}: groups[0]: member nope is not a user or group of this tenant",
    "group-security-enabled-a-string.json": f"{T}: groups[0]: 'securityEnabled' must be a boolean "
                                            "(got a string)",
    "duplicate-tenant.json": f"{T}: duplicate tenant id",
    "service-principals-an-object.json": f"{T}: 'servicePrincipals' must be a list (got an object)",
    "service-principal-assigned-unknown.json": f"{T}: servicePrincipals[0]: assignedTo: "
                                               "'00000000-0000-4000-8000-000000000099' is not a "
                                               "user or group of this tenant",
}


def test_every_fixture_file_has_its_case_and_the_corpus_is_big_enough() -> None:
    assert sorted(p.name for p in FIXTURES.iterdir()) == sorted(CASES)
    assert len(CASES) >= 16


@pytest.mark.parametrize("name", sorted(CASES))
def test_malformed_fixture_exits_2_with_one_line_naming_file_and_field(name: str,
                                                                       tmp_path: Path) -> None:
    path = FIXTURES / name
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    done = subprocess.run([sys.executable, "-m", "app", "emulator", "--fixture", str(path),
                           "--port", "0"], capture_output=True, text=True, cwd=tmp_path,
                          timeout=60, env={**os.environ, "COLUMNS": "80"})
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stdout == ""                                  # never served
    expected = CASES[name]
    if isinstance(expected, re.Pattern):
        line = done.stderr.rstrip("\n")
        pattern = expected.pattern.replace("{file}", re.escape(str(path)))
        assert re.fullmatch(pattern, line) and done.stderr.count("\n") == 1, done.stderr
    else:
        assert done.stderr == f"error: {path}: {expected}\n"
    assert os.listdir(tmp_path) == []                         # nothing created or written
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
