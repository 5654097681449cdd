"""The documented SMS sign-in repair (cross-tenant-synchronization-configure, "Troubleshooting tips":
"Users are skipped because SMS sign-in is enabled on the user").

Cross-tenant synchronization skips a source user whose mobile phone method is ready for SMS sign-in:
the scoping step shows "Filter external users.alternativeSecurityIds EQUALS 'None'" false. The page's
fix is a PowerShell script that reads one user's phone methods and, when smsSignInState is `ready`,
calls disableSmsSignIn on the mobile method (3179e48a-750b-4051-897c-87b9720928f7). ``run_disable_sms``
does the same for the configuration's scope:

1. Scope, as a cycle evaluates it: users read by the source connector (the assigned users and the
   direct members of the assigned groups, or every user for "all"), judged by the engine's scope
   stage (assignment, internal members only, scoping filters). Disabled accounts are left out: a
   cycle never creates them, so SMS sign-in is not what keeps them out of the target.
2. The phone methods of the in-scope users (one $batch GET each): a mobile method in state `ready`
   is what makes a cycle skip the user. Every such user is a row of the report.
3. POST /users/{id}/authentication/phoneMethods/{methodId}/disableSmsSignIn for each
   (phoneauthenticationmethod-disablesmssignin: 204, no body), then the methods are read again: the
   report's "after" column is what Graph says now, not what we hoped.
4. The users turned off are recorded in the state store for the next cycle to evaluate again
   (store/reevaluations.py): the SMS state lives on the phone method, which users/delta does not
   carry, so an incremental cycle would otherwise not see them until they change.

``user_ids`` limits the run to those users; each gets a row whatever the outcome (not found, not
in scope with the failing rule, not SMS-ready), so an administrator sees why nothing happened.

This is the only procedure that writes to a source tenant. It needs UserAuthenticationMethod.
ReadWrite.All (or UserAuthMethod-Phone.ReadWrite.All) on the source connection, which sync does not
(tenantsync/permissions.py, operation "disable-sms"): a token whose roles lack a permission the run
needs is refused before anything is read or written; with an opaque token (roles unknown) Graph's
403 is reported on each user's row with the permission named. ``dry_run`` writes nothing to Graph
(a read-only client), and the rows and the summary say so.

Nothing here writes a file: the command line and the flow write the CSV (``write_report``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import permissions, reports
from ..config import SyncConfig
from ..connectors.entra_source import MOBILE_METHOD_ID, EntraSource
from ..errors import GraphError, SetupRequired
from ..graph.errors import from_response
from ..graph.urls import path
from ..service import source_writer
from ..stages.mapping import MappingPlan
from ..stages.scope import ScopeContext, evaluate_scope
from ..stages.writable import split_writable
from ..store import Store
from ..uimarkdown import cell, table

COLUMNS = ("id", "userPrincipalName", "displayName", "phoneMethodId", "smsSignInStateBefore",
           "smsSignInStateAfter", "outcome")
DISABLED, WOULD_DISABLE = "disabled", "dry run: not changed"
FAILED, SKIPPED = "failed", "skipped"
READY = "ready"
REEVALUATE = "SMS sign-in turned off (tenantsync disable-sms)"
# Assigned scope with at most this many candidates: read them one by one ($batch GET) instead of
# paging through the whole tenant.
READ_ONE_BY_ONE = 2000


@dataclass
class SmsRepairResult:
    config: str
    dry_run: bool
    in_scope: int = 0                                          # in-scope users whose methods were read
    rows: list[dict[str, Any]] = field(default_factory=list)   # the CSV rows (COLUMNS)
    notes: list[str] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        return sum(1 for r in self.rows if r["outcome"].split(":", 1)[0] == outcome)

    @property
    def ready(self) -> int:
        return sum(1 for r in self.rows if r["smsSignInStateBefore"] == READY)

    @property
    def failed(self) -> bool:
        return self.count(FAILED) > 0

    def summary(self) -> str:
        head = (f"{self.config}: {self.ready} of {self.in_scope} user{'s' if self.in_scope != 1 else ''} "
                f"in scope {'has' if self.ready == 1 else 'have'} SMS sign-in ready (cycles skip them); ")
        if self.dry_run:
            text = head + f"dry run: nothing written to Graph ({self.ready} would be turned off)"
        else:
            text = head + f"SMS sign-in turned off for {self.count(DISABLED)}, {self.count(FAILED)} failed"
        return text + "." + "".join(f" {n}" for n in self.notes)

    def as_dict(self) -> dict[str, Any]:
        return {"config": self.config, "dry_run": self.dry_run, "in_scope": self.in_scope,
                "ready": self.ready, "disabled": self.count(DISABLED), "failed": self.count(FAILED),
                "summary": self.summary(), "notes": list(self.notes), "rows": list(self.rows),
                "status": "failure" if self.failed else "success"}

    def render_markdown(self) -> str:
        # Short columns (tenantsync/uimarkdown.py); the ids are in sms-sign-in.csv and the table artifact.
        out = [f"# SMS sign-in repair: `{self.config}`" + (" (dry run)" if self.dry_run else ""), "",
               self.summary(), ""]
        out += table(("Display name", "User principal name", "Before", "After", "Outcome"),
                     [(r["displayName"], r["userPrincipalName"], r["smsSignInStateBefore"], r["smsSignInStateAfter"],
                       _short(r["outcome"])) for r in self.rows])
        detailed = [r for r in self.rows if _short(r["outcome"]) != r["outcome"]]    # "failed: 403 ...": below
        out += ["", "Details:", ""] + [f"- **{cell(r['displayName'])}**: {cell(r['outcome'])}" for r in detailed] \
            if detailed else []
        return "\n".join(out) + "\n"


def write_report(result: SmsRepairResult, csv_path: str | Path) -> Path:
    """sms-sign-in.csv: one row per user (COLUMNS); cells a spreadsheet would run are neutralised."""
    return reports.write_csv(result.rows, COLUMNS, Path(csv_path))


def run_disable_sms(cfg: SyncConfig, *, user_ids: Sequence[str] = (), dry_run: bool = False,
                    source_api: Any = None, store: Store | None = None) -> SmsRepairResult:
    """List the in-scope users a cycle skips for SMS sign-in and turn it off (module docstring).

    ``source_api``: a Graph client of the source tenant (writable unless ``dry_run``); made from the
    configuration when None. Raises SetupRequired, before any Graph call, when the token's roles lack
    a permission the run needs. The users turned off are recorded in the state store (``store``, else
    the configuration's) for the next cycle to evaluate again: users/delta does not return them.
    """
    store = store or Store.for_url(cfg.state_url)
    store.refuse_if_deleted(cfg.name)            # tenantsync delete-config: nothing runs
    result = SmsRepairResult(cfg.name, dry_run)
    wanted = list(dict.fromkeys(u.strip() for u in user_ids if u and u.strip()))
    with source_writer(cfg, dry_run=dry_run, api=source_api) as api:
        _check_permissions(cfg, api, result)
        source = EntraSource(api, _select(cfg))
        users, rows = _scope(cfg, source, wanted)
        states = _mobile_methods(api, [u["id"] for u in users])
        result.in_scope = len(users)
        ready = []
        for u in users:
            method, error = states[u["id"]]
            if error is not None:
                why = _error_text(error, "GET", path("users", u["id"], "authentication", "phoneMethods"))
                rows[u["id"]] = _row(u, None, f"{FAILED}: the phone methods could not be read: {why}")
            elif method and method.get("smsSignInState") == READY:
                ready.append(u["id"])
                rows[u["id"]] = _row(u, method, WOULD_DISABLE if dry_run else "")
            elif wanted:
                state = (method or {}).get("smsSignInState")
                rows[u["id"]] = _row(u, method, f"{SKIPPED}: SMS sign-in is not ready ({state}): not what "
                                                "keeps this user out" if method else
                                     f"{SKIPPED}: no mobile phone method: not what keeps this user out")
        if ready and not dry_run:
            _disable(api, ready, rows)
            repaired = [i for i in ready if rows[i]["outcome"] == DISABLED]
            if repaired:
                store.request_reevaluation(cfg.name, repaired, REEVALUATE)
                result.notes.append(f"The next sync cycle evaluates the {len(repaired)} user"
                                    f"{'s' if len(repaired) != 1 else ''} turned off again.")
    result.rows = _in_order(list(rows.values()), wanted)
    return result


# -- steps --------------------------------------------------------------------------------------

def _check_permissions(cfg: SyncConfig, api: Any, result: SmsRepairResult) -> None:
    """Refuse before any Graph call when the token's roles lack what the run needs (reads, and the
    write unless dry run); a dry run lacking only the write says so in its summary."""
    roles = getattr(api, "granted_roles", None)
    lacks = permissions.missing("source", roles, ["disable-sms"], writes=not result.dry_run)
    write_lacks = permissions.missing("source", roles, ["disable-sms"])
    conn = cfg.connection(cfg.source.connection)
    app_id = conn.auth.client_id or getattr(api, "app_id", None)
    app = f"application {app_id}" if app_id else "the source connection's application"
    if lacks:
        fixes = "; ".join(permissions.fix_text(p, app, f"tenant {conn.tenant_id}") for p in lacks)
        raise SetupRequired(
            f"{cfg.name}: disable-sms cannot start: the source connection '{conn.name}' (tenant "
            f"{conn.tenant_id}) lacks {', '.join(lacks)}. Fix: {fixes}. Nothing was read or written.",
            missing={"source": lacks})
    if write_lacks:
        result.notes.append(f"The source connection lacks {', '.join(write_lacks)}: a run without "
                            "--dry-run would be refused (so would one with dry_run false in the Prefect UI).")


def _select(cfg: SyncConfig) -> list[str]:
    """What a cycle selects from the source, plus the scoping filters' attributes."""
    mappings, _ = split_writable(cfg.effective_mappings)
    attrs = list(MappingPlan(mappings).source_attributes)
    attrs += cfg.scope.filter_attributes
    return list(dict.fromkeys(attrs))


