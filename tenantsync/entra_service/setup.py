"""``tenantsync setup CONFIG`` with ``provisioner: entra``: the configuration created in the source
tenant as Microsoft's documented Graph sequence creates it (cross-tenant-synchronization-configure-graph),
made idempotent: every step reads first and writes only what differs from the YAML.

1. the sync application: ``service_principal_id``, else the ids setup recorded, else the service
   principal whose displayName is the configuration's name, else the gallery template
   518e5f48-1fc8-4c48-9387-9fdf28b0dfe7 instantiated with that name (applicationtemplate-instantiate);
2. ``validateCredentials`` with CompanyId = the target tenant and AuthenticationType SyncPolicy
   (the target's cross-tenant access policy must allow the sync: a refusal stops here);
3. the job: ``job_id``, else the recorded one, else the application's Azure2Azure job, else created
   (synchronization-synchronizationjob-post);
4. secrets (synchronization-serviceprincipal-put-synchronization): CompanyId, AuthenticationType,
   SyncAll ("true" for scope mode all), SyncNotificationSettings (notification email and the
   accidental-deletion threshold: ``DeleteThresholdEnabled``, ``DeleteThresholdValue``; the value
   key is an emulator decision, the documented example shows only the flag);
5. assignments (serviceprincipal-post-approleassignedto): the YAML's users and groups hold the
   application's msiam_access role; assignments of anyone else are removed;
6. the job's schema: the YAML's mappings and scoping filters (tenantsync.syncschema), compared by
   their meaning, not their JSON, and replaced when they differ (synchronization-synchronizationschema-update);
7. the schedule's interval: ``settings.interval_minutes`` (PATCH of the job's schedule; its state
   is kept: starting the job is the initial cycle's work).

The ids are kept in the state store (ts_setup: service_principal_id, job_id). ``dry_run``: the
reads are made, each write is listed (method, path, body with secrets masked) and not sent; new
objects appear as {servicePrincipalId} / {jobId}. A second run finds everything in place and says
"nothing to change".
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from ..config import SyncConfig
from ..connectors.sync_jobs import JOB_TEMPLATE_ID, SyncJobs
from ..errors import GraphError
from ..store import Store
from . import ServiceError, ServiceIds, explain, recorded_ids, save_ids, service_jobs
from .calls import CallLog

NEW_SP, NEW_JOB = "{servicePrincipalId}", "{jobId}"
APP_ROLE = "msiam_access"
_DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")


@dataclass
class ServiceSetupReport:
    config: str
    source_tenant: str
    target_tenant: str
    dry_run: bool
    sp_id: str | None = None
    job_id: str | None = None
    steps: list[dict[str, str]] = field(default_factory=list)   # {step, action, detail}
    calls: list[str] = field(default_factory=list)
    problem: str | None = None

    def step(self, name: str, action: str, detail: str = "") -> None:
        self.steps.append({"step": name, "action": action, "detail": detail})

    @property
    def changes(self) -> list[dict[str, str]]:
        return [s for s in self.steps if s["action"] not in ("found", "unchanged", "validated", "would validate")]

    @property
    def ok(self) -> bool:
        return self.problem is None

    @property
    def message(self) -> str:
        if self.problem:
            return self.problem
        changed = self.changes
        if not changed:
            return (f"{self.config}: Microsoft's provisioning service is configured as the file says "
                    f"(application {self.sp_id}, job {self.job_id}): nothing to change")
        verb = "would change" if self.dry_run else "changed"
        return f"{self.config}: {verb} " + "; ".join(f"{s['step']} ({s['action']})" for s in changed)

    def as_dict(self) -> dict[str, Any]:
        return {"config": self.config, "provisioner": "entra", "sourceTenant": self.source_tenant,
                "targetTenant": self.target_tenant, "dry_run": self.dry_run, "ok": self.ok,
                "status": "success" if self.ok else "failure", "message": self.message,
                "servicePrincipalId": self.sp_id, "jobId": self.job_id, "steps": self.steps,
                "changed": len(self.changes), "calls": list(self.calls),
                # the engine's setup keys, so one renderer and one artifact serve both provisioners
                "anchor": {"action": "not used (provisioner entra)", "attribute": None},
                "permissions": [], "missing": {}, "fixes": []}


def run_service_setup(cfg: SyncConfig, *, dry_run: bool = False, source_api: Any = None,
                      store: Store | None = None) -> ServiceSetupReport:
    """Create or complete the configuration in Microsoft's provisioning service (module docstring)."""
    store = store or Store.for_url(cfg.state_url)
    report = ServiceSetupReport(cfg.name, cfg.connection(cfg.source.connection).tenant_id,
                                cfg.connection(cfg.target.connection or "").tenant_id, dry_run)
    with service_jobs(cfg, dry_run=dry_run, api=source_api) as plain:
        log = CallLog(plain.api, send=not dry_run)
        steps = _Steps(cfg, SyncJobs(log), report, recorded_ids(cfg, store))
        try:
            steps.run()
        except ServiceError as exc:
            report.problem = exc.message
        finally:
            report.calls = log.calls
    if not dry_run and report.sp_id and report.job_id:
        save_ids(cfg, store, ServiceIds(report.sp_id, report.job_id))
    return report


