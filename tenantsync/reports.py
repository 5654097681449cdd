"""Audit reports: the CSV files of DESIGN.md and an HTML summary per configuration.

Layout under a reports root (``data/reports`` by default, or the ``--out`` directory)::

    <root>/<configuration>/summary.html             cycles over time (inline SVG), state, links
    <root>/<configuration>/cycles.csv               one row per cycle
    <root>/<configuration>/pending-deletions.csv    staged deletions, when any
    <root>/<configuration>/notifications.csv        notifications sent, when any
    <root>/<configuration>/<cycleId>/provisioning-log.csv
    <root>/<configuration>/<cycleId>/cycles.csv     that cycle's row

Every CSV is UTF-8 with one header row, written by tenantsync.csvsafe: a text cell that a
spreadsheet would run as a formula (it starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return) or that holds a control character gets a leading ``'``, control characters are quoted,
NUL is removed.
Nothing here needs Prefect; the HTML has no script and loads nothing from the network.
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from . import csvsafe

DEFAULT_ROOT = Path("data/reports")

LOG_COLUMNS = ("activityDateTime", "id", "jobId", "cycleId", "changeId", "provisioningAction", "status",
               "errorCode", "reason", "sourceIdentity.id", "sourceIdentity.displayName",
               "targetIdentity.id", "targetIdentity.displayName", "modifiedProperties",
               "provisioningSteps", "durationInMilliseconds")
ACTIONS = ("create", "update", "delete", "disable", "stagedDelete", "other")
STATUSES = ("success", "failure", "skipped", "warning")
CYCLE_COLUMNS = ("cycleId", "kind", "dryRun", "started", "ended", "status", *ACTIONS, *STATUSES,
                 "jobStatus", "quarantineReason", "quarantineNextAttempt", "quarantineSeriesCount", "error")
PENDING_DELETION_COLUMNS = ("sourceIdentity.id", "targetIdentity.id", "displayName", "action", "reason",
                            "cycleId", "staged")
NOTIFICATION_COLUMNS = ("sent", "kind", "recipient", "subject", "body")
PENDING_ACCEPTANCE_COLUMNS = ("DisplayName", "UserPrincipalName", "id", "mail", "createdDateTime")
REPAIR_COLUMNS = ("DisplayName", "id", "mail", "oldUpn", "newUpn", "outcome", "why", "sourceId", "matchedBy")

FORMULA_STARTS = csvsafe.FORMULA_STARTS
CHART_CYCLES = 240        # bars in the chart (the most recent cycles)
TABLE_CYCLES = 500        # rows in the HTML cycles table (cycles.csv has them all)


# -- cells -------------------------------------------------------------------------------------

def neutralise(text: str) -> str:
    """A cell a spreadsheet would evaluate as a formula is written as text (OWASP CSV injection)."""
    return csvsafe.safe_text(text)


# JSON may hold these raw; in a CSV cell they would count as control characters / line breaks.
_JSON_RAW = re.compile("[\x7f-\x9f\u2028\u2029]")


def cell(value: Any) -> str:
    """One CSV cell: None is empty, lists and dicts are JSON, datetimes ISO 8601, all neutralised."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (datetime, date)):
        text = value.isoformat()
    elif isinstance(value, (list, dict, tuple)):
        text = json.dumps(value, ensure_ascii=False, default=_json_default)
        text = _JSON_RAW.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
    else:
        text = str(value)
    return neutralise(text)


def _json_default(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value)


def write_csv(rows: Iterable[Mapping[str, Any]], columns: Sequence[str], path: Path) -> Path:
    """Write rows (dicts keyed by column name) with exactly ``columns``, header first, UTF-8."""
    return csvsafe.write_rows(path, columns, ([cell(r.get(c)) for c in columns] for r in rows))


# -- rows --------------------------------------------------------------------------------------

def cycle_row(c: Mapping[str, Any]) -> dict[str, Any]:
    """A store cycle record flattened into the cycles.csv columns."""
    counts = c.get("counts") or {}
    row = {k: c.get(k) for k in ("cycleId", "kind", "dryRun", "started", "ended", "status", "jobStatus",
                                 "quarantineReason", "quarantineNextAttempt", "quarantineSeriesCount",
                                 "error")}
    row.update({k: int(counts.get(k, 0) or 0) for k in (*ACTIONS, *STATUSES)})
    return row


