"""The repository's layout rules: every test folder a package, benchmarks out of tests/, engine
modules small enough to read (docs/internals.md)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAX_ENGINE_LINES = 450


def test_every_test_folder_is_a_package():
    folders = {p.parent for p in (ROOT / "tests").rglob("test_*.py")}
    missing = sorted(str(f.relative_to(ROOT)) for f in folders if not (f / "__init__.py").exists())
    assert not missing, f"test folders without __init__.py: {missing}"


def test_no_benchmark_script_lives_in_tests():
    found = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests").rglob("bench_*.py"))
    assert not found, f"benchmarks belong in bench/: {found}"


def test_engine_modules_stay_small():
    big = sorted((n, str(p.relative_to(ROOT))) for p in (ROOT / "tenantsync").rglob("*.py")
                 if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_ENGINE_LINES)
    assert not big, f"engine modules over {MAX_ENGINE_LINES} lines: {big}"
