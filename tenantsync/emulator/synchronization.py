"""Graph's synchronization API on a service principal: secrets, jobs, schema and the job verbs.

Why: an organisation that keeps Microsoft's own cross-tenant synchronization service drives it
through these routes (cross-tenant-synchronization-configure-graph); the emulator serves them so
that tenantsync's entra provisioner runs against something that behaves like the service. The
routes keep the state (Tenant.sync_secrets, Tenant.sync_jobs with sync_state.SyncJob); the runner
(sync_runner.py) runs the jobs' cycles and answers validateCredentials and provisionOnDemand.

Pages: synchronization-serviceprincipal-put-synchronization (PUT secrets),
synchronization-synchronizationjob-validatecredentials, synchronization-synchronization-post-jobs,
synchronization-synchronization-list-jobs, synchronization-synchronizationjob-get,
synchronization-synchronizationjob-delete, synchronization-synchronizationjob-start, -pause,
-restart (synchronization-synchronizationjobrestartcriteria), synchronization-synchronizationschema-get,
-update, synchronization-synchronizationjob-provisionondemand ("5 requests per 10 seconds").

Emulator decisions where the pages are silent:
- PUT secrets merges by key; an empty value removes the key; SyncNotificationSettings must be a
  JSON object (msgraph-metadata #347 reports both: removal by "", and 400 InvalidNotificationSettings
  for an empty notification value). GET secrets (the SDKs have it; no v1.0 page) lists them with the
  permissions of list jobs; values of credential keys (Password, SecretToken, ClientSecret, AppKey)
  are not returned.
- A service principal holds one job per template; a job id reads `<template>.<tenant id without
  dashes>.<guid>` as the admin center shows them.
- restart without criteria (or with an empty resetScope) passes an empty set: the admin center's
  "Restart provisioning"; the runner decides what it clears.
- provisionOnDemand: one parameter per request, at most 5 subjects of objectTypeName User (group
  on-demand provisioning is not supported for cross-tenant synchronization: provision-on-demand);
  the 5-per-10-seconds limit counts per source tenant, its window divided by the time scale.
- PUT schema is refused (400) when tenantsync cannot run it (tenantsync/syncschema.py).
- An unknown job answers 404 code NotFound, naming the job and the service principal.
"""

from __future__ import annotations

import copy
import json
import math
import re
import threading
import time
import uuid
import weakref
from collections import deque
from typing import Any

from tenantsync.emulator.directory import Tenant
from tenantsync.emulator.protocol import GraphHttpError, GraphRequest, GraphResponse, bad_request, read_json_body
from tenantsync.emulator.service_principals import TEMPLATES, sp_or_404
from tenantsync.emulator.sync_state import SyncJob

RESET_SCOPES = ("None", "ConnectorDataStore", "Escrows", "Watermark", "QuarantineState", "Full",
                "ForceDeletes")                # synchronization-synchronizationjobrestartcriteria
_RESET_BY_LOWER = {s.lower(): s for s in RESET_SCOPES}
HIDDEN_SECRETS = frozenset({"password", "secrettoken", "clientsecret", "appkey"})
ON_DEMAND_LIMIT, ON_DEMAND_WINDOW = 5, 10.0     # synchronization-synchronizationjob-provisionondemand
MAX_SUBJECTS = 5
NEVER = "0001-01-01T00:00:00Z"                  # steadyState*Time of a job that never ran
_DURATION = re.compile(r"P(?=\d|T\d)(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?")

_on_demand: weakref.WeakKeyDictionary[Tenant, deque[float]] = weakref.WeakKeyDictionary()
_on_demand_lock = threading.Lock()


def _runner(req: GraphRequest) -> Any:
    from tenantsync.emulator.sync_runner import runner_for  # the runner imports the engine

    return runner_for(req.emu)


