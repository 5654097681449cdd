"""Put a benchmark result into README.md's "## Performance" section.

    python -m bench.readme [bench/latest.json] [--write]

Renders the machine (cores, CPU, memory, load average), the command, the commit, the table (with
the SDK baseline's rows and ratios), the last 1,000,000-user and latency runs kept in the results
(``million``, ``latency``) and the goals of a results JSON as Markdown. With
``--write`` it replaces the text between ``<!-- bench:begin -->`` and ``<!-- bench:end -->`` inside
the Performance section (the prose around the markers is left alone); without, it prints it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from bench.baseline_report import readme_note as baseline_note
from bench.run import LATEST, ROOT, render_goals

BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"


def _day(stamp: str) -> str:
    return f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}" if len(stamp) >= 8 and stamp[:8].isdigit() else stamp


def render(results: dict[str, Any]) -> str:
    m = results["machine"]
    load = m.get("loadavg_start") or []
    lines = [
        f"Latest run: `{results['command']}` (via `make bench`) on {_day(results['when'])} at commit "
        f"`{results.get('commit') or '?'}`{' (engine files modified in the work tree)' if results.get('dirty') else ''}, "
        f"{results['total_s'] / 60:.1f} minutes in all. Machine: "
        f"{m['nproc']} cores (`nproc`), {m['cpu']} (/proc/cpuinfo), {m.get('mem_gb')} GB, Python "
        f"{m['python']}; load average {load[0] if load else '?'} at the start (the cores were shared "
        "with other work, so wall times are pessimistic; CPU times are the engine process's own).",
        "",
        results["table"],
        *(["", note] if (note := baseline_note(results)) else []),
        *million_section(results.get("million")),
        *latency_section(results.get("latency")),
        "",
        "Goals:",
        "",
        *(f"- {line}" for line in render_goals([(g["met"], g["text"]) for g in results["goals"]]).splitlines()),
    ]
    return "\n".join(lines)


def _load(m: dict[str, Any]) -> str:
    load = (m or {}).get("loadavg_start") or []
    return f"load average {load[0]}" if load else "load average ?"


def million_section(million: dict[str, Any] | None) -> list[str]:
    """The last ``python -m bench.run --million`` (bench/million.py), kept in latest.json."""
    if not million or not million.get("table"):
        return []
    return ["", f"1,000,000 users built in step (`{million['command'].strip()}`, on {_day(million['when'])} at "
                f"commit `{million.get('commit') or '?'}`, {million['total_s'] / 60:.1f} minutes, "
                f"{_load(million.get('machine', {}))}): no initial cycle, the tenants and the state store "
                "are built as an initial cycle leaves them, then the cycles are measured.",
            "", million["table"]]


def latency_section(latency: dict[str, Any] | None) -> list[str]:
    """The last ``python -m bench.run --latency`` (bench/latency.py), kept in latest.json."""
    if not latency or not latency.get("summary"):
        return []
    s, runs = latency["summary"], latency.get("runs_summary") or {}
    return ["", f"Change-to-target latency (`{latency['command'].strip()}`, on {_day(latency['when'])} at "
                f"commit `{latency.get('commit') or '?'}`, {_load(latency.get('machine', {}))}; "
                f"`interval_minutes: 1`, Prefect server and worker): {s['landed']} of {s['changes']} changes "
                f"landed, p50 {s['p50_s']:.1f} s, p95 {s['p95_s']:.1f} s, max {s['max_s']:.1f} s; "
                f"{runs.get('runs', '?')} flow runs in the window, started p50 {runs.get('late_p50_s')} s "
                f"after their scheduled time, each lasting p50 {runs.get('run_p50_s')} s."]


def splice(readme: str, block: str) -> str:
    if BEGIN not in readme or END not in readme:
        raise SystemExit(f"README.md has no {BEGIN} ... {END} markers in its Performance section")
    head, rest = readme.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{block}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.readme")
    ap.add_argument("results", nargs="?", type=Path, default=LATEST)
    ap.add_argument("--write", action="store_true", help="update README.md in place")
    args = ap.parse_args(argv)
    block = render(json.loads(args.results.read_text(encoding="utf-8")))
    if not args.write:
        print(block)
        return 0
    path = ROOT / "README.md"
    path.write_text(splice(path.read_text(encoding="utf-8"), block), encoding="utf-8")
    print(f"updated {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