def _scope(cfg: SyncConfig, source: EntraSource, wanted: list[str]
           ) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """(enabled in-scope users, rows for the wanted users that are out of it)."""
    groups = cfg.scope.assignments.groups if cfg.scope.mode == "assigned" else []
    memberships = source.memberships(groups, None).full or {}
    ctx = ScopeContext.build(cfg.scope, memberships)
    rows: dict[str, dict[str, Any]] = {}
    if wanted:
        found = source.get_users(wanted)
        rows.update({i: _row({"id": i}, None, f"{SKIPPED}: not found in the source tenant")
                     for i, u in found.items() if u is None})
        candidates: Iterable[dict[str, Any]] = [u for u in found.values() if u]
    elif cfg.scope.mode == "assigned" and len(ids := {*cfg.scope.assignments.users, *ctx.assigned_members}) \
            <= READ_ONE_BY_ONE:
        candidates = [u for u in source.get_users(sorted(ids)).values() if u]
    else:
        candidates = (u for page, _ in source.user_pages(None) for u in page if "@removed" not in u)
    users = []
    for u in candidates:
        scope = evaluate_scope(u, ctx)
        if not scope.in_scope:
            if wanted:
                failing = next((rule for rule, ok in scope.rules if not ok), scope.description)
                rows[u["id"]] = _row(u, None, f"{SKIPPED}: not in scope ({failing})")
        elif u.get("accountEnabled") is False:
            if wanted:
                rows[u["id"]] = _row(u, None, f"{SKIPPED}: the account is disabled: a cycle never "
                                              "creates it, whatever its SMS sign-in")
        else:
            users.append(u)
    return users, rows