class _Steps:
    def __init__(self, cfg: SyncConfig, jobs: SyncJobs, report: ServiceSetupReport, ids: ServiceIds):
        self.cfg, self.jobs, self.report, self.ids = cfg, jobs, report, ids
        self.call = "find"

    def run(self) -> None:
        try:
            sp = self.application()
            sp_id = self.report.sp_id = sp.get("id") or NEW_SP
            self.validate(sp_id)
            job = self.job(sp_id)
            job_id = self.report.job_id = job.get("id") or NEW_JOB
            self.secrets(sp_id)
            self.assignments(sp_id, sp)
            self.schema(sp_id, job_id)
            self.schedule(sp_id, job_id, job)
        except GraphError as err:
            raise explain(err, self.call, self.cfg, self.report.sp_id or self.ids.sp_id,
                          self.report.job_id or self.ids.job_id) from None
        finally:                       # a dry run's placeholders are no ids
            if self.report.sp_id == NEW_SP:
                self.report.sp_id = None
            if self.report.job_id == NEW_JOB:
                self.report.job_id = None

    # 1. the application ----------------------------------------------------------------
    def application(self) -> dict[str, Any]:
        self.call = "find"
        if self.ids.sp_id:
            try:
                sp = self.jobs.service_principal(self.ids.sp_id)
                self.report.step("application", "found", f"service principal {self.ids.sp_id}")
                return sp
            except GraphError as err:
                if err.status != 404 or self.cfg.service_principal_id:
                    raise
                # recorded by an earlier setup and deleted since: found by name or made again below
        found = self.jobs.find_service_principal(self.cfg.name)
        if found is not None:
            self.report.step("application", "found", f"service principal {found['id']} named {self.cfg.name!r}")
            return self.jobs.service_principal(found["id"]) if "appRoles" not in found else found
        self.call = "instantiate"
        made = self.jobs.instantiate(self.cfg.name)
        sp = dict(made.get("servicePrincipal") or {})
        self.report.step("application", "would create" if self.report.dry_run else "created",
                         f"{self.cfg.name!r} from the cross-tenant synchronization template")
        return sp

    # 2. credentials --------------------------------------------------------------------
    def validate(self, sp_id: str) -> None:
        self.call = "job"
        target = self.report.target_tenant
        try:
            self.jobs.validate_credentials(sp_id, {"CompanyId": target, "AuthenticationType": "SyncPolicy"})
        except GraphError as err:
            if err.status in (401, 403, 404):
                raise
            raise ServiceError(
                f"{self.cfg.name}: the provisioning service cannot sync into tenant {target} "
                f"({err.status} {err.code}: {err.message}). In the target tenant, allow user synchronization "
                "from the source tenant (cross-tenant access settings: inbound cross-tenant sync) and "
                "automatic redemption, then run setup again", status=err.status, code=err.code) from None
        self.report.step("credentials", "would validate" if self.report.dry_run else "validated",
                         f"CompanyId {target}, AuthenticationType SyncPolicy")

    # 3. the job ------------------------------------------------------------------------
    def job(self, sp_id: str) -> dict[str, Any]:
        if sp_id != NEW_SP:
            if self.ids.job_id:
                try:
                    job = self.jobs.job(sp_id, self.ids.job_id)
                    self.report.step("job", "found", job.get("id", self.ids.job_id))
                    return job
                except GraphError as err:
                    if err.status != 404 or self.cfg.job_id:
                        raise
            for job in self.jobs.jobs(sp_id):
                if job.get("templateId") == JOB_TEMPLATE_ID:
                    self.report.step("job", "found", str(job.get("id")))
                    return job
        # synchronization-synchronization-post-jobs: a new job's schedule (what a dry run assumes)
        made = self.jobs.create_job(sp_id, JOB_TEMPLATE_ID) or {
            "schedule": {"expiration": None, "interval": "PT40M", "state": "Disabled"}}
        self.report.step("job", "would create" if self.report.dry_run else "created",
                         str(made.get("id") or f"{JOB_TEMPLATE_ID} job"))
        return made

    # 4. secrets ------------------------------------------------------------------------
    def secrets(self, sp_id: str) -> None:
        want = desired_secrets(self.cfg, self.report.target_tenant)
        have: dict[str, str] = {}
        if sp_id != NEW_SP:
            try:
                have = self.jobs.secrets(sp_id)
            except GraphError as err:
                if err.status not in (400, 404, 405):     # no readable secrets: write them
                    raise
        if all(same_secret(k, have.get(k), v) for k, v in want.items()):
            self.report.step("secrets", "unchanged", ", ".join(want))
            return
        self.jobs.put_secrets(sp_id, want)
        changed = [k for k, v in want.items() if not same_secret(k, have.get(k), v)]
        self.report.step("secrets", "would set" if self.report.dry_run else "set", ", ".join(changed))

    # 5. assignments --------------------------------------------------------------------
    def assignments(self, sp_id: str, sp: dict[str, Any]) -> None:
        self.call = "assign"
        wanted = list(dict.fromkeys([*self.cfg.scope.assignments.users, *self.cfg.scope.assignments.groups]))
        current = [] if sp_id == NEW_SP else self.jobs.assignments(sp_id)
        held = {a.get("principalId") for a in current}
        role = app_role_id(sp)
        added = [p for p in wanted if p not in held]
        removed = [a for a in current if a.get("principalId") not in set(wanted)]
        for principal in added:
            self.jobs.assign(sp_id, principal, role)
        for a in removed:
            self.jobs.unassign(sp_id, str(a["id"]))
        if not added and not removed:
            self.report.step("assignments", "unchanged", f"{len(wanted)} user(s) and group(s)")
            return
        action = "updated" if added and removed else "assigned" if added else "unassigned"
        self.report.step("assignments", f"would be {action}" if self.report.dry_run else action,
                         f"{len(added)} assigned, {len(removed)} removed")

    # 6. schema -------------------------------------------------------------------------
    def schema(self, sp_id: str, job_id: str) -> None:
        from .. import syncschema

        self.call = "job"
        want = syncschema.schema_from_config(self.cfg)
        have = (syncschema.default_schema() if job_id == NEW_JOB
                else self.jobs.schema(sp_id, job_id))
        if schema_meaning(have) == schema_meaning(want):
            self.report.step("schema", "unchanged", "mappings and scoping filters as in the file")
            return
        self.jobs.put_schema(sp_id, job_id, want)
        self.report.step("schema", "would replace" if self.report.dry_run else "replaced",
                         "mappings and scoping filters of the file")

    # 7. schedule -----------------------------------------------------------------------
    def schedule(self, sp_id: str, job_id: str, job: dict[str, Any]) -> None:
        minutes = self.cfg.settings.interval_minutes
        current = dict(job.get("schedule") or {})
        if duration_minutes(current.get("interval")) == minutes:
            self.report.step("schedule", "unchanged", f"every {minutes} minutes")
            return
        self.jobs.schedule(sp_id, job_id, {**current, "interval": f"PT{minutes}M",
                                           "state": current.get("state", "Disabled")})
        self.report.step("schedule", "would set" if self.report.dry_run else "set",
                         f"every {minutes} minutes (PT{minutes}M)")


