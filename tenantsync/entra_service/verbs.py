"""Pause, resume and delete a configuration run by Microsoft's provisioning service: the job's verbs.

- pause (synchronization-synchronizationjob-pause): "Temporarily stop a running synchronization job.
  All the progress, including job state, is persisted, and the job continues from where it left off
  when a start call is made". A paused job is left as it is.
- resume = start (synchronization-synchronizationjob-start): "If the job is in a paused state, it
  continues processing changes from the point where it was paused. If the job is in quarantine, the
  quarantine status is cleared." A job that is already Active is left as it is; a job never started
  starts its initial cycle.
- delete (synchronization-synchronizationjob-delete): the job stops for good. The users it
  provisioned stay in the target as they are (cross-tenant synchronization overview FAQ: a severed
  sync relationship deletes no user). The sync application (the enterprise application with its
  assignments and secrets) is KEPT unless ``delete_application`` asks for it: an administrator
  deleting a configuration expects its provisioning to stop, not an application other settings
  (single sign-on, owners, audit history) may hang on; `tenantsync setup` then finds it again and
  only creates a new job. With ``delete_application`` the service principal is deleted
  (serviceprincipal-delete), which takes its assignments and job with it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ..config import SyncConfig
from ..errors import GraphError
from ..graph.urls import path
from . import ServiceError, explain, resolve_ids, service_jobs

ACTIVE, PAUSED = "Active", "Paused"


@dataclass
class VerbResult:
    config: str
    verb: str                         # pause | resume
    sp_id: str
    job_id: str
    changed: bool
    schedule_state: str               # the job's schedule.state afterwards
    status_code: str                  # the job's status.code afterwards
    message: str

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["status"] = "success"
        out["job"] = {"id": self.job_id, "code": self.status_code, "scheduleState": self.schedule_state}
        return out


def pause_job(cfg: SyncConfig, *, store: Any = None, source_api: Any = None) -> VerbResult:
    return _verb(cfg, "pause", store, source_api)


def resume_job(cfg: SyncConfig, *, store: Any = None, source_api: Any = None) -> VerbResult:
    return _verb(cfg, "resume", store, source_api)


def _verb(cfg: SyncConfig, verb: str, store: Any, source_api: Any) -> VerbResult:
    if store is None:
        from ..store import Store
        store = Store.for_url(cfg.state_url)
    store.refuse_if_deleted(cfg.name)
    with service_jobs(cfg, api=source_api) as jobs:
        ids = resolve_ids(cfg, jobs, store)
        sp_id, job_id = str(ids.sp_id), str(ids.job_id)
        try:
            before = jobs.job(sp_id, job_id)
            state = (before.get("schedule") or {}).get("state")
            wanted = PAUSED if verb == "pause" else ACTIVE
            changed = state != wanted
            if changed:
                (jobs.pause if verb == "pause" else jobs.start)(sp_id, job_id)
            after = jobs.job(sp_id, job_id) if changed else before
        except GraphError as err:
            raise explain(err, "job", cfg, sp_id, job_id) from None
    now = (after.get("schedule") or {}).get("state") or ""
    code = (after.get("status") or {}).get("code") or ""
    if not changed:
        message = f"{cfg.name}: the synchronization job {job_id} is already {now.lower()}: nothing to do"
    elif verb == "pause":
        message = (f"{cfg.name}: the synchronization job {job_id} is paused (schedule {now}, status {code}); "
                   "its progress is kept: `tenantsync resume CONFIG` carries on from there")
    else:
        message = (f"{cfg.name}: the synchronization job {job_id} is started (schedule {now}, status {code}); "
                   "it runs every cycle of its schedule" + (", its quarantine cleared"
                                                            if (before.get("status") or {}).get("code") == "Quarantine"
                                                            else ""))
    return VerbResult(cfg.name, verb, sp_id, job_id, changed, now, code, message)


def describe_deletion(cfg: SyncConfig, store: Any, *, delete_application: bool = False) -> str:
    """The delete-config plan's line for the service (no Graph call)."""
    from . import recorded_ids

    ids = recorded_ids(cfg, store)
    job = f"job {ids.job_id}" if ids.job_id else f"the job of application {cfg.name!r}"
    app = (f"delete the sync application {ids.sp_id or cfg.name!r} (service principal) too"
           if delete_application else
           f"keep the sync application {ids.sp_id or cfg.name!r} with its assignments (--delete-application "
           "removes it)")
    return f"- delete its synchronization {job} in the source tenant (Microsoft's service stops) and {app};"


def delete_service(cfg: SyncConfig, store: Any, *, delete_application: bool = False,
                   source_api: Any = None) -> str:
    """Delete the job (and the application when asked); idempotent: a job already gone is fine.
    Raises ServiceError (with the permission to grant) when the service refuses."""
    with service_jobs(cfg, api=source_api) as jobs:
        try:
            ids = resolve_ids(cfg, jobs, store)
        except ServiceError as exc:
            if exc.status is not None:          # refused (a permission), not "none there"
                raise
            return f"{cfg.name}: no synchronization job found in the source tenant: nothing to delete there"
        sp_id, job_id = str(ids.sp_id), str(ids.job_id)
        try:
            try:
                jobs.delete_job(sp_id, job_id)
                said = f"synchronization job {job_id} deleted"
            except GraphError as err:
                if err.status != 404:
                    raise
                said = f"synchronization job {job_id} was already deleted"
            if delete_application:
                jobs.api.request("DELETE", path("servicePrincipals", sp_id))
                said += f"; sync application (service principal {sp_id}) deleted"
            else:
                said += f"; sync application (service principal {sp_id}) kept with its assignments"
        except GraphError as err:
            raise explain(err, "instantiate" if delete_application else "job", cfg, sp_id) from None
    return f"{cfg.name}: {said}"


__all__ = ["VerbResult", "delete_service", "describe_deletion", "pause_job", "resume_job"]
