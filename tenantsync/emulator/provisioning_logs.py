"""GET /auditLogs/provisioning (provisioningobjectsummary-list) and the rows it serves.

The provisioning service of the emulator (sync_runner.py) appends one provisioningObjectSummary
per object and change of each cycle to the source tenant (the tenant of the service principal);
``summary`` turns a row of tenantsync's provisioning log (tenantsync/records.py) into that
resource's shape (provisioningobjectsummary, provisioningstep, provisioningstatusinfo,
provisioningerrorinfo, provisionedidentity), initiatedBy "Azure AD Provisioning Service".

The list, as the page documents it:
- permission AuditLog.Read.All (permissions.py);
- `$filter` with eq, contains, gt, lt, case sensitive, joined by `and` / `or` (and binds tighter;
  parentheses are not supported: emulator decision) on any property path of the resource, e.g.
  jobId, cycleId, servicePrincipal/id, servicePrincipal/displayName, activityDateTime (a bare
  ISO 8601 literal), provisioningAction, provisioningStatusInfo/status, sourceIdentity/id;
- `$orderby` activityDateTime (desc is the default: newest first, emulator decision), `$top`
  (default 50, at most 1000: emulator decision, the page states neither), `$skiptoken` paging
  through @odata.nextLink;
- reports need Microsoft Entra ID P1 or P2: a tenant without premium is refused with 403
  Authentication_RequestFromNonPremiumTenantOrB2CTenant (emulator decision on the message).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from tenantsync.emulator.protocol import (
    GraphHttpError,
    GraphRequest,
    GraphResponse,
    bad_request,
    decode_token,
    encode_token,
)

DEFAULT_TOP = 50
MAX_TOP = 1000
INITIATOR = "Azure AD Provisioning Service"
SOURCE_SYSTEM = "Azure Active Directory"
TARGET_SYSTEM = "Azure Active Directory (target tenant)"
_CLAUSE = re.compile(
    r"\s*(?:contains\(\s*(?P<cpath>[A-Za-z][\w/]*)\s*,\s*'(?P<cval>(?:[^']|'')*)'\s*\)"
    r"|(?P<path>[A-Za-z][\w/]*)\s+(?P<op>eq|gt|lt)\s+(?:'(?P<sval>(?:[^']|'')*)'|(?P<bare>[^\s)]+)))\s*")
_JOIN = re.compile(r"\s+(and|or)\s+", re.IGNORECASE)


def summary(row: dict[str, Any], *, tenant_id: str, job_id: str, sp: dict[str, Any],
            source_tenant: str, target_tenant: str) -> dict[str, Any]:
    """One provisioningObjectSummary from one row of the engine's provisioning log."""
    when = row.get("activityDateTime")
    status = row.get("status") or "success"
    error = None if status in ("success", "skipped") and not row.get("errorCode") else {
        "errorCode": row.get("errorCode") or None, "reason": row.get("reason") or None,
        "additionalDetails": None,
        "errorCategory": "nonServiceFailure" if status == "failure" else "success",
        "recommendedAction": None}
    if status == "skipped" and error is not None:
        error["errorCategory"] = "success"
    return {
        "id": row.get("id"), "activityDateTime": iso(when), "tenantId": tenant_id, "jobId": job_id,
        "cycleId": row.get("cycleId"), "changeId": row.get("changeId"),
        "provisioningAction": row.get("provisioningAction"),
        "durationInMilliseconds": int(row.get("durationInMilliseconds") or 0),
        "provisioningStatusInfo": {"status": status, "errorInformation": error},
        "provisioningSteps": _plain(row.get("provisioningSteps") or []),
        "modifiedProperties": _plain(row.get("modifiedProperties") or []),
        "servicePrincipal": dict(sp),
        "sourceSystem": {"id": source_tenant, "displayName": SOURCE_SYSTEM, "details": {}},
        "targetSystem": {"id": target_tenant, "displayName": TARGET_SYSTEM,
                         "details": {"ServicePrincipalId": sp.get("id"),
                                     "ServicePrincipalDisplayName": sp.get("displayName")}},
        "initiatedBy": {"id": "", "displayName": INITIATOR, "initiatorType": "system"},
        "sourceIdentity": {"id": row.get("sourceIdentity.id") or "", "identityType": "User",
                           "displayName": row.get("sourceIdentity.displayName") or "", "details": {}},
        "targetIdentity": {"id": row.get("targetIdentity.id") or "", "identityType": "User",
                           "displayName": row.get("targetIdentity.displayName") or "", "details": {}},
    }


