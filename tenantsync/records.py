"""Turns planned/applied Actions into provisioning-log rows and cycle counts (provisioningObjectSummary;
docs/entra-behaviour.md#provisioning-logs)."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from .model import Action, Step

REDACT = "[Redact]"
EXPORT_STEP = {"create": "EntryExportAdd", "update": "EntryExportUpdate", "disable": "EntryExportUpdate",
               "delete": "EntryExportDelete", "stagedDelete": "EntrySynchronizationSkip",
               "other": "EntrySynchronizationSkip"}


def export_step(a: Action, *, dry_run: bool = False) -> Step:
    if a.kind in ("other", "stagedDelete"):
        return Step("EntrySynchronizationSkip", "export", a.status if a.status != "success" else "skipped",
                    a.reason, {"SkipReason": a.error_code or "NotEffectivelyEntitled"})
    verb = {"create": "created", "update": "updated", "disable": "disabled", "delete": "deleted"}[a.kind]
    if dry_run:
        return Step(EXPORT_STEP[a.kind], "export", "skipped", f"Dry run: the user would be {verb}.",
                    {"DryRun": True})
    if a.status == "failure":
        return Step(EXPORT_STEP[a.kind], "export", "failure", a.reason, {"ErrorCode": a.error_code})
    return Step(EXPORT_STEP[a.kind], "export", "success",
                f"User '{a.display_name}' was {verb} in the target tenant.", {})


def log_rows(actions: Iterable[Action], *, job_id: str, cycle_id: str, redacted: frozenset[str] = frozenset(),
             dry_run: bool = False, when: datetime | None = None) -> list[dict[str, Any]]:
    when = when or datetime.now(UTC)
    stamp = when.isoformat()
    rows = []
    for a in actions:
        steps = [s.as_dict() for s in a.steps] + [export_step(a, dry_run=dry_run).as_dict()]
        rows.append({
            "activityDateTime": stamp, "id": str(uuid.uuid4()), "jobId": job_id, "cycleId": cycle_id,
            "changeId": str(uuid.uuid4()), "provisioningAction": a.kind,
            "status": "skipped" if dry_run and a.status == "success" and a.kind != "other" else a.status,
            "errorCode": a.error_code, "reason": ("Dry run: " if dry_run else "") + a.reason,
            "sourceIdentity.id": a.source_id, "sourceIdentity.displayName": a.display_name,
            "targetIdentity.id": a.target_id or "", "targetIdentity.displayName":
                a.target_display_name or (a.changes["displayName"].new if "displayName" in a.changes else ""),
            "modifiedProperties": [{"displayName": k, "oldValue": _shown(k, c.old, redacted),
                                    "newValue": _shown(k, c.new, redacted)} for k, c in a.changes.items()],
            "provisioningSteps": steps, "durationInMilliseconds": 0,
        })
    return rows


def _shown(attr: str, value: Any, redacted: frozenset[str]) -> Any:
    if attr in redacted:
        return REDACT
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return value


def counts(actions: Sequence[Action]) -> dict[str, int]:
    c: Counter[str] = Counter()
    for a in actions:
        c[a.kind] += 1
        c[a.status] += 1
    return {k: c.get(k, 0) for k in ("create", "update", "delete", "disable", "stagedDelete", "other",
                                      "success", "failure", "skipped", "warning")}
