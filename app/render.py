"""How the command line shows results: rich tables and summaries of each procedure's result, and
the one ``error:`` line of a failed run.

``render(result)`` picks the procedure's view; each view reads the result's JSON form
(``ProcedureResult.as_dict``), the same keys ``--json`` prints. Kept apart from the commands
(app.cli) and the runner (app.runner) so each module has one job.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from tenantsync.results import ProcedureResult


def out() -> Console:
    return Console(highlight=False, soft_wrap=True)


def err() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


ACTION_KEYS = ("create", "update", "delete", "disable", "stagedDelete", "other")
STATUS_KEYS = ("success", "failure", "skipped", "warning")
STATUS_STYLE = {"passed": "green", "success": "green", "Success": "green", "repaired": "green",
                "failed": "red", "failure": "red", "Failure": "red", "not repaired": "yellow",
                "warning": "yellow", "skipped": "dim", "Skipped": "dim",
                "granted": "green", "missing": "red", "unknown": "yellow"}


def styled(status: Any) -> str:
    text = escape(str(status if status is not None else ""))
    style = STATUS_STYLE.get(str(status))
    return f"[{style}]{text}[/]" if style else text


def counts_table(counts: Mapping[str, Any], title: str = "") -> Table:
    """Actions and outcomes side by side in one table of two rows, narrow enough for 80 columns."""
    t = Table(title=title or None, title_justify="left")
    t.add_column("action")
    for k in ACTION_KEYS:
        t.add_column(k, justify="right")
    t.add_row("count", *(str(counts.get(k, 0)) for k in ACTION_KEYS))
    t.add_section()
    t.add_row("outcome", *(f"{k}" for k in STATUS_KEYS), "", "")
    t.add_row("count", *(f"[red]{counts.get(k, 0)}[/]" if k == "failure" and counts.get(k)
                         else str(counts.get(k, 0)) for k in STATUS_KEYS), "", "")
    return t


def kv_table(data: Mapping[str, Any], title: str = "") -> Table:
    t = Table(title=title or None, title_justify="left", show_header=False)
    t.add_column("", style="bold")
    t.add_column("", overflow="fold")
    for k, v in data.items():
        t.add_row(escape(str(k)), escape(short(v, 200)))
    return t


def rows_table(rows: Sequence[Mapping[str, Any]], title: str = "", columns: list[str] | None = None,
               status: tuple[str, ...] = ("status", "outcome"), limit: int = 120) -> Table:
    columns = columns or list(dict.fromkeys(k for r in rows for k, v in r.items()
                                            if not isinstance(v, (dict, list))))
    t = Table(title=title or None, title_justify="left")
    for c in columns:
        t.add_column(c, overflow="fold")
    for r in rows:
        t.add_row(*(styled(r.get(c)) if c in status else escape(short(r.get(c), limit)) for c in columns))
    return t


def short(value: Any, limit: int = 120) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (dict, list)):
        value = json.dumps(value, default=str, ensure_ascii=False)
    text = str(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def escape(text: str) -> str:
    from rich.markup import escape as _e
    return _e(text)


def render_generic(result: Mapping[str, Any], title: str = "") -> None:
    """Scalars as a key/value table, counts as a counts table, lists of dicts as tables."""
    con = out()
    scalars = {k: v for k, v in result.items() if not isinstance(v, (dict, list)) and v is not None
               and k != "procedure"}
    if scalars:
        con.print(kv_table(scalars, title))
    for k, v in result.items():
        if isinstance(v, Mapping) and k == "counts":
            con.print(counts_table(v, "counts"))
        elif isinstance(v, Mapping) and v:
            con.print(kv_table(v, k))
        elif isinstance(v, list) and v and all(isinstance(i, Mapping) for i in v):
            con.print(rows_table(v, k))
        elif isinstance(v, list) and v:
            con.print(f"{k}: {', '.join(short(i, 60) for i in v)}", markup=False)


def report_paths(paths: Mapping[str, Any] | None, title: str = "reports") -> None:
    """The configuration-level report files, and how many cycle folders."""
    if not paths:
        return
    main = {k: v for k, v in paths.items() if "/" not in k}
    cycles = sum(1 for k in paths if k.endswith("/provisioning-log"))
    if cycles:
        main[f"{cycles} cycle(s)"] = "<cycleId>/provisioning-log.csv beside cycles.csv"
    out().print(kv_table(main, title))


def render_cycle(result: Mapping[str, Any]) -> None:
    con = out()
    job = result.get("job") or {}
    head = {k: result.get(k) for k in ("config", "kind", "cycle_id", "dry_run") if k in result}
    head["job status"] = job.get("code", "")
    q = job.get("quarantine") or {}
    if q:
        head["quarantine"] = f"{q.get('reason')} (next attempt {q.get('nextAttempt')})"
    if result.get("staged"):
        head["staged deletions"] = result["staged"]
    if result.get("message") and not str(result["message"]).startswith("Job status:"):
        head["message"] = result["message"]
    con.print(kv_table(head, f"sync {result.get('config', '')}".strip()))
    if result.get("counts"):
        con.print(counts_table(result["counts"], "actions and outcomes"))
    report_paths(result.get("reports"))
    rest = {k: v for k, v in result.items() if k not in (*head, "counts", "job", "message", "staged", "actions",
                                                         "reports", "ok", "status", "reason", "procedure")}
    if rest:
        render_generic(rest)


def render_connection(result: Mapping[str, Any]) -> None:
    con = out()
    verdict = "[green]OK[/]" if result.get("ok") else "[red]FAILED[/]"
    con.print(f"Test connection [bold]{escape(str(result.get('config', '')))}[/]: source "
              f"{escape(str(result.get('sourceTenant', '')))} → target {escape(str(result.get('targetTenant', '')))}: "
              f"{verdict}")
    checks = [{"check": c.get("name"), "status": c.get("status"),
               "message": (f"{c['code']}: " if c.get("code") else "") + str(c.get("message") or "")
                          + (f" What to do: {c['recommended_action']}" if c.get("status") != "passed"
                             and c.get("recommended_action") else "")}
              for c in result.get("checks") or []]
    checks += [{"check": n, "status": "not checked", "message": "fix the failures above first"}
               for n in result.get("notChecked") or []]
    if checks:
        con.print(rows_table(checks, columns=["check", "status", "message"], limit=600))


def render_setup(result: Mapping[str, Any]) -> None:
    con = out()
    verdict = "[green]OK[/]" if result.get("ok") else "[red]NEEDS ATTENTION[/]"
    dry = " (dry run: nothing written)" if result.get("dry_run") else ""
    con.print(f"Setup [bold]{escape(str(result.get('config', '')))}[/]{dry}: {verdict}")
    con.print(escape(str(result.get("message") or "")))
    anchor = result.get("anchor") or {}
    con.print(f"Anchor extension: {escape(str(anchor.get('attribute') or '-'))} ({escape(str(anchor.get('action')))})")
    for call in result.get("calls") or []:
        con.print(f"  {escape(str(call))}", style="dim" if "not sent" not in str(call) else None)
    rows = [{"side": r["side"], "permission": r["permission"], "status": r["status"],
             "needed by": ", ".join(r.get("neededBy") or []), "for": "; ".join(r.get("for") or [])}
            for r in result.get("permissions") or []]
    if rows:
        con.print(rows_table(rows, title="Application permissions (Microsoft Graph)",
                             columns=["side", "permission", "status", "needed by", "for"], limit=400))
    for fix in result.get("fixes") or []:
        con.print(f"- {escape(str(fix))}")


def render_provision(result: Mapping[str, Any], con: Console | None = None) -> None:
    con = con or out()
    users = result.get("users") or []
    if not users:
        render_generic(result)
        return
    for u in users:
        reply = (u.get("reply") or {}).get("result", "")
        con.print(f"[bold]{escape(str(u.get('displayName') or u.get('sourceId', '')))}[/] "
                  f"({escape(str(u.get('sourceId', '')))}): {styled(reply)}")
        steps = []
        if u.get("import"):
            steps.append({"step": "Import user", "status": u["import"].get("status"),
                          "details": u["import"].get("description")})
        if u.get("scoping"):
            sc = u["scoping"]
            why = sc.get("description") or ""
            if sc.get("failingRule"):
                why += f" (failing rule: {sc['failingRule']})"
            steps.append({"step": "Determine if user is in scope", "status": sc.get("status"), "details": why})
        if u.get("matching"):
            steps.append({"step": "Match user between source and target system",
                          "status": u["matching"].get("status"), "details": u["matching"].get("description")})
        act = u.get("action") or {}
        step = act.get("step") or {}
        steps.append({"step": "Perform action", "status": step.get("status", act.get("status")),
                      "details": f"{act.get('title', '')}: {step.get('description') or act.get('reason', '')}"
                                 + (f" ({act['errorCode']})" if act.get("errorCode") else "")})
        con.print(rows_table(steps, columns=["step", "status", "details"], limit=600))
        mods = u.get("modifiedProperties") or []
        if mods:
            con.print(rows_table(mods, columns=["name", "old", "new"], title="modified properties"))
    if result.get("error"):
        con.print(f"[red]{escape(short(result['error'], 300))}[/]")


def render_repair(result: Mapping[str, Any]) -> None:
    con = out()
    con.print(escape(str(result.get("summary") or result.get("message") or "")))
    rows = [dict(r, UPN=r.get("oldUpn") if r.get("oldUpn") == r.get("newUpn")
                 else f"{r.get('oldUpn')} → {r.get('newUpn')}") for r in result.get("rows") or []]
    if rows:
        con.print(rows_table(rows, columns=["DisplayName", "UPN", "outcome", "why"], limit=300))
    report_paths(result.get("reports"))


def render_disable_sms(result: Mapping[str, Any]) -> None:
    con = out()
    con.print(escape(str(result.get("summary") or result.get("message") or "")))
    rows = result.get("rows") or []
    if rows:
        con.print(rows_table(rows, columns=["id", "userPrincipalName", "smsSignInStateBefore",
                                            "smsSignInStateAfter", "outcome"], limit=300))
    report_paths(result.get("reports"))


def render_user_source(result: Mapping[str, Any]) -> None:
    con = out()
    head = {k: result.get(k) for k in ("config", "instance", "directory", "kind", "cycle_id", "status", "reason",
                                       "message", "error", "users_read", "duration_s") if result.get(k) not in (None, "")}
    con.print(kv_table(head, "user-source sync"))
    counts = result.get("counts") or {}
    if counts:
        t = Table(title="changes", title_justify="left")
        for what in ("users", "groups", "memberships", "invitations"):
            t.add_column(what)
        by = {w: ", ".join(f"{k.split('_', 1)[1]} {v}" for k, v in counts.items() if k.startswith(w + "_"))
              for w in ("users", "groups", "memberships", "invitations")}
        t.add_row(*(escape(by[w]) for w in ("users", "groups", "memberships", "invitations")))
        con.print(t)
    notes = result.get("notifications") or []
    if notes:
        con.print(rows_table([n for n in notes if isinstance(n, Mapping)], "notifications",
                             columns=["kind", "subject", "recipient", "emailed"]))
    invitations = result.get("invitations") or []
    if invitations:
        states: dict[str, int] = {}
        for i in invitations:
            states[str(i.get("status"))] = states.get(str(i.get("status")), 0) + 1
        notes_seen = sorted({str(i.get("note")) for i in invitations if i.get("note")})
        con.print(f"invitations: {', '.join(f'{k} {v}' for k, v in states.items())}"
                  + (f" ({'; '.join(notes_seen[:3])})" if notes_seen else ""), markup=False)


def render_reports(result: Mapping[str, Any]) -> None:
    out().print(escape(str(result.get("message") or "")))
    report_paths(result.get("files"), f"reports of {result.get('config', '')}")


RENDERERS: dict[str, Callable[[Mapping[str, Any]], None]] = {
    "sync": render_cycle, "test-connection": render_connection, "setup": render_setup, "on-demand": render_provision,
    "repair-upn": render_repair, "disable-sms": render_disable_sms, "user-source": render_user_source,
    "report": render_reports}


def render(result: ProcedureResult) -> None:
    """The procedure's summary on stdout."""
    view = RENDERERS.get(result.procedure)
    data = result.as_dict()
    if view is None:
        render_generic(data)
    else:
        view(data)


