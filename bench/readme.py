"""Put a benchmark result into README.md's "## Performance" section.

    python -m bench.readme [bench/latest.json] [--write]

Renders the machine, the command, the table and the goals of a results JSON as Markdown. With
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
        "",
        "Goals:",
        "",
        *(f"- {line}" for line in render_goals([(g["met"], g["text"]) for g in results["goals"]]).splitlines()),
    ]
    return "\n".join(lines)


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
