"""Provision on demand ("synchronizationJob: provisionOnDemand", provision-on-demand;
docs/entra-behaviour.md#provision-on-demand): up to five source users, through the same stages as a cycle.

``provision`` opens an ordinary Cycle with ``CycleOptions(user_ids=...)``: scope, mapping,
matching, plan, guard and apply are the cycle's own code, so a user skipped in a cycle is skipped
here for the same stated reason. The cycle is recorded with kind ``on-demand``.

``result_per_user`` reads a CycleReport the way the portal shows an on-demand run (five steps:
test connection, import user, determine if in scope, match user, perform action) and carries the
provisionOnDemand reply's ``{"result", "details"}`` key. The rate limit (5 requests per 10
seconds) belongs to the caller (the Prefect layer), not here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from ..config import SyncConfig
from ..cycle import CycleOptions, CycleReport, drive
from ..errors import GraphError
from ..model import Action, Step
from ..records import export_step
from ..service import open_cycle
from ..store import Store
from ..uimarkdown import details_table

MAX_USERS = 5
ACTION_TITLES = {"create": "Create", "update": "Update", "delete": "Delete", "disable": "Disable",
                 "stagedDelete": "StagedDelete", "other": "Skip"}
STEP_TITLES = ("Test connection", "Import user", "Determine if user is in scope",
               "Match user between source and target system", "Perform action")
REFERENCE_TITLE = "Resolve manager reference"     # tenantsync/references.py, after the action


def check_user_ids(user_ids: str | Sequence[str]) -> tuple[str, ...]:
    """One to five distinct, non-empty source object ids, else a ValueError that says so."""
    if isinstance(user_ids, str):
        user_ids = [user_ids]
    ids = tuple(dict.fromkeys(str(i).strip() for i in user_ids if i is not None and str(i).strip()))
    if not ids:
        raise ValueError("provision on demand needs at least one source user id")
    if len(ids) > MAX_USERS:
        raise ValueError(f"provision on demand takes at most {MAX_USERS} users per call ({len(ids)} given); "
                         "split them into several calls")
    bad = [i for i in ids if "/" in i or "?" in i or "#" in i or " " in i]
    if bad:
        raise ValueError(f"not a source object id: {bad[0]!r}")
    return ids


def provision(cfg: SyncConfig, user_ids: str | Sequence[str], *, store: Store | None = None,
              notify: Callable[[str, str], None] | None = None) -> CycleReport:
    """Provision up to five source users now; the report's actions carry every step."""
    ids = check_user_ids(user_ids)
    with open_cycle(cfg, CycleOptions(user_ids=ids), notify=notify, store=store) as cycle:
        return drive(cycle)


# -- reading a report ---------------------------------------------------------------------------

def _step(a: Action, kind: str) -> Step | None:
    return next((s for s in a.steps if s.type == kind), None)


def _reply(a: Action) -> dict[str, Any]:
    """The provisionOnDemand reply's key: {"result": Success|Skipped|Failure, "details": {...}}."""
    result = {"success": "Success", "skipped": "Skipped", "failure": "Failure", "warning": "Warning"}[a.status]
    if a.kind == "stagedDelete" or (a.kind == "other" and result == "Success"):
        result = "Skipped"
    details = {} if result == "Success" else {"errorCode": a.error_code, "errorMessage": a.reason}
    return {"result": result, "details": details}


def result_per_user(report: CycleReport) -> list[dict[str, Any]]:
    """One dict per user, in the order asked, reading like the portal's on-demand steps. The
    user's manager (a row of its own in the provisioning log) joins the user's entry."""
    out = []
    entries: dict[str, dict[str, Any]] = {}
    for a in report.actions:
        reference = _step(a, "referenceResolution")
        if reference is not None and a.source_id in entries:
            _add_reference(entries[a.source_id], a)
            continue
        imp, scope, match = _step(a, "import"), _step(a, "scoping"), _step(a, "matching")
        export = export_step(a, dry_run=report.dry_run)
        attrs = dict((imp.details.get("Attributes") or {}) if imp else {})
        rules = [{"rule": r, "passed": bool(ok)}
                 for r, ok in ((scope.details.get("ScopeEvaluationResult") or {}).items() if scope else [])]
        failing = next((r["rule"] for r in rules if not r["passed"]), None)
        found = bool(match and match.status == "success")
        modified = [{"name": k, "old": c.old, "new": c.new} for k, c in a.changes.items()]
        out.append({
            "sourceId": a.source_id,
            "displayName": a.display_name or attrs.get("displayName", ""),
            "userPrincipalName": attrs.get("userPrincipalName", ""),
            "targetId": a.target_id or "",
            "cycleId": report.cycle_id,
            "cycleKind": report.kind,
            "dryRun": report.dry_run,
            "reply": _reply(a),
            "import": {"status": imp.status if imp else "failure",
                       "description": imp.description if imp else "",
                       "changeType": (imp.details.get("ChangeType") if imp else None),
                       "attributes": attrs},
            "scoping": None if scope is None else {
                "status": scope.status, "inScope": scope.status == "success",
                "description": scope.description, "rules": rules, "failingRule": failing,
                "skipReason": scope.details.get("SkipReason")},
            "matching": None if match is None else {
                "status": match.status, "found": found,
                "by": match.details.get("MatchedBy") if found else None,
                "targetId": match.details.get("TargetId") or None, "description": match.description},
            "action": {"action": a.kind, "title": ACTION_TITLES.get(a.kind, a.kind), "status": a.status,
                       "errorCode": a.error_code, "reason": a.reason, "step": export.as_dict(),
                       "modifiedProperties": modified},
            "modifiedProperties": modified,
        })
        entries[a.source_id] = out[-1]
    return out