def failure_line(result: ProcedureResult, failure: str | None = None) -> str:
    """The one error line of a failed run: what failed and how many, and the job's status; never a
    bare "Job status: Active." (the job is fine when single users failed). ``failure``: the
    message of the run's final state, when it ended Failed."""
    name = result.config
    failed_n = int(result.counts.get("failure", 0) or 0)
    job = result.job or {}
    status = f"job status {job['code']}" if job.get("code") else ""
    q = job.get("quarantine") or {}
    if q:
        status += f" ({q.get('reason')}, next attempt {q.get('nextAttempt')})"
    if failed_n:
        what = result.details.get("failures") or {}
        parts = "; ".join(", ".join(f"{k} {v:,}" for k, v in list(what.get(side, {}).items())[:4])
                          for side in ("by_action", "by_error") if what.get(side))
        detail = f"{parts}; see provisioning-log.csv" if parts else "see provisioning-log.csv"
        noun = "provisioning event" + ("s" if failed_n != 1 else "")
        return (f"{name + ': ' if name else ''}{failed_n:,} {noun} failed ({detail})"
                + (f"; {status}" if status else ""))
    message = failure or result.message
    if not message or message.startswith("Job status:"):
        message = f"{name + ': ' if name else ''}the run failed" + (f"; {status}" if status else "")
    return message