def _job_or_404(req: GraphRequest, sp: dict, job_id: str) -> SyncJob:
    job = req.home_tenant.sync_jobs.get(job_id)
    if job is None or job.sp_id != sp["id"]:
        raise GraphHttpError(404, "NotFound", f"The synchronization job '{job_id}' was not found "
                             f"on the service principal '{sp['id']}'.")
    return job


def _jobs_context(req: GraphRequest, sp: dict, suffix: str = "") -> str:
    return req.context(f"servicePrincipals('{sp['id']}')/synchronization/jobs{suffix}")


def _key_values(value: Any, name: str) -> list[tuple[str, str]]:
    """A list of {key, value} pairs (synchronizationSecretKeyStringValuePair) as tuples."""
    if not isinstance(value, list):
        raise bad_request(f"Invalid value specified for property '{name}': expected a list of "
                          "{key, value} pairs.")
    pairs = []
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get("key"), str) \
                or not item["key"] or not isinstance(item.get("value"), str):
            raise bad_request(f"Invalid value specified for property '{name}': each item is "
                              "{\"key\": <string>, \"value\": <string>}.")
        pairs.append((item["key"], item["value"]))
    return pairs


# -- secrets -----------------------------------------------------------------------------
def put_secrets(req: GraphRequest, id: str) -> GraphResponse:
    """PUT /servicePrincipals/{id}/synchronization/secrets: 204."""
    sp = sp_or_404(req, id)
    pairs = _key_values(read_json_body(req).get("value"), "value")
    for key, value in pairs:
        if key == "SyncNotificationSettings":
            try:
                ok = isinstance(json.loads(value), dict)
            except ValueError:
                ok = False
            if not ok:
                raise GraphHttpError(400, "UnknownError", json.dumps(
                    {"error": {"code": "InvalidNotificationSettings", "message": None}}))
    stored = req.home_tenant.sync_secrets.setdefault(sp["id"], [])
    for key, value in pairs:
        stored[:] = [s for s in stored if s["key"] != key]
        if value != "":
            stored.append({"key": key, "value": value})
    return GraphResponse(204)


def get_secrets(req: GraphRequest, id: str) -> GraphResponse:
    """GET /servicePrincipals/{id}/synchronization/secrets."""
    sp = sp_or_404(req, id)
    values = [{"key": s["key"], "value": None if s["key"].lower() in HIDDEN_SECRETS else s["value"]}
              for s in req.home_tenant.sync_secrets.get(sp["id"], [])]
    return GraphResponse(200, {"@odata.context": req.context(
        f"servicePrincipals('{sp['id']}')/synchronization/secrets"), "value": values})


def saved_credentials(tenant: Tenant, sp_id: str) -> dict[str, str]:
    """The service principal's saved secrets as a dict."""
    return {s["key"]: s["value"] for s in tenant.sync_secrets.get(sp_id, [])}


def validate_credentials(req: GraphRequest, id: str, job_id: str | None = None) -> GraphResponse:
    """POST .../synchronization/jobs/validateCredentials (and .../jobs/{jobId}/validateCredentials): 204."""
    sp = sp_or_404(req, id)
    if job_id is not None:
        _job_or_404(req, sp, job_id)
    body = read_json_body(req)
    use_saved = body.get("useSavedCredentials", False)
    if not isinstance(use_saved, bool):
        raise bad_request("Invalid value specified for property 'useSavedCredentials'.")
    template = body.get("templateId")
    if template is not None and template != TEMPLATES.get(sp.get("applicationTemplateId", "")):
        raise bad_request(f"The template '{template}' is not a synchronization template of "
                          "this application.")
    if use_saved:
        credentials = saved_credentials(req.home_tenant, sp["id"])
    else:
        credentials = dict(_key_values(body.get("credentials"), "credentials"))
    _runner(req).validate_credentials(req.home_tenant, sp["id"], credentials, req.base)
    return GraphResponse(204)