def _add_reference(entry: dict[str, Any], a: Action) -> None:
    entry["modifiedProperties"] += [{"name": k, "old": c.old, "new": c.new} for k, c in a.changes.items()]
    entry["reference"] = {"attribute": "manager", "status": a.status, "errorCode": a.error_code,
                          "description": a.reason}
    if a.status == "failure":
        entry["reply"] = {"result": "Failure", "details": {"errorCode": a.error_code, "errorMessage": a.reason}}
    elif a.status == "success" and entry["reply"]["result"] == "Skipped" and \
            entry["action"]["errorCode"] == "RedundantExport":
        entry["reply"] = {"result": "Success", "details": {}}     # in step, but its manager was set


def _value(v: Any) -> str:
    if v is None:
        return "(empty)"
    if isinstance(v, str):
        return v if v else '""'
    return json.dumps(v, ensure_ascii=False)


def _steps(r: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(title, status, one-line description) per portal step; Test connection only on failure."""
    rows: list[tuple[str, str, str]] = []     # a connection failure raises: see error_result
    rows.append((STEP_TITLES[1], r["import"]["status"], r["import"]["description"]))
    if r["scoping"] is not None:
        rows.append((STEP_TITLES[2], r["scoping"]["status"], r["scoping"]["description"]))
    if r["matching"] is not None:
        rows.append((STEP_TITLES[3], r["matching"]["status"], r["matching"]["description"]))
    step = r["action"]["step"]
    rows.append((STEP_TITLES[4], step["status"],
                 f"{r['action']['title']}: {step['description'] or r['action']['reason']}"
                 + (f" ({r['action']['errorCode']})" if r["action"]["errorCode"] else "")))
    ref = r.get("reference")
    if ref:
        rows.append((REFERENCE_TITLE, ref["status"],
                     ref["description"] + (f" ({ref['errorCode']})" if ref["errorCode"] else "")))
    return rows


def _md(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(report: CycleReport) -> str:
    """The on-demand result as a markdown artifact: steps, scoping rules, modified properties."""
    out = [f"# Provision on demand: `{report.config}`", "",
           f"Cycle `{report.cycle_id}` ({report.kind}{', dry run' if report.dry_run else ''}). "
           + (report.message or ""), ""]
    for r in result_per_user(report):
        name = r["displayName"] or r["sourceId"]
        out += [f"## {_md(name)} (`{r['sourceId']}`): {r['reply']['result']}", "",
                "| Step | Status | Details |", "|---|---|---|"]
        out += [f"| {t} | {s} | {_md(d)} |" for t, s, d in _steps(r)]
        attributes = r["import"]["attributes"]
        if attributes:      # collapsed, as one HTML block: tenantsync/uimarkdown.py says why
            out += details_table(f"Attributes read from the source ({len(attributes)})", ("Attribute", "Value"),
                                 [(k, _value(v)) for k, v in sorted(attributes.items())])
        if r["scoping"] and r["scoping"]["rules"]:
            out += ["", "Scoping rules:", "", "| Rule | Result |", "|---|---|"]
            out += [f"| {_md(x['rule'])} | {'passed' if x['passed'] else '**failed**'} |"
                    for x in r["scoping"]["rules"]]
        if r["modifiedProperties"]:
            out += ["", "Modified properties:", "", "| Property | Old value | New value |", "|---|---|---|"]
            out += [f"| {_md(m['name'])} | {_md(_value(m['old']))} | {_md(_value(m['new']))} |"
                    for m in r["modifiedProperties"]]
        out.append("")
    return "\n".join(out)


def render_text(report: CycleReport) -> str:
    """The same, for a terminal."""
    lines = [f"Provision on demand: {report.config} (cycle {report.cycle_id}, {report.kind}"
             f"{', dry run' if report.dry_run else ''})"]
    for r in result_per_user(report):
        lines.append("")
        lines.append(f"{r['displayName'] or r['sourceId']} ({r['sourceId']}): {r['reply']['result']}")
        for i, (title, status, desc) in enumerate(_steps(r), start=1):
            lines.append(f"  {i}. {title} [{status}] {desc}")
            if title == STEP_TITLES[2] and r["scoping"]:
                for x in r["scoping"]["rules"]:
                    lines.append(f"       {'ok  ' if x['passed'] else 'FAIL'} {x['rule']}")
            if title == STEP_TITLES[3] and r["matching"] and r["matching"]["found"]:
                lines.append(f"       matched by {r['matching']['by']}: {r['matching']['targetId']}")
        for m in r["modifiedProperties"]:
            lines.append(f"     {m['name']}: {_value(m['old'])} -> {_value(m['new'])}")
    if report.message:
        lines += ["", report.message]
    return "\n".join(lines)


def error_result(user_ids: Sequence[str], exc: GraphError) -> list[dict[str, Any]]:
    """What to show when the run failed on the tenant itself (the portal's Test connection step)."""
    return [{"sourceId": i, "reply": {"result": "Failure", "details": {"errorCode": exc.code,
                                                                      "errorMessage": exc.message}},
             "steps": [{"title": STEP_TITLES[0], "status": "failure", "description": str(exc)}]}
            for i in user_ids]


__all__ = ["MAX_USERS", "check_user_ids", "error_result", "provision", "render_markdown", "render_text",
           "result_per_user"]