def _staged_row(s: Mapping[str, Any]) -> dict[str, Any]:
    return {"sourceIdentity.id": s.get("source_id"), "targetIdentity.id": s.get("target_id"),
            "displayName": s.get("displayName"), "action": s.get("action"), "reason": s.get("reason"),
            "cycleId": s.get("cycle_id"), "staged": s.get("staged")}


_ACCEPTANCE_KEYS = {"DisplayName": ("DisplayName", "displayName"),
                    "UserPrincipalName": ("UserPrincipalName", "userPrincipalName"),
                    "id": ("id", "Id"), "mail": ("mail", "Mail"),
                    "createdDateTime": ("createdDateTime", "CreatedDateTime")}


def write_pending_acceptance(rows: Iterable[Mapping[str, Any]], path: str | Path) -> Path:
    """pending-acceptance.csv: Graph user dicts (displayName, ...) or rows already keyed as the CSV."""
    flat = [{col: next((r[k] for k in keys if r.get(k) is not None), None)
             for col, keys in _ACCEPTANCE_KEYS.items()} for r in rows]
    return write_csv(flat, PENDING_ACCEPTANCE_COLUMNS, Path(path))


def write_repair_report(rows: Iterable[Mapping[str, Any]], path: str | Path) -> Path:
    """upn-repair.csv: each pending-acceptance user before and after the repair (tenantsync.ops.repair rows)."""
    return write_csv(rows, REPAIR_COLUMNS, Path(path))


# -- exports -----------------------------------------------------------------------------------

def config_dir(cfg_name: str, out_dir: str | Path | None = None) -> Path:
    return Path(out_dir or DEFAULT_ROOT) / cfg_name


def export_cycle(store: Any, cfg_name: str, cycle_id: str, out_dir: str | Path | None = None) -> dict[str, Path]:
    """Reports of one cycle, plus the configuration's cycles.csv, pending deletions, notifications
    and summary.html brought up to date. Returns {"provisioning-log": path, ...}."""
    base = config_dir(cfg_name, out_dir)
    cycles = store.cycles(cfg_name)
    mine = [c for c in cycles if c["cycleId"] == cycle_id]
    if not mine:
        raise ValueError(f"no cycle {cycle_id!r} in configuration {cfg_name!r}")
    here = base / cycle_id
    out = {"provisioning-log": write_csv(store.log(cfg_name, cycle_id), LOG_COLUMNS, here / "provisioning-log.csv"),
           "cycle": write_csv([cycle_row(mine[0])], CYCLE_COLUMNS, here / "cycles.csv")}
    out.update(_config_files(store, cfg_name, base, cycles))
    return out


def export_all(store: Any, cfg_name: str, out_dir: str | Path | None = None) -> dict[str, Path]:
    """Every cycle's reports and the configuration-level files (``tenantsync report``)."""
    base = config_dir(cfg_name, out_dir)
    cycles = store.cycles(cfg_name)
    by_cycle: dict[str, list[dict[str, Any]]] = {c["cycleId"]: [] for c in cycles}
    for row in store.log(cfg_name):
        by_cycle.setdefault(row.get("cycleId") or "no-cycle", []).append(row)
    out: dict[str, Path] = {}
    rows_by_id = {c["cycleId"]: c for c in cycles}
    for cid, rows in by_cycle.items():
        here = base / cid
        out[f"{cid}/provisioning-log"] = write_csv(rows, LOG_COLUMNS, here / "provisioning-log.csv")
        if cid in rows_by_id:
            out[f"{cid}/cycle"] = write_csv([cycle_row(rows_by_id[cid])], CYCLE_COLUMNS, here / "cycles.csv")
    out.update(_config_files(store, cfg_name, base, cycles))
    return out


def _config_files(store: Any, cfg_name: str, base: Path, cycles: list[dict[str, Any]]) -> dict[str, Path]:
    out = {"cycles": write_csv([cycle_row(c) for c in cycles], CYCLE_COLUMNS, base / "cycles.csv")}
    staged = [_staged_row(s) for s in store.staged(cfg_name)]
    notes = list(store.notifications(cfg_name))
    for name, rows, columns in (("pending-deletions", staged, PENDING_DELETION_COLUMNS),
                                ("notifications", notes, NOTIFICATION_COLUMNS)):
        path = base / f"{name}.csv"
        if rows:
            out[name] = write_csv(rows, columns, path)
        elif path.exists():
            path.unlink()       # resolved since the last export: a stale file would mislead
    out["summary"] = write_summary(cfg_name, cycles, staged, notes, base / "summary.html")
    return out


