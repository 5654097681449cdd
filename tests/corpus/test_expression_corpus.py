"""Malformed mapping expressions through the real command line, as an operator types them.

Each case of ``expressions/cases.json`` is an expression (text, or a text repeated: ``{"repeat":
"ToLower(", "times": 5000, "inner": "[surname]", "close": ")"}``), optionally a source user, and
the one line the command must print: ``error: column N: message`` on stderr, nothing on stdout,
exit status 2, no file created. ``tenantsync expression`` never starts Prefect, so typer's
CliRunner runs it in-process.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from app.cli import app

CASES = json.loads((Path(__file__).parent / "expressions" / "cases.json").read_text(encoding="utf-8"))


def _text(spec: Any) -> Any:
    if isinstance(spec, dict) and "repeat" in spec:
        return spec["repeat"] * spec["times"] + spec["inner"] + spec["close"] * spec["times"]
    if isinstance(spec, dict):
        return {key: _text(value) for key, value in spec.items()}
    return spec


def test_the_corpus_is_big_enough_and_names_are_unique() -> None:
    names = [case["name"] for case in CASES]
    assert len(names) >= 24 and len(set(names)) == len(names)


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_malformed_expression_exits_2_with_one_line_naming_the_column(case: dict, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    args = ["expression"]
    if "user" in case:
        args += ["--user", json.dumps(_text(case["user"]))]
    result = CliRunner().invoke(app, [*args, "--", _text(case["expression"])])
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert result.stdout == ""
    assert result.stderr == f"error: column {case['column']}: {case['message']}\n"
    assert os.listdir(tmp_path) == []                                  # nothing created or written
