"""The engine (``tenantsync/``) stands on its own: it never imports Prefect, the Prefect layer
(``flows``, ``tasks``, ``blocks``) or the application around it (``app``), so the engine runs, and is
tested, without a Prefect server, and no import cycle can form between ``app`` and the engine.

Checked twice: every module's source (imports, relative ones resolved, and names handed to
``importlib.import_module`` / ``__import__`` / ``find_spec``), and by importing every module in a
fresh interpreter and looking at ``sys.modules``.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ENGINE = REPO / "tenantsync"
FORBIDDEN = ("prefect", "flows", "tasks", "blocks", "app")
DYNAMIC = ("import_module", "__import__", "find_spec")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def engine_files() -> list[Path]:
    return sorted(p for p in ENGINE.rglob("*.py") if "__pycache__" not in p.parts)


def importable(path: Path) -> bool:
    """Every engine module but the entry points (``__main__``) and Alembic's environment script,
    which runs the migrations when it is loaded (its imports are still read by the first test)."""
    return path.name != "__main__.py" and not (path.name == "env.py" and (path.parent / "versions").is_dir())


def _root(name: str) -> str:
    return name.split(".", 1)[0]


def _resolve(node: ast.ImportFrom, path: Path) -> list[str]:
    """The absolute modules of ``from ... import``, relative levels resolved against the file's
    package (``from .. import x`` names the module or attribute ``x`` of the parent package)."""
    if not node.level:
        return [node.module or ""]
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    if node.level - 1 >= len(package):
        return ["<beyond the top level>"]
    base = ".".join(package[:len(package) - (node.level - 1)])
    if node.module:
        return [f"{base}.{node.module}"]
    return [f"{base}.{a.name}" for a in node.names]


def _dynamic_name(arg: ast.expr) -> str | None:
    """The module a dynamic import names, as far as the source says (the constant start of an
    f-string); None when nothing of it is written in the source."""
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return arg.value
    if isinstance(arg, ast.JoinedStr) and arg.values and isinstance(arg.values[0], ast.Constant):
        head = str(arg.values[0].value)
        return head if "." in head else None
    return None


def forbidden_imports(path: Path) -> list[str]:
    """``module:line: what`` for each import of a forbidden package in one file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    where = path.relative_to(REPO).as_posix()
    found: list[str] = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = _resolve(node, path)
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called in DYNAMIC:
                name = _dynamic_name(node.args[0])
                if name is None:
                    found.append(f"{where}:{node.lineno}: {called}() of a name the source does not show")
                    continue
                names = [name]
        for name in names:
            if _root(name) in FORBIDDEN or name == "<beyond the top level>":
                found.append(f"{where}:{node.lineno}: imports {name}")
    return found


def test_the_engine_imports_no_prefect_layer_and_no_app() -> None:
    problems = [p for path in engine_files() for p in forbidden_imports(path)]
    assert not problems, "the engine must not import " + "/".join(FORBIDDEN) + ":\n" + "\n".join(problems)


@pytest.mark.parametrize("source, expected", [
    ("import prefect\n", "imports prefect"),
    ("from prefect.states import Completed\n", "imports prefect.states"),
    ("from flows import sync\n", "imports flows"),
    ("import tasks.stages as s\n", "imports tasks.stages"),
    ("def f():\n    from app.cli import app\n", "imports app.cli"),
    ("from ... import flows\n", "imports <beyond the top level>"),
    ("import importlib\nimportlib.import_module('blocks')\n", "imports blocks"),
    ("__import__('prefect.artifacts')\n", "imports prefect.artifacts"),
    ("from importlib import import_module\nimport_module(f'app.{x}')\n", "imports app."),
    ("from importlib import import_module\nimport_module(name)\n", "import_module() of a name the source does not show"),
])
def test_the_check_finds_each_kind_of_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str,
                                             expected: str) -> None:
    """The check itself: each way of importing a forbidden package is reported with its line."""
    package = tmp_path / "tenantsync" / "sub"
    package.mkdir(parents=True)
    module = package / "mod.py"
    module.write_text(source, encoding="utf-8")
    monkeypatch.setattr(sys.modules[__name__], "REPO", tmp_path)
    found = forbidden_imports(module)
    assert len(found) == 1 and found[0].startswith("tenantsync/sub/mod.py:") and found[0].endswith(expected), found


def test_relative_imports_inside_the_engine_are_allowed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "tenantsync" / "sub"
    package.mkdir(parents=True)
    module = package / "mod.py"
    module.write_text("from .. import errors\nfrom ..store import Store\nfrom . import other\n", encoding="utf-8")
    monkeypatch.setattr(sys.modules[__name__], "REPO", tmp_path)
    assert forbidden_imports(module) == []


def test_importing_every_engine_module_loads_no_prefect() -> None:
    modules = [module_name(p) for p in engine_files() if importable(p)]
    assert len(modules) > 50, modules
    code = textwrap.dedent(f"""
        import importlib, json, sys
        failed = {{}}
        for name in {modules!r}:
            try:
                importlib.import_module(name)
            except Exception as exc:
                failed[name] = f"{{type(exc).__name__}}: {{exc}}"
        loaded = sorted(m for m in sys.modules if m.split(".", 1)[0] in {FORBIDDEN!r})
        print(json.dumps({{"failed": failed, "loaded": loaded}}))
    """)
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "HOME": str(REPO)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, env=env,
                          timeout=240)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer["failed"] == {}, answer["failed"]
    assert answer["loaded"] == [], "importing the engine loaded " + ", ".join(answer["loaded"][:20])