# -- HTML summary ------------------------------------------------------------------------------

def write_summary(cfg_name: str, cycles: Sequence[Mapping[str, Any]], staged: Sequence[Mapping[str, Any]],
                  notes: Sequence[Mapping[str, Any]], path: Path) -> Path:
    rows = [cycle_row(c) for c in cycles]
    e = html.escape
    last = rows[-1] if rows else {}
    state = last.get("jobStatus") or "NotRun"
    if last.get("quarantineReason"):
        state += f" ({last['quarantineReason']}, next attempt {cell(last.get('quarantineNextAttempt'))})"
    totals = {k: sum(r[k] for r in rows) for k in (*ACTIONS, *STATUSES)}
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>tenantsync: {e(cfg_name)}</title>", f"<style>{_CSS}</style></head><body>",
        f"<h1>Configuration <code>{e(cfg_name)}</code></h1>",
        f"<p>{len(rows)} cycle(s). Job status after the last cycle: <strong>{e(state)}</strong>.</p>",
        "<h2>Actions and failures per cycle</h2>",
        (f"<p>The last {CHART_CYCLES} of {len(rows)} cycles.</p>" if len(rows) > CHART_CYCLES else ""),
        chart_svg(rows[-CHART_CYCLES:]),
        "<h2>Totals</h2>", _table([totals], [*ACTIONS, *STATUSES]),
        "<h2>Cycles</h2>",
        (f'<p>The last {TABLE_CYCLES} of {len(rows)} cycles, newest first; all of them are in '
         '<a href="cycles.csv">cycles.csv</a>.</p>' if len(rows) > TABLE_CYCLES else
         '<p>Newest first; also in <a href="cycles.csv">cycles.csv</a>.</p>'),
        _cycles_table(rows[-TABLE_CYCLES:]),
    ]
    if staged:
        parts += [f"<h2>Pending deletions ({len(staged)})</h2>",
                  "<p>Held back by the accidental-deletion threshold. Approve with "
                  "<code>tenantsync sync CONFIG --allow-deletes</code> if expected. "
                  '<a href="pending-deletions.csv">pending-deletions.csv</a></p>',
                  _table(staged, PENDING_DELETION_COLUMNS)]
    if notes:
        parts += [f"<h2>Notifications ({len(notes)})</h2>",
                  _table(notes, ("sent", "kind", "recipient", "subject"))]
    others = [name for name in ("pending-acceptance.csv", "upn-repair.csv", "notifications.csv")
              if (path.parent / name).exists()]
    if others:
        parts += ["<h2>Other reports</h2>", "<ul>"] + [f'<li><a href="{n}">{n}</a></li>' for n in others] + ["</ul>"]
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
    parts.append(f"<p><small>Generated by tenantsync at {stamp} UTC; times are UTC.</small></p></body></html>")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


_CSS = ("body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;"
        "font-size:13px}td,th{border:1px solid #ccc;padding:3px 7px;text-align:left}"
        "th{background:#f2f2f2}.fail{color:#b00020;font-weight:bold}svg{max-width:100%}")

_COLOURS = {"create": "#2e7d32", "update": "#1565c0", "delete": "#6d4c41", "disable": "#f9a825",
            "stagedDelete": "#8e24aa", "other": "#9e9e9e"}


