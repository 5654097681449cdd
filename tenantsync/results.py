"""The one result every procedure returns (sync, on demand, repair, test connection, user source, ...).

One status vocabulary, the provisioning log's own (Microsoft Graph provisioningObjectSummary
``provisioningStatusInfo.status``: success, warning, failure, skipped), so that a run, a row of
the provisioning log and cycles.csv speak the same words. The command line's exit code and the
Prefect flow's final state are both read from it (``exit_code``, ``failed``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

RunStatus = Literal["success", "warning", "failure", "skipped"]


class ProcedureResult(BaseModel):
    """What a procedure did. ``details`` holds what is particular to one procedure."""

    model_config = ConfigDict(extra="forbid")

    procedure: str                       # sync, on-demand, repair, test-connection, user-source, ...
    config: str
    status: RunStatus
    message: str = ""
    reason: str | None = None            # why a run was skipped or failed, in one machine-readable word
    kind: str | None = None              # initial, incremental, on-demand
    cycle_id: str | None = None
    dry_run: bool = False
    counts: dict[str, int] = Field(default_factory=dict)
    job: dict[str, Any] | None = None    # synchronization job status (code, quarantine, ...)
    details: dict[str, Any] = Field(default_factory=dict)

    @property
    def failed(self) -> bool:
        """A failure, or a run that could not do its work (another run held the lock)."""
        return self.status == "failure" or (self.status == "skipped" and self.reason == "busy")

    @property
    def exit_code(self) -> int:
        """0 done (success, warning, or skipped by choice such as a disabled source), 1 failed."""
        return 1 if self.failed else 0


__all__ = ["ProcedureResult", "RunStatus"]
