"""``provisioner: entra``: the procedures done by Microsoft's provisioning service through Graph's
synchronization API (docs/contracts.md#sync-configuration-file, docs/internals.md).

Here: the source tenant's client for the service (``service_jobs``: writable, read-only in a dry
run), the ids of the sync application and its job (``ServiceIds``: the configuration's, else the
ones setup recorded in the state store, else found by the application's display name) and the one
translation of the service's refusals into a message naming the permission and the fix
(``ServiceError``, ``explain``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from .. import remedies
from ..config import SyncConfig
from ..connectors.sync_jobs import SyncJobs
from ..errors import GraphError, TenantSyncError

SP_KEY, JOB_KEY = "service_principal_id", "job_id"      # keys of the store's ts_setup table
DOCS = "https://learn.microsoft.com/graph/api/"

# The application permission each call needs (the Permissions table of its Graph v1.0 page), for a 403.
PERMISSIONS: dict[str, tuple[str, str]] = {
    "find": ("Application.Read.All", "serviceprincipal-list"),
    "instantiate": ("Application.ReadWrite.All", "applicationtemplate-instantiate"),
    "assign": ("AppRoleAssignment.ReadWrite.All", "serviceprincipal-post-approleassignedto"),
    "logs": ("AuditLog.Read.All", "provisioningobjectsummary-list"),
    "job": ("Synchronization.ReadWrite.All", "synchronization-synchronizationjob-get"),
}


class ServiceError(TenantSyncError):
    """The provisioning service refused or cannot be found: one message with the fix."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        self.message, self.status, self.code = message, status, code
        super().__init__(message)


@dataclass(frozen=True)
class ServiceIds:
    sp_id: str | None
    job_id: str | None

    @property
    def complete(self) -> bool:
        return bool(self.sp_id and self.job_id)


@contextmanager
def service_jobs(cfg: SyncConfig, *, dry_run: bool = False, api: Any = None) -> Iterator[SyncJobs]:
    """SyncJobs over the SOURCE tenant's GraphApi (the service principal and its job live there).

    Writable, unlike a cycle's source client (service.py), except in a dry run. A client passed in
    is used as it is and left open.
    """
    if api is not None:
        yield SyncJobs(api)
        return
    from ..graph.api import GraphApi

    made = GraphApi(cfg.connection(cfg.source.connection), read_only=dry_run)
    try:
        yield SyncJobs(made)
    finally:
        made.close()


def recorded_ids(cfg: SyncConfig, store: Any) -> ServiceIds:
    """The configuration's ids first, then the ones setup kept in the state store."""
    saved = store.setup_values(cfg.name) if store is not None else {}
    return ServiceIds(cfg.service_principal_id or saved.get(SP_KEY), cfg.job_id or saved.get(JOB_KEY))


def save_ids(cfg: SyncConfig, store: Any, ids: ServiceIds) -> None:
    store.save_setup_values(cfg.name, {SP_KEY: ids.sp_id, JOB_KEY: ids.job_id})


def resolve_ids(cfg: SyncConfig, jobs: SyncJobs, store: Any) -> ServiceIds:
    """The sync application and its job for a procedure that needs both (cycles, verbs, logs).

    The configuration's or recorded ids, else the service principal named ``cfg.name`` and its
    only job. Raises ServiceError naming `tenantsync setup` when there is no configured job.
    """
    ids = recorded_ids(cfg, store)
    try:
        sp_id = find_sp_id(cfg, jobs, ids)
        if sp_id is None:
            raise not_configured(cfg, f"the source tenant has no application named {cfg.name!r}")
        job_id = ids.job_id
        if job_id is None:
            listed = jobs.jobs(sp_id)
            job_id = listed[0]["id"] if listed else None
        if job_id is None:
            raise not_configured(cfg, f"the application {cfg.name!r} ({sp_id}) has no synchronization job")
    except GraphError as err:
        raise explain(err, "job", cfg, ids.sp_id, ids.job_id) from None
    return ServiceIds(sp_id, job_id)


def find_sp_id(cfg: SyncConfig, jobs: Any, ids: ServiceIds) -> str | None:
    """The configuration's or recorded service principal, else the one named ``cfg.name``."""
    if ids.sp_id is not None:
        return ids.sp_id
    found = jobs.find_service_principal(cfg.name)
    return found["id"] if found else None


def not_configured(cfg: SyncConfig, why: str) -> ServiceError:
    return ServiceError(f"{cfg.name}: {why}: run {remedies.setup(cfg.name)} to create the "
                        "configuration, or give service_principal_id (and job_id) in the file")


def explain(err: GraphError, call: str, cfg: SyncConfig, sp_id: str | None = None,
            job_id: str | None = None) -> ServiceError:
    """A refusal of the service's API as one line with the fix (the permission by its page)."""
    permission, page = PERMISSIONS.get(call, PERMISSIONS["job"])
    where = f"the source connection {cfg.source.connection!r}"
    if err.status in (401, 403):
        msg = (f"{cfg.name}: Graph refused {where} ({err.status} {err.code}): it needs the application "
               f"permission {permission} ({DOCS}{page}). Grant it with admin consent in the source "
               f"tenant, then run {remedies.setup(cfg.name)} again")
    elif err.status == 404 and sp_id is not None:
        what = f"service principal {sp_id}" + (f" with a job {job_id}" if job_id else "")
        msg = (f"{cfg.name}: the source tenant has no {what} ({err.status} {err.code}): correct "
               f"service_principal_id / job_id in the file, or remove them and run "
               f"{remedies.setup(cfg.name)} to create the configuration")
    else:
        msg = f"{cfg.name}: the provisioning service answered {err.status} {err.code}: {err.message}"
    return ServiceError(msg, status=err.status, code=err.code)


__all__ = ["JOB_KEY", "SP_KEY", "ServiceError", "ServiceIds", "explain", "not_configured",
           "recorded_ids", "resolve_ids", "save_ids", "service_jobs"]
