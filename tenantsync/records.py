"""Turns planned/applied Actions into provisioning-log rows and cycle counts (provisioningObjectSummary;
docs/entra-behaviour.md#provisioning-logs)."""

from __future__ import annotations

import json
import os
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
    """One row per action (docs/contracts.md: one row per object and change), made cheaply: most
    rows of a cycle are users already in step, so their ids come from one random read for the
    whole call and the export step of a skip, the same for every skip with the same reason, is
    built once and shared by those rows (its JSON is the same)."""
    when = when or datetime.now(UTC)
    todo = actions if isinstance(actions, Sequence) else list(actions)
    ids = iter(new_ids(2 * len(todo)))
    skips: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    rows = []
    for a in todo:
        if a.kind in ("other", "stagedDelete") or dry_run:     # export_step depends on these only
            key = (a.kind if dry_run else "", a.status, a.reason, a.error_code)
            export = skips.get(key)
            if export is None:
                export = skips[key] = export_step(a, dry_run=dry_run).as_dict()
        else:
            export = export_step(a, dry_run=dry_run).as_dict()
        steps = [s.as_dict() for s in a.steps]
        steps.append(export)
        rows.append({
            "activityDateTime": when, "id": next(ids), "jobId": job_id, "cycleId": cycle_id,
            "changeId": next(ids), "provisioningAction": a.kind,
            "status": "skipped" if dry_run and a.status == "success" and a.kind != "other" else a.status,
            "errorCode": a.error_code, "reason": ("Dry run: " if dry_run else "") + a.reason,
            "sourceIdentity.id": a.source_id, "sourceIdentity.displayName": a.display_name,
            "targetIdentity.id": a.target_id or "", "targetIdentity.displayName":
                a.target_display_name or (a.changes["displayName"].new if "displayName" in a.changes else ""),
            "modifiedProperties": [{"displayName": k, "oldValue": _shown(k, c.old, redacted),
                                    "newValue": _shown(k, c.new, redacted)} for k, c in a.changes.items()]
            if a.changes else [],
            "provisioningSteps": steps, "durationInMilliseconds": 0,
        })
    return rows


_VARIANT = "89ab" * 4


def new_ids(count: int) -> list[str]:
    """``count`` random (version 4) UUIDs in their text form, from one read of os.urandom:
    uuid.uuid4() reads it once per id, which costs more than the rest of a log row."""
    h = os.urandom(16 * count).hex()
    return [f"{h[i:i + 8]}-{h[i + 8:i + 12]}-4{h[i + 13:i + 16]}-{_VARIANT[int(h[i + 16], 16)]}{h[i + 17:i + 20]}-"
            f"{h[i + 20:i + 32]}" for i in range(0, 32 * count, 32)]


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