def desired_secrets(cfg: SyncConfig, target_tenant: str) -> dict[str, str]:
    s = cfg.settings
    notify = {"Enabled": bool(s.notification_email), "Recipients": s.notification_email or "",
              "DeleteThresholdEnabled": s.deletion_threshold > 0, "DeleteThresholdValue": s.deletion_threshold,
              "HumanResourcesLookaheadQueryEnabled": False}
    return {"CompanyId": target_tenant, "AuthenticationType": "SyncPolicy",
            "SyncAll": "true" if cfg.scope.mode == "all" else "false",
            "SyncNotificationSettings": json.dumps(notify, separators=(",", ":"))}


def same_secret(key: str, have: str | None, want: str) -> bool:
    if have is None:
        return False
    if key == "SyncNotificationSettings":
        try:
            return bool(json.loads(have) == json.loads(want))
        except ValueError:
            return False
    return have.lower() == want.lower() if key == "SyncAll" else have == want


def app_role_id(sp: dict[str, Any]) -> str:
    """The id of the application's msiam_access role (the template's user role); in a dry run
    before the application exists, a placeholder."""
    if not sp:
        return "{msiam_accessRoleId}"
    for role in sp.get("appRoles") or []:
        if APP_ROLE in (role.get("value"), role.get("displayName")):
            return str(role["id"])
    roles = sp.get("appRoles") or []
    return str(roles[0]["id"]) if roles else "00000000-0000-0000-0000-000000000000"   # the default access role


def schema_meaning(schema: dict[str, Any]) -> Any:
    """What a schema says for the configuration: its user mappings and scoping filters."""
    from .. import syncschema

    try:
        mappings, filters = syncschema.config_parts_from_schema(schema)
    except (KeyError, ValueError, TypeError, IndexError):
        return None
    return (sorted((m.model_dump(exclude={"note"}) for m in mappings), key=lambda d: str(d["target"])),
            [[c.model_dump() for c in group] for group in filters])


def duration_minutes(value: Any) -> float | None:
    """ISO 8601 duration ("PT40M", "PT1H30M", "P1D") in minutes; None when unreadable."""
    found = _DURATION.match(str(value or ""))
    if not found or not any(found.groups()):
        return None
    d, h, m, s = (int(g or 0) for g in found.groups())
    return d * 1440 + h * 60 + m + s / 60


__all__ = ["ServiceSetupReport", "desired_secrets", "duration_minutes", "run_service_setup"]