def _mobile_methods(api: Any, ids: list[str]) -> dict[str, tuple[dict[str, Any] | None, GraphError | None]]:
    """user id -> (its mobile phone method or None, the error of the read or None)."""
    replies = api.batch([{"method": "GET", "url": path("users", i, "authentication", "phoneMethods")}
                         for i in ids]) if ids else []
    out: dict[str, tuple[dict[str, Any] | None, GraphError | None]] = {}
    for i, r in zip(ids, replies):
        if r["status"] != 200:
            out[i] = (None, from_response(r["status"], r.get("headers"), r.get("body")))
            continue
        methods = (r.get("body") or {}).get("value", [])
        out[i] = (next((m for m in methods if (m.get("id") or "").lower() == MOBILE_METHOD_ID), None), None)
    return out


def _disable(api: Any, ids: list[str], rows: dict[str, dict[str, Any]]) -> None:
    """disableSmsSignIn on each mobile method, then the state read back into the rows."""
    urls = {i: path("users", i, "authentication", "phoneMethods", MOBILE_METHOD_ID, "disableSmsSignIn")
            for i in ids}
    replies = api.batch([{"method": "POST", "url": urls[i]} for i in ids])
    done = []
    for i, r in zip(ids, replies):
        if 200 <= r["status"] < 300:
            done.append(i)
        else:
            error = from_response(r["status"], r.get("headers"), r.get("body"))
            rows[i].update(smsSignInStateAfter=READY, outcome=f"{FAILED}: {_error_text(error, 'POST', urls[i])}")
    after = _mobile_methods(api, done)
    for i in done:
        method, read_error = after[i]
        state = (method or {}).get("smsSignInState") if read_error is None else None
        rows[i]["smsSignInStateAfter"] = state or ""
        if read_error is not None:
            read = path("users", i, "authentication", "phoneMethods")
            rows[i]["outcome"] = (f"{FAILED}: disableSmsSignIn succeeded, but the state could not be "
                                  f"read back: {_error_text(read_error, 'GET', read)}")
        elif state == READY:
            rows[i]["outcome"] = f"{FAILED}: disableSmsSignIn succeeded but SMS sign-in is still ready"
        else:
            rows[i]["outcome"] = DISABLED