# -- jobs --------------------------------------------------------------------------------
def new_job(tenant: Tenant, sp: dict, template_id: str) -> SyncJob:
    """A job as synchronization-synchronization-post-jobs creates it (the CTS example's values)."""
    from tenantsync.syncschema import default_schema

    job_id = f"{template_id}.{tenant.id.replace('-', '').lower()}.{uuid.uuid4()}"
    status = {"countSuccessiveCompleteFailures": 0, "escrowsPruned": False, "code": "Paused",
              "lastExecution": None, "lastSuccessfulExecution": None,
              "lastSuccessfulExecutionWithExports": None, "quarantine": None,
              "steadyStateFirstAchievedTime": NEVER, "steadyStateLastAchievedTime": NEVER,
              "troubleshootingUrl": None, "progress": [], "synchronizedEntryCountByType": []}
    job = SyncJob(id=job_id, sp_id=sp["id"], template_id=template_id,
                  schedule={"expiration": None, "interval": "PT40M", "state": "Disabled"},
                  status=status, schema=default_schema(),
                  settings=[{"name": "AzureIngestionAttributeOptimization", "value": "False"},
                            {"name": "LookaheadQueryEnabled", "value": "False"}])
    tenant.sync_jobs[job.id] = job
    return job


def create_job(req: GraphRequest, id: str) -> GraphResponse:
    """POST /servicePrincipals/{id}/synchronization/jobs: 201 synchronizationJob."""
    sp = sp_or_404(req, id)
    body = read_json_body(req)
    template = body.get("templateId")
    if not isinstance(template, str) or not template:
        raise bad_request("The property 'templateId' is required.")
    if template != TEMPLATES.get(sp.get("applicationTemplateId", "")):
        raise bad_request(f"The template '{template}' is not a synchronization template of this "
                          "application.")
    tenant = req.home_tenant
    if any(j.sp_id == sp["id"] and j.template_id == template for j in tenant.sync_jobs.values()):
        raise GraphHttpError(409, "Conflict", f"A synchronization job of template '{template}' "
                             "already exists on this service principal.")
    job = new_job(tenant, sp, template)
    return GraphResponse(201, {"@odata.context": _jobs_context(req, sp, "/$entity"),
                               **_job_json(job)})


def _job_json(job: SyncJob) -> dict[str, Any]:
    with job.lock:                              # the runner's thread writes status
        return copy.deepcopy(job.as_json())


def list_jobs(req: GraphRequest, id: str) -> GraphResponse:
    """GET /servicePrincipals/{id}/synchronization/jobs."""
    sp = sp_or_404(req, id)
    jobs = [_job_json(j) for j in req.home_tenant.sync_jobs.values() if j.sp_id == sp["id"]]
    return GraphResponse(200, {"@odata.context": _jobs_context(req, sp), "value": jobs})


def get_job(req: GraphRequest, id: str, job_id: str) -> GraphResponse:
    """GET /servicePrincipals/{id}/synchronization/jobs/{jobId}."""
    sp = sp_or_404(req, id)
    job = _job_or_404(req, sp, job_id)
    return GraphResponse(200, {"@odata.context": _jobs_context(req, sp, "/$entity"),
                               **_job_json(job)})


def delete_job(req: GraphRequest, id: str, job_id: str) -> GraphResponse:
    """DELETE /servicePrincipals/{id}/synchronization/jobs/{jobId}: 204 (the runner stops it first)."""
    sp = sp_or_404(req, id)
    job = _job_or_404(req, sp, job_id)
    _runner(req).delete(req.home_tenant, job)
    req.home_tenant.sync_jobs.pop(job.id, None)
    return GraphResponse(204)


