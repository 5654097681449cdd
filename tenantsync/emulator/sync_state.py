"""One synchronization job of Microsoft's provisioning service, as the emulator keeps it.

The routes (synchronization.py) create, read and change jobs; the runner (sync_runner.py) runs
their cycles. Field names and values are those of Graph's synchronizationJob resource page:
schedule (synchronizationSchedule: interval as an ISO 8601 duration, state Active | Disabled |
Paused, expiration), status (synchronizationStatus: code NotConfigured | NotRun | Active | Paused |
Quarantine, quarantine, lastExecution, ...), schema (synchronizationSchema), synchronizationJobSettings.
"""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass, field
from typing import Any


@dataclass
class SyncJob:
    id: str
    sp_id: str                      # the source tenant's service principal that owns the job
    template_id: str                # "Azure2Azure" for cross-tenant synchronization
    schedule: dict[str, Any]
    status: dict[str, Any]
    schema: dict[str, Any]
    settings: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)
    runtime: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)  # the runner's own

    def as_json(self) -> dict[str, Any]:
        """The synchronizationJob JSON Graph returns (schema is read through its own route)."""
        return {"id": self.id, "templateId": self.template_id, "schedule": dict(self.schedule),
                "status": dict(self.status), "synchronizationJobSettings": list(self.settings)}


def dump(tenant: Any) -> dict[str, Any]:
    """The provisioning service's state of a tenant for the control API's dump: its service
    principals, their app role assignments, each one's secret keys (never a value), its jobs (the
    synchronizationJob JSON with schedule and status, the owning servicePrincipalId) and how many
    provisioning-log entries the tenant holds."""
    jobs = []
    for job in list(tenant.sync_jobs.values()):
        with job.lock:                       # the runner's threads write status
            jobs.append({**copy.deepcopy(job.as_json()), "servicePrincipalId": job.sp_id})
    return {
        "servicePrincipals": copy.deepcopy(list(tenant.service_principals.values())),
        "appRoleAssignments": copy.deepcopy(list(tenant.app_role_assignments)),
        "synchronizationSecretKeys": {sp_id: [str(s.get("key")) for s in secrets]
                                      for sp_id, secrets in tenant.sync_secrets.items()},
        "synchronizationJobs": jobs,
        "provisioningLogCount": len(tenant.provisioning_logs),
    }