# -- rows -----------------------------------------------------------------------------------------

def _in_order(rows: list[dict[str, Any]], wanted: list[str]) -> list[dict[str, Any]]:
    """The rows of the users asked for in the order given (by id, or by UPN); else as read."""
    if not wanted:
        return rows
    position = {w.lower(): n for n, w in enumerate(wanted)}

    def key(r: dict[str, Any]) -> int:
        return min(position.get(r["id"].lower(), len(wanted)),
                   position.get(r["userPrincipalName"].lower(), len(wanted)))
    return sorted(rows, key=key)


def _short(outcome: str) -> str:
    """An outcome for a table cell: "failed: 403 ..." gives "failed" (the sentence is listed under it)."""
    return outcome if len(outcome) <= 30 else outcome.split(":", 1)[0]


def _row(user: dict[str, Any], method: dict[str, Any] | None, outcome: str) -> dict[str, Any]:
    state = (method or {}).get("smsSignInState") or ""
    return {"id": user["id"], "userPrincipalName": user.get("userPrincipalName") or "",
            "displayName": user.get("displayName") or "", "phoneMethodId": (method or {}).get("id") or "",
            "smsSignInStateBefore": state, "smsSignInStateAfter": state, "outcome": outcome}


def _error_text(error: GraphError, method: str, url: str) -> str:
    """The Graph error, and for a 403 the permission its route needs (tenantsync/permissions.py)."""
    text = f"{error.status} {error.code}: {error.message}"
    hint = permissions.forbidden_hint(method, url, "source") if error.status == 403 else ""
    return f"{text} {hint}".strip()


__all__ = ["COLUMNS", "SmsRepairResult", "run_disable_sms", "write_report"]
