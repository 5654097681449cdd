"""GET /auditLogs/provisioning (provisioningobjectsummary-list): the page's example shape, its
$filter operators (eq, contains, gt, lt; case sensitive), $top with @odata.nextLink paging, the
ordering, the Permissions table (AuditLog.Read.All) and the premium licence reports need."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tenantsync.emulator.provisioning_logs import summary
from tenantsync.emulator.server import EmulatorServer
from tenantsync.emulator.tokens import app_token
from tests.contract.doc import error_of, expect, page
from tests.contract.world import ALL_TOKEN, TENANT, build_fixture

PATH = "/auditLogs/provisioning"
SP = {"id": "6cc35b93-185a-4485-a519-50c09549f3ad", "displayName": "Contoso"}
JOB_A = "Azure2Azure.dcd219ddbc684b9bbf0b4a33a796be35.10a7a801-7101-4c69-ae00-ce9f75f8460a"
JOB_B = "Azure2Azure.dcd219ddbc684b9bbf0b4a33a796be35.20a7a801-7101-4c69-ae00-ce9f75f8460b"
T0 = datetime(2019, 5, 4, 3, 0, 54, tzinfo=UTC)
# provisioningobjectsummary-list example 1: every property of a provisioningObjectSummary
EXAMPLE_KEYS = {"id", "activityDateTime", "tenantId", "jobId", "cycleId", "changeId", "provisioningAction",
                "durationInMilliseconds", "provisioningStatusInfo", "provisioningSteps", "modifiedProperties",
                "servicePrincipal", "sourceSystem", "targetSystem", "initiatedBy", "sourceIdentity",
                "targetIdentity"}
READER = app_token(TENANT, "0c2a9d2e-6b43-4f9e-9d2a-3e1f2b4c5d6e", ["AuditLog.Read.All"])
NO_AUDIT = app_token(TENANT, "1c2a9d2e-6b43-4f9e-9d2a-3e1f2b4c5d6f", ["User.Read.All"])


def row(i: int, job: str, cycle: str, action: str = "create", status: str = "success",
        name: str = "Bill Bob") -> dict:
    engine_row = {"activityDateTime": T0 + timedelta(minutes=i), "id": f"00000000-0000-4000-8000-{i:012d}",
                  "cycleId": cycle, "changeId": f"10000000-0000-4000-8000-{i:012d}", "provisioningAction": action,
                  "status": status, "errorCode": "" if status == "success" else "AzureActiveDirectoryForbidden",
                  "reason": "" if status == "success" else "Guest invitations not allowed for your company.",
                  "sourceIdentity.id": f"20000000-0000-4000-8000-{i:012d}", "sourceIdentity.displayName": name,
                  "targetIdentity.id": "", "targetIdentity.displayName": "",
                  "modifiedProperties": [{"displayName": "displayName", "oldValue": None, "newValue": name}],
                  "provisioningSteps": [{"name": "EntryImport", "provisioningStepType": "import",
                                         "status": "success", "description": "Retrieved", "details": {}}],
                  "durationInMilliseconds": 3236}
    return summary(engine_row, tenant_id=TENANT, job_id=job, sp=SP, source_tenant=TENANT,
                   target_tenant="9c5d131d-b1c3-4fc4-9e3f-c6557947d551")


@pytest.fixture(scope="module")
def server() -> EmulatorServer:
    fixture = build_fixture(tokens=[ALL_TOKEN, READER, NO_AUDIT])
    nonpremium = {**fixture["tenants"][0], "id": "11111111-2222-4333-8444-555555555555", "premium": False,
                  "tokens": ["nonpremium-token"], "defaultDomain": "fabrikam.onmicrosoft.com",
                  "domains": [], "applications": [], "users": [], "groups": []}
    srv = EmulatorServer({"tenants": [*fixture["tenants"], nonpremium]})
    assert srv.emulator is not None
    tenant = srv.emulator.directory.tenant(TENANT)
    assert tenant is not None
    tenant.provisioning_logs.extend(
        [row(i, JOB_A, "cycle-1") for i in range(5)]
        + [row(5, JOB_A, "cycle-2", "update", name="Adele Vance"),
           row(6, JOB_A, "cycle-2", "create", "failure", name="Alex Wilber")]
        + [row(7 + i, JOB_B, "cycle-9", "other") for i in range(3)])
    yield srv
    srv.stop()


def get(srv: EmulatorServer, params: dict | None = None, token: str = READER, url: str | None = None
        ) -> httpx.Response:
    return httpx.get(url or srv.url + PATH, params=params, headers={"Authorization": f"Bearer {token}"},
                     timeout=30)


@page("provisioningobjectsummary-list", "200-example-shape")
def test_the_list_has_the_example_shape_newest_first(server, doc_page):
    body = expect(get(server), 200)
    assert body["@odata.context"].endswith("/$metadata#auditLogs/provisioning")
    items = body["value"]
    assert len(items) == 10
    assert EXAMPLE_KEYS <= set(items[0])
    assert [i["activityDateTime"] for i in items] == sorted((i["activityDateTime"] for i in items), reverse=True)
    first = items[-1]
    assert first["activityDateTime"] == "2019-05-04T03:00:54.000000Z"
    assert first["initiatedBy"] == {"id": "", "displayName": "Azure AD Provisioning Service",
                                    "initiatorType": "system"}
    assert first["servicePrincipal"] == SP
    assert first["provisioningStatusInfo"] == {"status": "success", "errorInformation": None}
    assert first["provisioningSteps"][0]["provisioningStepType"] == "import"
    failed = next(i for i in items if i["provisioningStatusInfo"]["status"] == "failure")
    assert failed["provisioningStatusInfo"]["errorInformation"]["errorCode"] == "AzureActiveDirectoryForbidden"
    assert failed["provisioningStatusInfo"]["errorInformation"]["errorCategory"] == "nonServiceFailure"


@page("provisioningobjectsummary-list", "filter-eq-contains-gt-lt")
@pytest.mark.parametrize(("flt", "expected"), [
    (f"jobId eq '{JOB_B}'", 3),
    ("cycleId eq 'cycle-2'", 2),
    (f"jobId eq '{JOB_A}' and cycleId eq 'cycle-1'", 5),
    ("cycleId eq 'cycle-2' or cycleId eq 'cycle-9'", 5),
    (f"servicePrincipal/id eq '{SP['id']}'", 10),
    ("servicePrincipal/displayName eq 'contoso'", 0),                # case sensitive
    ("provisioningStatusInfo/status eq 'failure'", 1),
    ("provisioningAction eq 'update'", 1),
    ("contains(sourceIdentity/displayName, 'Vance')", 1),
    ("contains(sourceIdentity/displayName, 'vance')", 0),            # case sensitive
    ("activityDateTime gt 2019-05-04T03:05:54Z", 4),
    ("activityDateTime lt 2019-05-04T03:02:00Z", 2),
    ("activityDateTime gt 2019-05-04T03:01:00Z and activityDateTime lt 2019-05-04T03:04:00Z", 3),
])
def test_filters(server, doc_page, flt, expected):
    assert len(expect(get(server, {"$filter": flt}), 200)["value"]) == expected


@page("provisioningobjectsummary-list", "top-and-nextlink")
def test_top_pages_through_next_links_in_order(server, doc_page):
    seen, url, params = [], None, {"$top": "4", "$orderby": "activityDateTime asc"}
    while True:
        body = expect(get(server, params if url is None else None, url=url), 200)
        seen += [i["id"] for i in body["value"]]
        assert len(body["value"]) <= 4
        url = body.get("@odata.nextLink")
        if not url:
            break
    assert seen == [f"00000000-0000-4000-8000-{i:012d}" for i in range(10)]


@page("provisioningobjectsummary-list", "400-bad-query")
@pytest.mark.parametrize("params", [{"$filter": "jobId startswith 'x'"}, {"$top": "0"},
                                    {"$orderby": "jobId"}, {"$select": "id"}])
def test_an_unsupported_query_is_a_400(server, doc_page, params):
    error_of(get(server, params), 400)


@page("provisioningobjectsummary-list", "403-permissions")
def test_a_token_without_auditlog_read_all_is_refused(server, doc_page):
    err = error_of(get(server, token=NO_AUDIT), 403, "Authorization_RequestDenied")
    assert "Insufficient privileges" in err["message"]


@page("provisioningobjectsummary-list", "403-premium")
def test_a_tenant_without_premium_licence_is_refused(server, doc_page):
    err = error_of(get(server, token="nonpremium-token"), 403,
                   "Authentication_RequestFromNonPremiumTenantOrB2CTenant")
    assert "premium" in err["message"]