def list_provisioning(req: GraphRequest) -> GraphResponse:
    """GET /auditLogs/provisioning: one page of the tenant's provisioningObjectSummary items."""
    tenant = req.home_tenant
    if not tenant.premium:
        raise GraphHttpError(403, "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
                             "Neither tenant is B2C or tenant doesn't have premium license")
    q = req.query
    unknown = sorted(k for k in q if k.startswith("$") and k not in ("$filter", "$top", "$orderby", "$skiptoken"))
    if unknown:
        raise bad_request(f"Query option '{unknown[0]}' is not supported on this resource.", "BadRequest")
    test = parse_filter(q.get("$filter") or "")
    descending = parse_orderby(q.get("$orderby"))
    top = _top(q.get("$top"))
    start = 0
    if q.get("$skiptoken"):
        token = decode_token(q["$skiptoken"])
        if token.get("t") != tenant.id:
            raise bad_request("The specified page token value is not valid for this request.", "BadRequest")
        start = int(token.get("o", 0))
    rows = [r for r in list(tenant.provisioning_logs) if test(r)]
    rows.sort(key=lambda r: r.get("activityDateTime") or "", reverse=descending)
    page = rows[start:start + top]
    body: dict[str, Any] = {"@odata.context": req.context("auditLogs/provisioning"), "value": page}
    if start + top < len(rows):
        params = {k: v for k, v in q.items() if k != "$skiptoken"}
        params["$skiptoken"] = encode_token({"t": tenant.id, "o": start + top})
        body["@odata.nextLink"] = req.link("/auditLogs/provisioning", params)
    return GraphResponse(200, body)


def parse_filter(text: str) -> Any:
    """A predicate over provisioningObjectSummary dicts (module docstring); 400 when not understood."""
    if not text.strip():
        return lambda row: True
    groups: list[list[Any]] = [[]]
    parts = _JOIN.split(text.strip())
    for i, part in enumerate(parts):
        if i % 2:
            if part.lower() == "or":
                groups.append([])
            continue
        found = _CLAUSE.fullmatch(part)
        if not found:
            raise bad_request(f"Invalid filter clause: '{part.strip()}'. Supported: eq, contains, gt, lt.",
                              "BadRequest")
        groups[-1].append(_clause(found))
    return lambda row: any(all(c(row) for c in g) for g in groups)


def parse_orderby(text: str | None) -> bool:
    """True for descending (the default)."""
    if not text:
        return True
    found = re.fullmatch(r"\s*activityDateTime(?:\s+(asc|desc))?\s*", text)
    if not found:
        raise bad_request(f"Invalid $orderby: '{text}'. Supported: activityDateTime asc|desc.", "BadRequest")
    return found.group(1) != "asc"


def _clause(found: re.Match[str]) -> Any:
    if found.group("cpath"):
        path, needle = found.group("cpath"), found.group("cval").replace("''", "'")
        return lambda row: needle in str(_get(row, path) or "")
    path, op = found.group("path"), found.group("op")
    raw = found.group("sval")
    value: Any = raw.replace("''", "'") if raw is not None else _bare(found.group("bare"))

    def test(row: dict[str, Any]) -> bool:
        have = _get(row, path)
        if op == "eq":
            return have == value if not isinstance(value, str) else str(have) == value and have is not None
        if have is None:
            return False
        try:
            return bool(have > value) if op == "gt" else bool(have < value)
        except TypeError:
            return bool(str(have) > str(value)) if op == "gt" else bool(str(have) < str(value))
    return test


def _bare(text: str) -> Any:
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    if low == "null":
        return None
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}(T[\d:.]+Z?)?", text):
        try:                                 # the rows' format, so that strings compare in time order
            when = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise bad_request(f"Invalid date in $filter: '{text}'.", "BadRequest") from None
        return iso(when.replace(tzinfo=None) if when.tzinfo is None else when.astimezone(UTC))
    raise bad_request(f"Invalid literal in $filter: '{text}'.", "BadRequest")


def _get(row: dict[str, Any], path: str) -> Any:
    value: Any = row
    for part in path.split("/"):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _top(text: str | None) -> int:
    if text is None:
        return DEFAULT_TOP
    if not text.strip().isdigit() or not 1 <= int(text) <= MAX_TOP:
        raise bad_request(f"Invalid value '{text}' for $top: 1 to {MAX_TOP}.", "BadRequest")
    return int(text)


def iso(when: Any) -> str | None:
    if isinstance(when, datetime):
        return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return None if when is None else str(when)


def _plain(value: Any) -> Any:
    """JSON values only (step details may hold dates)."""
    return json.loads(json.dumps(value, default=str, ensure_ascii=False))
