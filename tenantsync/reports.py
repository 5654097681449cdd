"""Audit reports: the CSV files of docs/contracts.md#reports and an HTML summary per configuration.

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

The summary's figures are pandas aggregations (totals per action and status over the cycles, actions
per cycle for the chart, failed events per error code and action); the page is rendered from the
Jinja2 templates in tenantsync/templates/ with autoescaping on, so no value from a directory (a
display name, a reason) is ever markup. pandas is imported when a summary is written, not with
this module: the command line and the flows import it for the CSV writers alone.
Nothing here needs Prefect; the HTML has no script and loads nothing from the network.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from . import csvsafe

if TYPE_CHECKING:
    import pandas as pd

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
# What every report of a dry run says (provisioning-log.csv rows say "Dry run: ...", cycles.csv dryRun).
DRY_RUN_NOTE = "Dry run: this describes what a cycle would do; nothing was written."
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
    rows = store.log(cfg_name, cycle_id)
    out = {"provisioning-log": write_csv(rows, LOG_COLUMNS, here / "provisioning-log.csv"),
           "cycle": write_csv([cycle_row(mine[0])], CYCLE_COLUMNS, here / "cycles.csv")}
    out.update(_config_files(store, cfg_name, base, cycles, {cycle_id: rows}))
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
    out.update(_config_files(store, cfg_name, base, cycles, by_cycle))
    return out


def _config_files(store: Any, cfg_name: str, base: Path, cycles: list[dict[str, Any]],
                  logs: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict[str, Path]:
    """The configuration-level files; ``logs``: the provisioning-log rows already read, by cycle."""
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
    out["summary"] = write_summary(cfg_name, cycles, staged, notes, base / "summary.html",
                                   log_of=lambda cid: logs[cid] if cid in logs else store.log(cfg_name, cid))
    return out


# -- HTML summary ------------------------------------------------------------------------------

SUMMARY_CYCLE_COLUMNS = ("started", "kind", "status", *ACTIONS, "failure", "skipped", "jobStatus", "quarantineReason")
NOTE_SUMMARY_COLUMNS = ("sent", "kind", "recipient", "subject")
OTHER_REPORTS = ("pending-acceptance.csv", "upn-repair.csv", "notifications.csv")
_COLOURS = {"create": "#2e7d32", "update": "#1565c0", "delete": "#6d4c41", "disable": "#f9a825",
            "stagedDelete": "#8e24aa", "other": "#9e9e9e"}


@cache
def _templates() -> Environment:
    return Environment(loader=PackageLoader("tenantsync", "templates"), autoescape=True,
                       undefined=StrictUndefined)


def _plain(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def _texts(rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> list[dict[str, str]]:
    return [{c: _plain(r.get(c)) for c in columns} for r in rows]


def _counts(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> pd.DataFrame:
    """One row per cycle, one integer column per count (a missing count is 0)."""
    import pandas as pd

    return pd.DataFrame(list(rows), columns=list(columns)).fillna(0).astype(int)


def totals(rows: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Every count (actions, statuses) summed over the cycles (cycles.csv rows)."""
    return {k: int(v) for k, v in _counts(rows, (*ACTIONS, *STATUSES)).sum().items()}


