"""GET /beta/policies/externalIdentitiesPolicy: the external user leave settings.

The cross-tenant-synchronization-configure page (Step 14, "Configure leave settings") asks the
target tenant to decide whether external users, synced users included, may leave it themselves.
Graph exposes that setting as the tenant-wide externalIdentitiesPolicy, in beta only
(externalidentitiespolicy-get: "GET /policies/externalIdentitiesPolicy", no OData query
parameters, Policy.Read.All or Policy.ReadWrite.ExternalIdentities): /v1.0 has no such resource,
and the emulator serves it under /beta only.

The page's example response wraps the object in a "value" property; the resource page's JSON
representation, and every other singleton policy Graph serves, give the object itself: that is
what the emulator answers (the product reads both shapes). A fixture tenant sets it under
``externalIdentitiesPolicy``; unset properties keep the example's values (fixture.py).
"""

from __future__ import annotations

import copy

from tenantsync.emulator.protocol import GraphRequest, GraphResponse

POLICY_ROUTE = "/beta/policies/externalIdentitiesPolicy"


def get_external_identities_policy(req: GraphRequest) -> GraphResponse:
    """GET /beta/policies/externalIdentitiesPolicy."""
    return GraphResponse(200, {
        "@odata.context": req.context("policies/externalIdentitiesPolicy/$entity"),
        **copy.deepcopy(req.home_tenant.external_identities_policy)})
