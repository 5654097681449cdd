"""Microsoft's provisioning service through Graph's synchronization API, on the source tenant.

One method per documented call, raw Graph JSON in and out (GraphApi.request / get_json /
iter_pages). Pages cited: applicationtemplate-instantiate, synchronization-synchronizationjob-post,
synchronization-synchronizationjob-validatecredentials, synchronization-serviceprincipal-put-synchronization
(secrets), serviceprincipal-post-approleassignedto, synchronization-synchronizationschema-update,
synchronization-synchronizationjob-start | -pause | -restart | -provisionondemand | -delete,
provisioningobjectsummary-list. The connector does no policy: it neither retries a refusal (GraphApi
does the transient ones) nor explains one (tenantsync/entra_service/errors.py does).

A dry run hands in a read-only GraphApi: reads pass, every write raises DryRunViolation.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any, Protocol

from ..graph.urls import path
from .entra_source import odata_quote

# cross-tenant-synchronization-configure-graph: "Tenant to Tenant Synchronization" gallery app.
CTS_TEMPLATE_ID = "518e5f48-1fc8-4c48-9387-9fdf28b0dfe7"
JOB_TEMPLATE_ID = "Azure2Azure"
# provisioningobjectsummary-list: the reports API pages; 500 rows a page is the guide's example.
LOG_PAGE_SIZE = 500


def pairs(values: Mapping[str, str]) -> list[dict[str, str]]:
    """{"k": "v"} -> [{"key": "k", "value": "v"}] (synchronizationSecretKeyStringValuePair)."""
    return [{"key": k, "value": v} for k, v in values.items()]


def unpair(items: Any) -> dict[str, str]:
    return {str(p.get("key")): str(p.get("value", "")) for p in items or [] if isinstance(p, dict)}


class GraphCalls(Protocol):
    """What SyncJobs uses of a GraphApi (tenantsync/graph/api.py); a call recorder may stand in."""

    def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]: ...

    def request(self, method: str, path: str, body: Any = None) -> dict[str, Any] | None: ...

    def iter_pages(self, resource: str, select: Any = None, filter: str | None = None, top: int = 999,
                   count: bool = False, expand: str | None = None) -> Iterator[list[dict[str, Any]]]: ...


class SyncJobs:
    """The synchronization API of one service principal's jobs, over the source tenant's GraphApi."""

    def __init__(self, api: GraphCalls) -> None:
        self.api = api

    @staticmethod
    def _job(sp_id: str, job_id: str | None = None, *rest: str) -> str:
        parts = ["servicePrincipals", sp_id, "synchronization", "jobs"]
        if job_id is not None:
            parts.append(job_id)
        return path(*parts, *rest)

    # --- the application --------------------------------------------------------------
    def find_service_principal(self, display_name: str) -> dict[str, Any] | None:
        """The service principal named ``display_name`` (the first one, oldest first), or None."""
        flt = f"displayName eq {odata_quote(display_name)}"
        for page in self.api.iter_pages("servicePrincipals", filter=flt, top=10,
                                        select=["id", "appId", "displayName", "appRoles"]):
            for sp in page:
                return sp
        return None

    def service_principal(self, sp_id: str) -> dict[str, Any]:
        return self.api.get_json(path("servicePrincipals", sp_id))

    def instantiate(self, display_name: str) -> dict[str, Any]:
        """applicationtemplate-instantiate -> {"application": {...}, "servicePrincipal": {...}}."""
        return self.api.request("POST", path("applicationTemplates", CTS_TEMPLATE_ID, "instantiate"),
                                {"displayName": display_name}) or {}

    def validate_credentials(self, sp_id: str, credentials: Mapping[str, str], *,
                             job_id: str | None = None, use_saved: bool = False,
                             template_id: str = JOB_TEMPLATE_ID) -> None:
        """synchronization-synchronizationjob-validatecredentials: 204, or a GraphError saying why.

        Before a job exists the call goes to ``jobs/validateCredentials`` with the template id
        (cross-tenant-synchronization-configure-graph); with a job, to ``jobs/{id}/validateCredentials``.
        """
        body: dict[str, Any] = {"useSavedCredentials": use_saved, "credentials": pairs(credentials)}
        if job_id is None:
            body["templateId"] = template_id
        self.api.request("POST", self._job(sp_id, job_id, "validateCredentials"), body)

    # --- jobs -------------------------------------------------------------------------
    def jobs(self, sp_id: str) -> list[dict[str, Any]]:
        return list(self.api.get_json(self._job(sp_id)).get("value", []))

    def create_job(self, sp_id: str, template_id: str = JOB_TEMPLATE_ID) -> dict[str, Any]:
        return self.api.request("POST", self._job(sp_id), {"templateId": template_id}) or {}

    def job(self, sp_id: str, job_id: str) -> dict[str, Any]:
        return self.api.get_json(self._job(sp_id, job_id))

    def delete_job(self, sp_id: str, job_id: str) -> None:
        self.api.request("DELETE", self._job(sp_id, job_id))

    def start(self, sp_id: str, job_id: str) -> None:
        self.api.request("POST", self._job(sp_id, job_id, "start"))

    def pause(self, sp_id: str, job_id: str) -> None:
        self.api.request("POST", self._job(sp_id, job_id, "pause"))

    def restart(self, sp_id: str, job_id: str, reset_scope: str | None = None) -> None:
        """``reset_scope``: comma-separated synchronizationJobRestartScope values, e.g.
        "QuarantineState, Watermark, Escrows" or "ForceDeletes"; None sends no criteria."""
        body = {"criteria": {"resetScope": reset_scope}} if reset_scope else {}
        self.api.request("POST", self._job(sp_id, job_id, "restart"), body)

    def schedule(self, sp_id: str, job_id: str, schedule: Mapping[str, Any]) -> None:
        """PATCH the job's schedule (synchronization-synchronizationjob-update is beta-only;
        emulator decision: v1.0 PATCH of ``schedule`` is accepted)."""
        self.api.request("PATCH", self._job(sp_id, job_id), {"schedule": dict(schedule)})

    def provision_on_demand(self, sp_id: str, job_id: str, rule_id: str,
                            object_ids: list[str], object_type: str = "User") -> dict[str, Any]:
        body = {"parameters": [{"ruleId": rule_id, "subjects": [
            {"objectId": oid, "objectTypeName": object_type} for oid in object_ids]}]}
        return self.api.request("POST", self._job(sp_id, job_id, "provisionOnDemand"), body) or {}

    # --- schema and secrets -------------------------------------------------------------
    def schema(self, sp_id: str, job_id: str) -> dict[str, Any]:
        return self.api.get_json(self._job(sp_id, job_id, "schema"))

    def put_schema(self, sp_id: str, job_id: str, schema: Mapping[str, Any]) -> None:
        self.api.request("PUT", self._job(sp_id, job_id, "schema"), dict(schema))

    def secrets(self, sp_id: str) -> dict[str, str]:
        """The saved secrets by key (emulator decision: GET of the secrets collection answers
        {"value": [{key, value}]}, as the SDK's secrets request builder reads it)."""
        got = self.api.get_json(path("servicePrincipals", sp_id, "synchronization", "secrets"))
        return unpair(got.get("value", []))

    def put_secrets(self, sp_id: str, secrets: Mapping[str, str]) -> None:
        self.api.request("PUT", path("servicePrincipals", sp_id, "synchronization", "secrets"),
                         {"value": pairs(secrets)})

    # --- who is assigned ----------------------------------------------------------------
    def assignments(self, sp_id: str) -> list[dict[str, Any]]:
        return [a for page in self.api.iter_pages(f"servicePrincipals/{sp_id}/appRoleAssignedTo", top=999)
                for a in page]

    def assign(self, sp_id: str, principal_id: str, app_role_id: str) -> dict[str, Any]:
        body = {"principalId": principal_id, "resourceId": sp_id, "appRoleId": app_role_id}
        return self.api.request("POST", path("servicePrincipals", sp_id, "appRoleAssignedTo"), body) or {}

    def unassign(self, sp_id: str, assignment_id: str) -> None:
        self.api.request("DELETE", path("servicePrincipals", sp_id, "appRoleAssignedTo", assignment_id))

    # --- provisioning logs ----------------------------------------------------------------
    def provisioning_logs(self, *, job_id: str, cycle_id: str | None = None,
                          since: datetime | str | None = None,
                          top: int = LOG_PAGE_SIZE) -> Iterator[list[dict[str, Any]]]:
        """Pages of provisioningObjectSummary of one job (and cycle): $filter on jobId, cycleId and
        activityDateTime after ``since`` (``gt``: provisioningobjectsummary-list names eq, contains,
        gt and lt as the operators), $top ``top``, followed along @odata.nextLink."""
        clauses = [f"jobId eq {odata_quote(job_id)}"]
        if cycle_id is not None:
            clauses.append(f"cycleId eq {odata_quote(cycle_id)}")
        if since is not None:
            when = since if isinstance(since, str) else since.strftime("%Y-%m-%dT%H:%M:%SZ")
            clauses.append(f"activityDateTime gt {when}")
        yield from self.api.iter_pages("auditLogs/provisioning", filter=" and ".join(clauses), top=top)


__all__ = ["CTS_TEMPLATE_ID", "JOB_TEMPLATE_ID", "GraphCalls", "SyncJobs", "pairs", "unpair"]
