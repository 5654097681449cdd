"""Provision on demand through Microsoft's provisioning service
(synchronization-synchronizationjob-provisionondemand; provision-on-demand).

The rule id is the job schema's synchronization rule whose metadata says
``supportsProvisionOnDemand`` (cross-tenant synchronization: ``USER_INBOUND_USER``). One request
per user, as the portal does; the 5-requests-per-10-seconds limit belongs to the caller (the
Prefect layer holds the same global window as the engine's on-demand run, tasks/limits.py).

The reply is a ``stringKeyStringValuePair`` in one of the two documented shapes: ``key`` a JSON
object ``{"result", "details"}`` (the API page's example), or ``key`` the StatusInfo contract name
with ``value`` a JSON array of results carrying ``provisioningSteps`` (the cross-tenant Graph
guide). Either way each result becomes an ``Action`` whose steps are the service's, so the engine's
on-demand artifact and result (tenantsync/ops/ondemand.py) show it step by step, and the run is
recorded as an ``on-demand`` cycle with its provisioning-log rows.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from ..config import SyncConfig
from ..cycle import CycleReport
from ..errors import TenantSyncError
from ..ops.ondemand import check_user_ids
from ..store import Store
from .follow import JobRef
from .logs import action_name, cycle_report, keep_log, record_cycle, status_of, step_of
from .quarantine import describe

ON_DEMAND_FLAG = "supportsProvisionOnDemand"


class NoOnDemandRule(TenantSyncError):
    """The job's schema has no rule that supports provision on demand."""


def _metadata(rule: Mapping[str, Any]) -> dict[str, str]:
    items = rule.get("metadata") or []
    if isinstance(items, Mapping):
        return {str(k): str(v) for k, v in items.items()}
    return {str(m.get("key")): str(m.get("value")) for m in items if isinstance(m, Mapping)}


def rule_id(schema: Mapping[str, Any]) -> str:
    """The id of the schema's rule whose metadata has supportsProvisionOnDemand true."""
    rules = list(schema.get("synchronizationRules") or [])
    for rule in rules:
        if _metadata(rule).get(ON_DEMAND_FLAG, "").lower() == "true" and rule.get("id"):
            return str(rule["id"])
    names = ", ".join(str(r.get("name") or r.get("id")) for r in rules) or "none"
    raise NoOnDemandRule(f"the job's schema has no synchronization rule with {ON_DEMAND_FLAG} (rules: {names}): "
                         "run tenantsync setup to write the cross-tenant schema")


def _json(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return None


def results(reply: Mapping[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(the key's {"result", "details"} or {}, the results of the value) of a provisionOnDemand reply."""
    key, value = _json(reply.get("key")), _json(reply.get("value"))
    verdict = key if isinstance(key, dict) else {}
    if isinstance(value, dict):
        value = [value]
    return verdict, [v for v in value or [] if isinstance(v, dict)]


def _status(item: Mapping[str, Any], verdict: Mapping[str, Any]) -> tuple[str, str, str]:
    info = item.get("statusInfo") or item.get("provisioningStatusInfo") or {}
    if info:
        flat = {"status": info.get("status"), "errorInformation": info.get("errorInformation") or {
            "errorCode": info.get("errorCode"), "reason": info.get("reason")}}
        status, code, reason = status_of(flat)
    elif verdict.get("result"):
        status, code, reason = status_of({"status": verdict.get("result")})
    else:                     # the guide's shape: steps only; the outcome is the last step's
        steps = [step_of(s) for s in item.get("provisioningSteps") or []]
        failed = next((s for s in steps if s.status == "failure"), None)
        status = "failure" if failed else (steps[-1].status if steps else "warning")
        code, reason = "", failed.description if failed else ""
    details = verdict.get("details") or {}
    return status, code or str(details.get("errorCode") or ""), reason or str(details.get("errorMessage") or "")


def log_row(item: Mapping[str, Any], verdict: Mapping[str, Any], *, source_id: str, job_id: str,
            cycle_id: str) -> dict[str, Any]:
    """One result of the reply as a provisioning-log row (logs.log_row's shape)."""
    status, code, reason = _status(item, verdict)
    steps = [step_of(s).as_dict() for s in item.get("provisioningSteps") or []]
    skip = next((s for s in steps if s["name"] == "EntrySynchronizationSkip"), None)
    if not code and skip is not None:
        code = str(skip["details"].get("SkipReason") or "")
    if not reason and steps:
        reason = steps[-1]["description"]
    src, tgt = item.get("sourceIdentity") or {}, item.get("targetIdentity") or {}
    began, ended = item.get("startTime"), item.get("endTime")
    return {"activityDateTime": ended or began or datetime.now(UTC), "id": str(uuid.uuid4()), "jobId": job_id,
            "cycleId": cycle_id, "changeId": str(item.get("changeId") or ""),
            "provisioningAction": action_name(item.get("action") or ("other" if status == "skipped" else "")),
            "status": status, "errorCode": code, "reason": reason,
            "sourceIdentity.id": str(src.get("id") or source_id),
            "sourceIdentity.displayName": str(src.get("displayName") or ""),
            "targetIdentity.id": str(tgt.get("id") or ""), "targetIdentity.displayName": str(tgt.get("displayName") or ""),
            "modifiedProperties": [{"displayName": str(p.get("displayName") or ""), "oldValue": p.get("oldValue"),
                                    "newValue": p.get("newValue")} for p in item.get("modifiedProperties") or []],
            "provisioningSteps": steps, "durationInMilliseconds": None}


def reply_rows(reply: Mapping[str, Any], *, source_id: str, job_id: str, cycle_id: str) -> list[dict[str, Any]]:
    """The rows of one user's reply (the key's verdict alone when the value carries no result)."""
    verdict, items = results(reply)
    return [log_row(item, verdict, source_id=source_id, job_id=job_id, cycle_id=cycle_id)
            for item in items or [{}]]


def provision(ref: JobRef, cfg: SyncConfig, user_ids: str | Sequence[str], *, store: Store | None = None,
              rule: str | None = None) -> CycleReport:
    """Provision up to five source users now, one provisionOnDemand request each; recorded as an
    on-demand cycle (provisioning-log rows, cycles.csv) and returned as its report."""
    ids = check_user_ids(user_ids)
    store = store or Store.for_url(cfg.state_url)
    rule = rule or rule_id(ref.jobs.schema(ref.sp_id, ref.job_id))
    cycle_id, began = str(uuid.uuid4()), datetime.now(UTC)
    rows: list[dict[str, Any]] = []
    for sid in ids:
        reply = ref.jobs.provision_on_demand(ref.sp_id, ref.job_id, rule, [sid])
        rows += reply_rows(reply, source_id=sid, job_id=ref.job_id, cycle_id=cycle_id)
    job = store.job(cfg.name)
    report = cycle_report(cfg.name, cycle_id, "on-demand", rows, describe(job),
                          message=f"Provisioned on demand by Microsoft's provisioning service (rule {rule}).")
    keep_log(store, cfg.name, rows)
    record_cycle(store, cfg.name, cycle_id=cycle_id, kind="on-demand", started=began, ended=datetime.now(UTC),
                 counts=report.counts, job=job)
    return report


__all__ = ["ON_DEMAND_FLAG", "NoOnDemandRule", "log_row", "provision", "reply_rows", "results", "rule_id"]