def update_job(req: GraphRequest, id: str, job_id: str) -> GraphResponse:
    """PATCH .../jobs/{jobId} {"schedule": {...}}: 204. No v1.0 page documents it (the SDKs have
    it: Update-MgServicePrincipalSynchronizationJob); emulator decision: only the schedule's
    interval (an ISO 8601 duration, synchronization-synchronizationschedule) and expiration are
    written; its state changes through start and pause only."""
    sp = sp_or_404(req, id)
    job = _job_or_404(req, sp, job_id)
    body = {k: v for k, v in read_json_body(req).items() if not k.startswith("@odata.")}
    schedule = body.pop("schedule", None)
    if body or not isinstance(schedule, dict):
        raise bad_request("Only the property 'schedule' of a synchronizationJob can be updated.")
    for key, value in schedule.items():
        if key == "interval" and not (isinstance(value, str) and _DURATION.fullmatch(value)
                                      and any(c.isdigit() and c != "0" for c in value)):
            raise bad_request(f"Invalid value specified for property 'interval': {value!r} is "
                              "not an ISO 8601 duration such as PT40M.")
        if key == "expiration" and value is not None and not isinstance(value, str):
            raise bad_request("Invalid value specified for property 'expiration'.")
        if key == "state" and value != job.schedule.get("state"):
            raise bad_request("The schedule's state changes through start and pause.")
        if key not in ("interval", "expiration", "state"):
            raise bad_request(f"Property '{key}' does not exist on synchronizationSchedule.")
    with job.lock:
        job.schedule.update({k: v for k, v in schedule.items() if k != "state"})
    return GraphResponse(204)


def start_job(req: GraphRequest, id: str, job_id: str) -> GraphResponse:
    """POST .../jobs/{jobId}/start: 204."""
    sp = sp_or_404(req, id)
    _runner(req).start(req.home_tenant, _job_or_404(req, sp, job_id), req.base)
    return GraphResponse(204)


def pause_job(req: GraphRequest, id: str, job_id: str) -> GraphResponse:
    """POST .../jobs/{jobId}/pause: 204."""
    sp = sp_or_404(req, id)
    _runner(req).pause(req.home_tenant, _job_or_404(req, sp, job_id))
    return GraphResponse(204)


def parse_reset_scope(value: Any) -> set[str]:
    """resetScope (a comma-separated synchronizationJobRestartScope) as canonical names."""
    if value is None:
        return set()
    if not isinstance(value, str):
        raise bad_request("Invalid value specified for property 'resetScope'.")
    scopes = set()
    for part in value.split(","):
        name = part.strip()
        if not name:
            continue
        canonical = _RESET_BY_LOWER.get(name.lower())
        if canonical is None:
            raise bad_request(f"Invalid value '{name}' for property 'resetScope' (allowed: "
                              f"{', '.join(RESET_SCOPES)}).")
        scopes.add(canonical)
    return scopes


def restart_job(req: GraphRequest, id: str, job_id: str) -> GraphResponse:
    """POST .../jobs/{jobId}/restart {"criteria": {"resetScope": "..."}}: 204."""
    sp = sp_or_404(req, id)
    job = _job_or_404(req, sp, job_id)
    body = req.body if req.body is not None else {}
    if not isinstance(body, dict):
        read_json_body(req)                      # the 400 Graph answers a body that is not JSON
    criteria = body.get("criteria")
    if criteria is not None and not isinstance(criteria, dict):
        raise bad_request("Invalid value specified for property 'criteria'.")
    scope = parse_reset_scope((criteria or {}).get("resetScope"))
    _runner(req).restart(req.home_tenant, job, scope, req.base)
    return GraphResponse(204)


# -- schema ------------------------------------------------------------------------------
def get_schema(req: GraphRequest, id: str, job_id: str) -> GraphResponse:
    """GET .../jobs/{jobId}/schema: the job's synchronizationSchema."""
    sp = sp_or_404(req, id)
    job = _job_or_404(req, sp, job_id)
    with job.lock:
        schema = copy.deepcopy(job.schema)
    schema["id"] = job.id
    return GraphResponse(200, {"@odata.context": req.context(
        f"servicePrincipals('{sp['id']}')/synchronization/jobs('{job.id}')/schema/$entity"),
        **schema})