def failures_by_error_code(log_rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Failed provisioning events per error code (rows, most frequent first; no code: ``unknown``)
    and action (columns, in ACTIONS order), with their sum in ``failures``."""
    import pandas as pd

    frame = pd.DataFrame(list(log_rows), columns=["provisioningAction", "status", "errorCode"])
    failed = frame[frame["status"] == "failure"]
    codes = failed["errorCode"].fillna("").astype(str).replace("", "unknown").rename("errorCode")
    table = pd.crosstab(codes, failed["provisioningAction"])
    table = table.reindex(columns=[a for a in ACTIONS if a in table.columns]
                          + sorted(c for c in table.columns if c not in ACTIONS))
    table.insert(0, "failures", table.sum(axis=1))
    return table.sort_values("failures", ascending=False, kind="stable").reset_index()


def _failure_section(rows: Sequence[Mapping[str, Any]],
                     log_of: Callable[[str], Sequence[Mapping[str, Any]]] | None) -> dict[str, Any] | None:
    """The last cycle with failed events and its failures per error code (None: no such cycle, or no log)."""
    last = next((r for r in reversed(rows) if r.get("failure")), None)
    if last is None or log_of is None:
        return None
    table = failures_by_error_code(log_of(str(last["cycleId"])))
    if table.empty:
        return None
    columns = [str(c) for c in table.columns]
    return {"cycle_id": str(last["cycleId"]), "started": _plain(last.get("started")), "columns": columns,
            "rows": [{c: str(v) for c, v in zip(columns, values)} for values in table.itertuples(index=False)]}


def write_summary(cfg_name: str, cycles: Sequence[Mapping[str, Any]], staged: Sequence[Mapping[str, Any]],
                  notes: Sequence[Mapping[str, Any]], path: Path, *,
                  log_of: Callable[[str], Sequence[Mapping[str, Any]]] | None = None) -> Path:
    """summary.html: job state, the chart, totals, failures per error code of the last cycle with
    failures (its log read through ``log_of(cycleId)``), the cycles, pending deletions, notifications."""
    rows = [cycle_row(c) for c in cycles]
    last = rows[-1] if rows else {}
    state = last.get("jobStatus") or "NotRun"
    if last.get("quarantineReason"):
        state += f" ({last['quarantineReason']}, next attempt {cell(last.get('quarantineNextAttempt'))})"
    applied = [r for r in rows if not r.get("dryRun")]     # a dry run's counts are a plan: not in the totals
    failures = _failure_section(rows, log_of)
    page = _templates().get_template("summary.html.j2").render(
        name=cfg_name, state=state, cycle_count=len(rows), chart_cycles=CHART_CYCLES, table_cycles=TABLE_CYCLES,
        chart=chart([_said_dry(r) for r in rows[-CHART_CYCLES:]]),
        totals_columns=[*ACTIONS, *STATUSES], totals=totals(applied), dry_runs=len(rows) - len(applied),
        last_dry_run=bool(last.get("dryRun")), dry_run_note=DRY_RUN_NOTE,
        failures=failures, any_failed=any(r.get("failure") for r in rows),
        cycle_columns=SUMMARY_CYCLE_COLUMNS,
        cycles=[{"cycle_id": str(r["cycleId"]), "cells": _texts([_said_dry(r)], SUMMARY_CYCLE_COLUMNS)[0],
                 "failed": bool(r.get("failure")), "dry_run": bool(r.get("dryRun"))}
                for r in reversed(rows[-TABLE_CYCLES:])],
        staged_columns=PENDING_DELETION_COLUMNS, staged=_texts(staged, PENDING_DELETION_COLUMNS),
        note_columns=NOTE_SUMMARY_COLUMNS, notes=_texts(notes, NOTE_SUMMARY_COLUMNS),
        others=[n for n in OTHER_REPORTS if (path.parent / n).exists()],
        stamp=datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S"))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path


def _said_dry(row: Mapping[str, Any]) -> Mapping[str, Any]:
    """A cycles-table row whose kind says "(dry run)" when it was one."""
    return {**row, "kind": f"{row.get('kind') or ''} (dry run)".strip()} if row.get("dryRun") else row


# -- chart -------------------------------------------------------------------------------------

def _nice_top(value: float) -> int:
    """A readable axis maximum at or above value, whose quarters are round numbers."""
    if value <= 40:
        return max(4, math.ceil(value / 4) * 4)
    power = 10 ** (len(str(int(value))) - 1)
    for step in (1, 1.2, 1.6, 2, 3, 4, 5, 6, 8, 10):
        if step * power >= value:
            return int(step * power)
    return int(10 * power)


def _f(value: float) -> str:
    return f"{value:.1f}"


def chart(rows: Sequence[Mapping[str, Any]], *, width: int = 800, height: int = 300) -> dict[str, Any]:
    """The geometry of the chart (chart.svg.j2): stacked bars of actions per cycle (oldest left,
    total on top), a line of failures, the legend. Coordinates come formatted, one decimal."""
    left, right, top, bottom = 80, 130, 18, 92
    plot_w, plot_h = width - left - right, height - top - bottom
    actions = _counts(rows, ACTIONS)
    per_cycle = actions.sum(axis=1)
    failures = _counts(rows, ("failure",))["failure"]
    peak = _nice_top(max([*per_cycle.tolist(), *failures.tolist(), 1]))
    scale = plot_h / peak
    grid = []
    for i in range(5):
        v = peak * i / 4
        y = top + plot_h - v * scale
        grid.append({"y": _f(y), "text_y": _f(y + 4), "label": f"{v:g}"})
    n = max(len(rows), 1)
    slot = plot_w / n
    bar = max(min(slot * 0.7, 40), 1)
    every = 1 if n <= 24 else max(n // 12, 1)
    bars, labels, points = [], [], []
    for i, r in enumerate(rows):
        x = left + i * slot + (slot - bar) / 2
        y = top + plot_h
        for a in ACTIONS:
            count = int(actions.at[i, a])
            if count:
                h = count * scale
                y -= h
                bars.append({"x": _f(x), "y": _f(y), "width": _f(bar), "height": _f(h), "colour": _COLOURS[a],
                             "action": a, "count": count})
        cx = left + i * slot + slot / 2
        if n <= 24 or i % every == 0:
            when = r.get("started")
            label = (f"{r.get('kind') or ''} {when:%m-%d %H:%M}" if isinstance(when, datetime)
                     else str(r.get("kind") or i + 1))
            labels.append({"x": _f(cx), "total_y": _f(y - 3), "total": int(per_cycle[i]), "text": label.strip()})
        failed = int(failures[i])
        fy = top + plot_h - failed * scale
        points.append({"x": _f(cx), "y": _f(fy), "failures": failed, "text_x": _f(cx + 5), "text_y": _f(fy - 5)})
    legend_x = left + plot_w + 14
    return {"width": width, "height": height, "left": left, "right": left + plot_w, "axis_y": top + plot_h,
            "grid": grid, "bars": bars, "labels": labels, "label_y": top + plot_h + 12, "points": points,
            "polyline": " ".join(f"{p['x']},{p['y']}" for p in points),
            "middle_x": left + plot_w / 2, "middle_y": top + plot_h / 2,
            "legend_x": legend_x, "legend": [{"y": top + j * 18, "colour": _COLOURS[a], "action": a}
                                             for j, a in enumerate(ACTIONS)],
            "failures_y": top + len(ACTIONS) * 18 + 6}


def chart_svg(rows: Sequence[Mapping[str, Any]], *, width: int = 800, height: int = 300) -> str:
    """Actions and failures per cycle as inline SVG: no script, no external resource."""
    return _templates().get_template("chart.svg.j2").render(chart=chart(rows, width=width, height=height))
