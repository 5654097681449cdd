"""docs/internals.md matches the code: every module it names exists, and every module of the engine
(tenantsync/), the Prefect layer (flows/, tasks/, blocks/) and the command line (app/) is named.

How the page names a module:
- a path: ``tenantsync/cycle.py``, ``store/locks.py`` (under tenantsync/), ``flows/_server.py``;
- a dotted name: ``tenantsync.expressions.dotnet_regex``, ``flows.sync.sync_cycle`` (a module, or an
  attribute of one);
- a bare file name in the Layout block: its entry's folder (``  stages/   scope.py mapping.py``) or,
  at the top of an entry, the block's root (``tenantsync/``, ``flows/``); elsewhere a bare name must
  be the name of some module;
- Alembic revisions are named by their folder (``store/migrations/``); ``__init__.py`` and
  ``__main__.py`` by their package.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "internals.md"
PACKAGES = ("tenantsync", "flows", "tasks", "blocks", "app")

PATH = re.compile(r"(?<![\w./-])((?:[A-Za-z_][\w-]*/)+[\w-]+\.py)\b")
BARE = re.compile(r"(?<![\w./-])([A-Za-z_]\w*\.py)\b")
DOTTED = re.compile(r"(?<![\w./-])((?:tenantsync|flows|tasks|blocks|app)(?:\.[A-Za-z_]\w*)+)")
FOLDER = re.compile(r"^((?:[\w-]+/)+)$")


def modules() -> set[str]:
    """Every module the page must name, as a path from the repository root."""
    found = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            rel = path.relative_to(ROOT).as_posix()
            if path.name in ("__init__.py", "__main__.py") or "/migrations/" in rel:
                continue
            found.add(rel)
    return found


def _existing(candidates: list[str]) -> str | None:
    return next((c for c in candidates if (ROOT / c).is_file()), None)


def _resolve_path(text: str, folder: str | None = None) -> str | None:
    """A path as written (``store/locks.py``): from the repository root, tenantsync/ or the entry's folder."""
    return _existing([text, f"tenantsync/{text}"] + ([f"{folder}/{text}"] if folder else []))


def _resolve_dotted(name: str) -> str | None:
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        base = "/".join(parts[:end])
        hit = _existing([f"{base}.py", f"{base}/__init__.py"])
        if hit:
            return hit
    return None


def _layout_blocks(text: str) -> list[str]:
    """The untagged code blocks (``` alone): the Layout of folders and modules."""
    return re.findall(r"^```\n(.*?)^```", text, re.MULTILINE | re.DOTALL)


def read_doc() -> tuple[set[str], list[str]]:
    """(modules the page names, names that point at nothing)."""
    text = DOC.read_text(encoding="utf-8")
    named: set[str] = set()
    stale: list[str] = []
    by_name: dict[str, set[str]] = {}
    for module in modules():
        by_name.setdefault(module.rsplit("/", 1)[-1], set()).add(module)

    for block in _layout_blocks(text):
        root = folder = None
        for line in block.splitlines():
            if not line.strip():
                continue
            indent = len(line) - len(line.lstrip())
            first = line.split()[0]
            if indent == 0 and FOLDER.match(first):           # "tenantsync/", "flows/"
                root = folder = first.rstrip("/")
            elif indent <= 2 and root:                        # an entry: "  stages/  ..." or "  cycle.py ..."
                folder = f"{root}/{first.rstrip('/')}" if FOLDER.match(first) else root
                if FOLDER.match(first) and not (ROOT / folder).is_dir():
                    stale.append(f"layout: {folder}/")
            for m in PATH.finditer(line):
                hit = _resolve_path(m.group(1), folder)
                if hit:
                    named.add(hit)
                else:
                    stale.append(f"layout: {m.group(1)}")
            for m in BARE.finditer(line):
                hit = _existing([f"{folder}/{m.group(1)}"]) if folder else None
                if hit:
                    named.add(hit)
                else:
                    stale.append(f"layout ({folder}/): {m.group(1)}")

    for number, line in enumerate(text.splitlines(), 1):
        for m in PATH.finditer(line):
            hit = _resolve_path(m.group(1))
            if hit:
                named.add(hit)
            elif not m.group(1).startswith(("tests/", "bench/", "data/")) or not (ROOT / m.group(1)).exists():
                stale.append(f"line {number}: {m.group(1)}")
        for m in DOTTED.finditer(line):
            if m.group(1).endswith(".py"):                   # a file name (app.py), not a dotted name
                continue
            hit = _resolve_dotted(m.group(1))
            if hit and hit.count("/") + (0 if hit.endswith("__init__.py") else 1) >= 2:
                named.add(hit)
            else:
                stale.append(f"line {number}: {m.group(1)}")
        for m in BARE.finditer(line):
            owners = by_name.get(m.group(1), set())
            if not owners:
                stale.append(f"line {number}: {m.group(1)}")
            elif len(owners) == 1:
                named |= owners
        for m in re.finditer(r"(?<![\w./-])((?:[\w-]+/)*migrations)/", line):
            hit = _existing([f"{p}/{m.group(1)}/env.py" for p in ("", "tenantsync")])
            if hit:
                named.add(hit.rsplit("/", 1)[0] + "/")
    return named, stale


def test_every_module_the_page_names_exists() -> None:
    _, stale = read_doc()
    assert not stale, "docs/internals.md names what does not exist:\n" + "\n".join(sorted(set(stale)))


def test_every_module_is_named_in_the_page() -> None:
    named, _ = read_doc()
    missing = sorted(m for m in modules() if m not in named)
    assert not missing, "docs/internals.md does not name:\n" + "\n".join(missing)


def test_migrations_folders_are_named() -> None:
    named, _ = read_doc()
    folders = {p.parent.relative_to(ROOT).as_posix() + "/" for package in PACKAGES
               for p in (ROOT / package).rglob("migrations/env.py")}
    assert folders <= named, sorted(folders - named)