def _table(rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> str:
    e = html.escape
    head = "".join(f"<th>{e(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{e(_plain(r.get(c)))}</td>" for c in columns) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _plain(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def _cycles_table(rows: Sequence[Mapping[str, Any]]) -> str:
    e = html.escape
    cols = ("started", "kind", "status", *ACTIONS, "failure", "skipped", "jobStatus", "quarantineReason")
    head = "".join(f"<th>{e(c)}</th>" for c in cols) + "<th>reports</th>"
    body = []
    for r in reversed(rows):
        cid = e(str(r["cycleId"]))
        cells = "".join(f'<td class="fail">{e(_plain(r.get(c)))}</td>' if c == "failure" and r.get(c)
                        else f"<td>{e(_plain(r.get(c)))}</td>" for c in cols)
        link = f'<a href="{cid}/provisioning-log.csv" title="{cid}">provisioning-log.csv</a>'
        body.append(f"<tr>{cells}<td>{link}{' (dry run)' if r.get('dryRun') else ''}</td></tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _nice_top(value: float) -> int:
    """A readable axis maximum at or above value, whose quarters are round numbers."""
    if value <= 40:
        return max(4, math.ceil(value / 4) * 4)
    power = 10 ** (len(str(int(value))) - 1)
    for step in (1, 1.2, 1.6, 2, 3, 4, 5, 6, 8, 10):
        if step * power >= value:
            return int(step * power)
    return int(10 * power)


def chart_svg(rows: Sequence[Mapping[str, Any]], *, width: int = 800, height: int = 300) -> str:
    """Stacked bars of actions per cycle (oldest left, total on top) and a red line of failures,
    as inline SVG: no script, no external resource."""
    e = html.escape
    left, right, top, bottom = 80, 130, 18, 92
    plot_w, plot_h = width - left - right, height - top - bottom
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="Actions and failures per cycle" '
           'font-family="sans-serif">',
           f'<rect x="0" y="0" width="{width}" height="{height}" fill="#fff"/>']
    peak = _nice_top(max([sum(r.get(a, 0) for a in ACTIONS) for r in rows] + [r.get("failure", 0) for r in rows] + [1]))
    scale = plot_h / peak
    for i in range(5):                                     # y grid and labels
        v = peak * i / 4
        y = top + plot_h - v * scale
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="#eee"/>')
        out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="10" text-anchor="end">{v:g}</text>')
    n = max(len(rows), 1)
    slot = plot_w / n
    bar = max(min(slot * 0.7, 40), 1)
    every = 1 if n <= 24 else max(n // 12, 1)
    points = []
    for i, r in enumerate(rows):
        x = left + i * slot + (slot - bar) / 2
        y = top + plot_h
        for a in ACTIONS:
            h = r.get(a, 0) * scale
            if h:
                y -= h
                out.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                           f'fill="{_COLOURS[a]}"><title>{e(a)}: {r.get(a, 0)}</title></rect>')
        cx = left + i * slot + slot / 2
        total = sum(r.get(a, 0) for a in ACTIONS)
        if n <= 24 or i % every == 0:
            out.append(f'<text x="{cx:.1f}" y="{y - 3:.1f}" font-size="9" text-anchor="middle" '
                       f'fill="#444">{total}</text>')
            when = r.get("started")
            label = (f"{r.get('kind') or ''} {when:%m-%d %H:%M}" if isinstance(when, datetime)
                     else str(r.get("kind") or i + 1))
            ly = top + plot_h + 12
            out.append(f'<text x="{cx:.1f}" y="{ly}" font-size="9" text-anchor="end" '
                       f'transform="rotate(-35 {cx:.1f} {ly})">{e(label.strip())}</text>')
        points.append((cx, top + plot_h - r.get("failure", 0) * scale, r.get("failure", 0)))
    if points:
        out.append('<polyline fill="none" stroke="#d32f2f" stroke-width="2" points="'
                   + " ".join(f"{x:.1f},{y:.1f}" for x, y, _ in points) + '"/>')
        for x, y, f in points:
            out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="#d32f2f"><title>failures: {f}</title></circle>')
            if f:
                out.append(f'<text x="{x + 5:.1f}" y="{y - 5:.1f}" font-size="10" fill="#d32f2f" '
                           f'font-weight="bold">{f}</text>')
    else:
        out.append(f'<text x="{left + plot_w / 2}" y="{top + plot_h / 2}" text-anchor="middle" '
                   'font-size="13" fill="#777">no cycle yet</text>')
    out.append(f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#444"/>')
    lx = left + plot_w + 14
    for j, a in enumerate(ACTIONS):                        # legend
        out.append(f'<rect x="{lx}" y="{top + j * 18}" width="11" height="11" fill="{_COLOURS[a]}"/>'
                   f'<text x="{lx + 16}" y="{top + j * 18 + 10}" font-size="11">{a}</text>')
    ly = top + len(ACTIONS) * 18 + 6
    out.append(f'<line x1="{lx}" y1="{ly}" x2="{lx + 11}" y2="{ly}" stroke="#d32f2f" stroke-width="2"/>'
               f'<text x="{lx + 16}" y="{ly + 4}" font-size="11">failures</text>')
    out.append("</svg>")
    return "".join(out)
