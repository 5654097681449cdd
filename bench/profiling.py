"""Reading profiles of the engine: cProfile stats (main thread) and py-spy raw samples (all threads)."""

from __future__ import annotations

import pstats
import re
import shutil
import sys
from collections import Counter
from pathlib import Path
from typing import Any

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>.*?)(?::(?P<line>\d+))?\)$")


def pyspy_path() -> str | None:
    """The py-spy executable next to this interpreter, or on PATH (None: not installed)."""
    here = Path(sys.executable).parent / "py-spy"
    if here.exists():
        return str(here)
    return shutil.which("py-spy")


def _short(path: str) -> str:
    for marker in ("/site-packages/", "/lib/python3"):
        if marker in path:
            return path.split(marker, 1)[1]
    for marker in ("/tenantsync/", "/bench/"):
        if marker in path:
            return marker.strip("/") + "/" + path.split(marker, 1)[1]
    return path


def cprofile_top(path: Path, limit: int = 25) -> dict[str, Any]:
    """Top functions by own time and by cumulative time (tenantsync's own code first)."""
    stats = pstats.Stats(str(path))
    total = stats.total_tt  # type: ignore[attr-defined]  # set by pstats.Stats, missing from typeshed
    rows = []
    for (file, line, func), (_cc, nc, tt, ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        rows.append({"where": f"{_short(file)}:{line}", "func": func, "calls": nc,
                     "own_s": round(tt, 4), "cum_s": round(ct, 4)})
    by_own = sorted(rows, key=lambda r: -r["own_s"])[:limit]
    ours = [r for r in rows if r["where"].startswith(("tenantsync/", "bench/"))]
    by_cum = sorted(ours, key=lambda r: -r["cum_s"])[:limit]
    return {"total_s": round(total, 3), "by_own_time": by_own, "tenantsync_by_cumulative": by_cum}


def pyspy_top(path: Path, limit: int = 25) -> dict[str, Any]:
    """Aggregate py-spy's collapsed stacks: own samples per line and per function, and inclusive
    samples per tenantsync function."""
    own_line: Counter[str] = Counter()
    own_func: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    total = 0
    for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count = raw.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        parsed = [_parse(f) for f in stack.split(";")]
        frames = [f for f in parsed if f is not None]
        if not frames:
            continue
        func, file, line = frames[-1]
        own_line[f"{_short(file)}:{line} {func}"] += n
        own_func[f"{_short(file)} {func}"] += n
        seen = set()
        for func, file, _line in frames:
            key = f"{_short(file)} {func}"
            if key.startswith(("tenantsync/", "bench/")) and key not in seen:
                seen.add(key)
                incl[key] += n
    pct = lambda n: round(100 * n / total, 1) if total else 0.0
    return {"samples": total,
            "own_by_line": [{"where": k, "pct": pct(v)} for k, v in own_line.most_common(limit)],
            "own_by_function": [{"where": k, "pct": pct(v)} for k, v in own_func.most_common(limit)],
            "tenantsync_inclusive": [{"where": k, "pct": pct(v)} for k, v in incl.most_common(limit)]}


def _parse(frame: str) -> tuple[str, str, str] | None:
    m = _FRAME.match(frame.strip())
    if not m:
        return None
    return m.group("func"), m.group("file"), m.group("line") or "?"


def render(label: str, n: int, entry: dict[str, Any]) -> str:
    out = [f"# profile of {label} at N={n:,}"]
    if "pyspy" in entry:
        p = entry["pyspy"]
        out.append(f"\n## py-spy (all threads, {p['samples']} samples; wall under py-spy "
                   f"{entry.get('wall_s_under_pyspy')} s)")
        out.append("\n### own time by line")
        out += [f"{r['pct']:5.1f} %  {r['where']}" for r in p["own_by_line"]]
        out.append("\n### own time by function")
        out += [f"{r['pct']:5.1f} %  {r['where']}" for r in p["own_by_function"]]
        out.append("\n### tenantsync functions, inclusive")
        out += [f"{r['pct']:5.1f} %  {r['where']}" for r in p["tenantsync_inclusive"]]
    c = entry.get("cprofile")
    if c:
        out.append(f"\n## cProfile (main thread; {c['total_s']} s profiled; wall under cProfile "
                   f"{entry.get('wall_s_under_cprofile')} s)")
        out.append("\n### by own time")
        out += [f"{r['own_s']:8.3f} s own {r['cum_s']:8.3f} s cum {r['calls']:>9} calls  "
                f"{r['where']} {r['func']}" for r in c["by_own_time"]]
        out.append("\n### tenantsync by cumulative time")
        out += [f"{r['cum_s']:8.3f} s cum {r['own_s']:8.3f} s own {r['calls']:>9} calls  "
                f"{r['where']} {r['func']}" for r in c["tenantsync_by_cumulative"]]
    return "\n".join(out) + "\n"
