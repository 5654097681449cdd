"""One synchronization job of Microsoft's provisioning service, as the emulator keeps it.

The routes (synchronization.py) create, read and change jobs; the runner (sync_runner.py) runs
their cycles. Field names and values are those of Graph's synchronizationJob resource page:
schedule (synchronizationSchedule: interval as an ISO 8601 duration, state Active | Disabled |
Paused, expiration), status (synchronizationStatus: code NotConfigured | NotRun | Active | Paused |
Quarantine, quarantine, lastExecution, ...), schema (synchronizationSchema), synchronizationJobSettings.
"""

from __future__ import annotations

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
