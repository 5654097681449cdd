"""The one result every procedure returns (sync, on demand, repair, test connection, user source, ...).

One status vocabulary, the provisioning log's own (Microsoft Graph provisioningObjectSummary
``provisioningStatusInfo.status``: success, warning, failure, skipped), so that a run, a row of
the provisioning log and cycles.csv speak the same words; ``reason`` says in one word why a run
was skipped or failed (busy, quarantined, disabled, staged-deletions, setup-required, ...). The
command line's exit code and the Prefect flow's final state are both read from it (``exit_code``,
``failed``), and ``as_dict`` is the JSON the command line prints with ``--json``.

Hand-written because the result is the project's own contract; pydantic does the validation and
the JSON conversion.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator

RunStatus = Literal["success", "warning", "failure", "skipped"]
STATUSES: tuple[RunStatus, ...] = ("success", "warning", "failure", "skipped")

# Skips that mean the work was not done (another run held the lock, the job is quarantined and not
# yet due): the command line exits 1. A skip by choice, such as a disabled user source, exits 0.
UNDONE_SKIPS = frozenset({"busy", "quarantined"})

# Earlier spellings of a run's status, and the (status, reason) each stands for.
_SPELLINGS: dict[str, tuple[RunStatus, str | None]] = {
    "failed": ("failure", None), "error": ("failure", None), "refused": ("failure", "refused"),
    "quarantined": ("failure", "quarantined"), "busy": ("skipped", "busy"),
    "disabled": ("skipped", "disabled"),
}


class ProcedureResult(BaseModel):
    """What a procedure did. ``details`` holds what is particular to one procedure (the checks of a
    test connection, the users of an on-demand run, the report files, ...)."""

    model_config = ConfigDict(extra="forbid")

    procedure: str                       # sync, on-demand, repair-upn, test-connection, user-source, ...
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

    @model_validator(mode="after")
    def _details_apart(self) -> ProcedureResult:
        clash = sorted(set(self.details) & (set(type(self).model_fields) | {"ok"}))
        if clash:
            raise ValueError(f"details may not repeat the result's own keys: {', '.join(clash)}")
        return self

    @property
    def failed(self) -> bool:
        """A failure, or a run that could not do its work (another run held the lock, quarantine)."""
        return self.status == "failure" or (self.status == "skipped" and self.reason in UNDONE_SKIPS)

    @property
    def ok(self) -> bool:
        return not self.failed

    @property
    def exit_code(self) -> int:
        """0 done (success, warning, or skipped by choice such as a disabled source), 1 failed."""
        return 1 if self.failed else 0

    def as_dict(self) -> dict[str, Any]:
        """The JSON form (``--json``): every field, ``ok``, and the details at the top level, where
        the keys scripts read have always been (``counts``, ``job``, ``checks``, ``files``, ...)."""
        data = self.model_dump(mode="json", exclude={"details"}, fallback=str)
        data["ok"] = self.ok
        data.update(self.model_dump(mode="json", include={"details"}, fallback=str)["details"])
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, procedure: str = "") -> ProcedureResult:
        """The result from its JSON form, or from a procedure's older result dict (its status
        spellings read as in ``normalize_status``; unknown keys kept as details)."""
        rest = dict(data)
        ok = rest.pop("ok", None)
        status, reason = normalize_status(rest.pop("status", None), ok=ok if isinstance(ok, bool) else None)
        if isinstance(rest.get("details"), Mapping):
            rest.update(rest.pop("details"))
        fields: dict[str, Any] = {"procedure": str(rest.pop("procedure", None) or procedure),
                                  "config": str(rest.pop("config", None) or ""), "status": status,
                                  "reason": rest.pop("reason", None) or reason}
        for key, fits in (("message", lambda v: isinstance(v, str)), ("kind", lambda v: isinstance(v, str)),
                          ("cycle_id", lambda v: isinstance(v, str)), ("dry_run", lambda v: isinstance(v, bool)),
                          ("job", lambda v: isinstance(v, Mapping)),
                          ("counts", lambda v: isinstance(v, Mapping) and all(isinstance(n, int) for n in v.values()))):
            if key in rest and rest[key] is None:
                rest.pop(key)                                        # the field's default
            elif key in rest and fits(rest[key]):
                fields[key] = rest.pop(key)
        for key in [k for k in rest if k in cls.model_fields]:      # a known key of an unexpected type
            rest[f"{key}_value"] = rest.pop(key)
        return cls(**fields, details=rest)


def normalize_status(status: Any, *, ok: bool | None = None) -> tuple[RunStatus, str | None]:
    """(status, reason) in the one vocabulary, from a status as procedures used to spell it
    ("failed", "busy", "disabled", "quarantined", ...); no status: success unless ``ok`` is False."""
    text = str(status or "").strip()
    if text in STATUSES:
        return text, None  # type: ignore[return-value]
    if text.lower() in _SPELLINGS:
        return _SPELLINGS[text.lower()]
    return ("failure" if ok is False else "success"), None


class CycleReportLike(Protocol):
    """What a cycle report carries (tenantsync.cycle.CycleReport)."""

    config: str
    cycle_id: str
    kind: str
    dry_run: bool
    counts: dict[str, int]
    job: dict[str, Any]
    message: str
    staged: int


def from_cycle_report(report: CycleReportLike, *, procedure: str = "sync",
                      details: Mapping[str, Any] | None = None) -> ProcedureResult:
    """A cycle's result: failure when provisioning events failed or the job ended quarantined
    (reason ``staged-deletions`` when deletions above the threshold wait for an approval, else
    ``quarantined``); a warning when deletions are staged without quarantine (dry run).

    An on-demand cycle neither enters nor lifts a quarantine, so only its own events count."""
    job = dict(report.job or {})
    counts = {k: int(v) for k, v in (report.counts or {}).items()}
    staged = int(getattr(report, "staged", 0) or 0)
    held = report.kind != "on-demand" and job.get("code") in ("Quarantine", "Disabled")
    status: RunStatus = "success"
    reason: str | None = None
    if held:
        status = "failure"
        why = (job.get("quarantine") or {}).get("reason")
        reason = "staged-deletions" if why == "TooManyDeletes" else "quarantined"
    elif counts.get("failure", 0):
        status = "failure"
    elif staged:
        status, reason = "warning", "staged-deletions"
    return ProcedureResult(procedure=procedure, config=report.config, status=status, reason=reason,
                           message=report.message or "", kind=report.kind, cycle_id=report.cycle_id,
                           dry_run=bool(report.dry_run), counts=counts, job=job,
                           details={"staged": staged, **(details or {})})


__all__ = ["STATUSES", "UNDONE_SKIPS", "CycleReportLike", "ProcedureResult", "RunStatus", "from_cycle_report",
           "normalize_status"]
