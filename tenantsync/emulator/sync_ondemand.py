"""provisionOnDemand of an emulated job (synchronization-synchronizationjob-provisionondemand): the
subjects go through tenantsync's on-demand cycle (tenantsync/ops/ondemand.py: the cycle's own
scope, mapping, matching and export), and the answer is the page's stringKeyStringValuePair.

Shape: the page's first example (the one for a Microsoft Entra source): ``key`` is the JSON text
``{"result": Success|Skipped|Failure, "details": {errorCode, errorMessage}}`` and ``value`` the
JSON text of one object with action, changeId, startTime, endTime, modifiedProperties,
provisioningSteps (name, type, status, description, timestamp, details), reportableIdentifier,
statusInfo, sourceIdentity, sourceSystem, targetIdentity and targetSystem. The cross-tenant
synchronization guide shows another shape (key
Microsoft.Identity.Health.CPP.Common.DataContracts.SyncFabric.StatusInfo, value a JSON array);
emulator decision: several subjects in one request answer a JSON array of those objects in
``value`` and the least successful result in ``key``. The steps' type and status are written
capitalised, as in the page's example. The rows also go to the provisioning log.

The engine's Graph calls are answered in process (sync_engine.InProcess): this runs inside the
route's handler, on the server's event loop.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from tenantsync.cycle import CycleOptions
from tenantsync.emulator import provisioning_logs, sync_engine
from tenantsync.errors import TenantSyncError
from tenantsync.ops.ondemand import result_per_user

_RANK = {"Failure": 0, "Warning": 1, "Skipped": 2, "Success": 3}
_ACTIONS = {"create": "Create", "update": "Update", "delete": "Delete", "disable": "Disable",
            "stagedDelete": "StagedDelete", "other": "Other"}


def provision(runner: Any, run: Any, rule_id: str, subjects: list[dict[str, Any]]) -> dict[str, str]:
    """The stringKeyStringValuePair (without @odata.context) for ``subjects`` of ``run``'s job."""
    started = datetime.now(UTC)
    ids = [str(s["objectId"]) for s in subjects]
    tenant, job = run.tenant, run.job
    secrets = sync_engine.secrets_of(tenant, job.sp_id)
    problem = sync_engine.policy_problem(runner.emulator.directory.tenants, tenant, secrets)
    if problem:
        return _failure(ids, started, sync_engine.CHECK_FAILURE, problem)
    try:
        cfg = sync_engine.job_config(runner.emulator.directory, tenant, job, run.base, run.tokens)
        transport = sync_engine.InProcess(runner.emulator, run.base)
        report = sync_engine.run_engine(cfg, run.store, CycleOptions(user_ids=tuple(ids)), transport)
    except (ValueError, TenantSyncError) as exc:
        return _failure(ids, started, type(exc).__name__, str(exc))
    replies = {r["sourceId"]: r["reply"] for r in result_per_user(report)}
    rows = [r for r in run.store.log(cfg.name, report.cycle_id) if r.get("sourceIdentity.id") in replies]
    runner.publish(run, cfg.name, report)
    ended = datetime.now(UTC)
    objects = [_object(row, started, ended) for row in rows]
    results = [replies[row["sourceIdentity.id"]] for row in rows] or [
        {"result": "Failure", "details": {"errorCode": "ObjectNotFound",
                                          "errorMessage": "None of the subjects was found in the source tenant."}}]
    key = min(results, key=lambda r: _RANK.get(r["result"], 0))
    value: Any = objects[0] if len(objects) == 1 else objects
    return {"key": json.dumps(key, ensure_ascii=False), "value": json.dumps(value, ensure_ascii=False)}


def _object(row: dict[str, Any], started: datetime, ended: datetime) -> dict[str, Any]:
    status = _cap(row.get("status") or "success")
    when = provisioning_logs.iso(row.get("activityDateTime"))
    upn = ""
    steps = []
    for s in row.get("provisioningSteps") or []:
        details = {k: v if isinstance(v, str) else json.dumps(v, default=str, ensure_ascii=False)
                   for k, v in (s.get("details") or {}).items()}
        if isinstance(s.get("details"), dict):
            upn = upn or str((s["details"].get("Attributes") or {}).get("userPrincipalName") or "")
        steps.append({"name": s.get("name"), "type": _cap(s.get("provisioningStepType") or ""),
                      "status": _cap(s.get("status") or ""), "description": s.get("description"),
                      "timestamp": when, "details": details})
    failed = status not in ("Success", "Skipped")
    return {
        "action": _ACTIONS.get(row.get("provisioningAction") or "", "Other"), "changeId": row.get("changeId"),
        "startTime": provisioning_logs.iso(started), "endTime": provisioning_logs.iso(ended),
        "modifiedProperties": [{"displayName": m.get("displayName"),
                                "oldValue": None if m.get("oldValue") is None else str(m.get("oldValue")),
                                "newValue": None if m.get("newValue") is None else str(m.get("newValue"))}
                               for m in row.get("modifiedProperties") or []],
        "provisioningSteps": steps,
        "reportableIdentifier": upn or row.get("sourceIdentity.displayName") or row.get("sourceIdentity.id"),
        "statusInfo": {"status": status, "errorCode": row.get("errorCode") or None,
                       "reason": (row.get("reason") or None) if failed or row.get("errorCode") else None,
                       "additionalDetails": None, "errorCategory": "NonServiceFailure" if failed else None,
                       "recommendedAction": None},
        "sourceIdentity": {"id": row.get("sourceIdentity.id"), "type": "User",
                           "displayName": row.get("sourceIdentity.displayName") or None, "details": None},
        "sourceSystem": {"id": None, "name": provisioning_logs.SOURCE_SYSTEM, "details": None},
        "targetIdentity": {"id": row.get("targetIdentity.id") or None, "type": "User",
                           "displayName": row.get("targetIdentity.displayName") or None, "details": None},
        "targetSystem": {"id": None, "name": provisioning_logs.TARGET_SYSTEM, "details": None},
    }


def _failure(ids: list[str], started: datetime, code: str, message: str) -> dict[str, str]:
    """The Test connection step failed: nothing was imported."""
    now = provisioning_logs.iso(datetime.now(UTC))
    objects = [{"action": "Other", "changeId": None, "startTime": provisioning_logs.iso(started), "endTime": now,
                "modifiedProperties": [],
                "provisioningSteps": [{"name": "EntryImport", "type": "Import", "status": "Failure",
                                       "description": f"Test connection failed: {message}", "timestamp": now,
                                       "details": {"ErrorCode": code}}],
                "reportableIdentifier": i,
                "statusInfo": {"status": "Failure", "errorCode": code, "reason": message, "additionalDetails": None,
                               "errorCategory": "NonServiceFailure", "recommendedAction": None},
                "sourceIdentity": {"id": i, "type": "User", "displayName": None, "details": None},
                "sourceSystem": {"id": None, "name": provisioning_logs.SOURCE_SYSTEM, "details": None},
                "targetIdentity": None,
                "targetSystem": {"id": None, "name": provisioning_logs.TARGET_SYSTEM, "details": None}}
               for i in ids]
    key = {"result": "Failure", "details": {"errorCode": code, "errorMessage": message}}
    value: Any = objects[0] if len(objects) == 1 else objects
    return {"key": json.dumps(key, ensure_ascii=False), "value": json.dumps(value, ensure_ascii=False)}


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]