def put_schema(req: GraphRequest, id: str, job_id: str) -> GraphResponse:
    """PUT .../jobs/{jobId}/schema: replaces the schema whole; 204."""
    from tenantsync.syncschema import config_parts_from_schema

    sp = sp_or_404(req, id)
    job = _job_or_404(req, sp, job_id)
    body = {k: v for k, v in read_json_body(req).items() if not k.startswith("@odata.")}
    if not isinstance(body.get("synchronizationRules"), list):
        raise bad_request("Invalid value specified for property 'synchronizationRules' of "
                          "resource 'SynchronizationSchema'.")
    try:
        config_parts_from_schema(body)
    except ValueError as exc:
        raise bad_request(f"The synchronization schema cannot be used: {exc}") from None
    body.pop("id", None)
    with job.lock:
        job.schema = copy.deepcopy(body)
    return GraphResponse(204)


# -- provision on demand -----------------------------------------------------------------
def _charge_on_demand(req: GraphRequest) -> None:
    """5 requests per 10 seconds per source tenant, else 429 with Retry-After."""
    window = ON_DEMAND_WINDOW / req.emu.time_scale
    now = time.monotonic()
    with _on_demand_lock:
        stamps = _on_demand.setdefault(req.home_tenant, deque())
        while stamps and now - stamps[0] >= window:
            stamps.popleft()
        if len(stamps) >= ON_DEMAND_LIMIT:
            wait = max(1, math.ceil(window - (now - stamps[0])))
            raise GraphHttpError(429, "TooManyRequests", "Too many requests: provisionOnDemand "
                                 f"allows {ON_DEMAND_LIMIT} requests per {ON_DEMAND_WINDOW:g} "
                                 f"seconds. Please retry after {wait} seconds.",
                                 {"Retry-After": str(wait)})
        stamps.append(now)


def _on_demand_parameter(body: dict, job: SyncJob) -> tuple[str, list[dict]]:
    params = body.get("parameters")
    if not isinstance(params, list) or len(params) != 1 or not isinstance(params[0], dict):
        raise bad_request("Invalid value specified for property 'parameters': one "
                          "synchronizationJobApplicationParameters object is expected.")
    rule_id, subjects = params[0].get("ruleId"), params[0].get("subjects")
    with job.lock:
        rules = {r.get("id") for r in job.schema.get("synchronizationRules") or []
                 if isinstance(r, dict)}
    if not isinstance(rule_id, str) or rule_id not in rules:
        raise bad_request(f"The rule '{rule_id}' is not a synchronizationRule of the job's "
                          "schema.")
    if not isinstance(subjects, list) or not 1 <= len(subjects) <= MAX_SUBJECTS:
        raise bad_request(f"Invalid value specified for property 'subjects': 1 to "
                          f"{MAX_SUBJECTS} subjects are expected.")
    clean = []
    for s in subjects:
        if not isinstance(s, dict) or not isinstance(s.get("objectId"), str) or not s["objectId"]:
            raise bad_request("Invalid value specified for property 'subjects': each subject "
                              "has an 'objectId' and an 'objectTypeName'.")
        kind = s.get("objectTypeName")
        if not isinstance(kind, str) or kind.lower() != "user":
            raise bad_request(f"The objectTypeName '{kind}' is not supported: cross-tenant "
                              "synchronization provisions users on demand (objectTypeName User).")
        clean.append({"objectId": s["objectId"], "objectTypeName": "User"})
    return rule_id, clean


def provision_on_demand(req: GraphRequest, id: str, job_id: str) -> GraphResponse:
    """POST .../jobs/{jobId}/provisionOnDemand: 200 stringKeyStringValuePair."""
    sp = sp_or_404(req, id)
    job = _job_or_404(req, sp, job_id)
    rule_id, subjects = _on_demand_parameter(read_json_body(req), job)
    _charge_on_demand(req)
    result = _runner(req).provision_on_demand(req.home_tenant, job, rule_id, subjects, req.base)
    return GraphResponse(200, {"@odata.context": req.context(
        "microsoft.graph.stringKeyStringValuePair"), **result})
