"""Hostile expressions and values: a regular expression that backtracks exponentially costs its
user an error within a time limit, and nesting too deep is an error with a column, never a hang
or a RecursionError."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from tenantsync.config import load_config
from tenantsync.errors import ConfigError
from tenantsync.expressions import ExpressionError, compile_expression
from tenantsync.expressions.dotnet_regex import REGEX_TIMEOUT
from tenantsync.expressions.parser import MAX_DEPTH

from ..config.test_config_errors import GOOD


def _within(seconds: float, fn):
    """fn() in a thread; fail (instead of hanging the suite) when it has not answered in time."""
    out: dict[str, object] = {}

    def run() -> None:
        try:
            out["value"] = fn()
        except BaseException as exc:
            out["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    started = time.monotonic()
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"no answer within {seconds} s"
    out["elapsed"] = time.monotonic() - started
    return out


def test_the_reported_catastrophic_pattern_answers_promptly() -> None:
    expr = compile_expression('Replace([surname], , "(a+)+$", , "x", , )')
    out = _within(10, lambda: expr.evaluate({"surname": "a" * 40 + "!"}))
    assert out["value"] == "a" * 40 + "!"           # no match: the value is unchanged
    assert expr.evaluate({"surname": "a" * 41}) == "x"


@pytest.mark.parametrize("expression,column,next_user", [
    ('Replace([surname], , "(a|aa)+$", , "x", , )', 1, "Smith"),
    ('ToLower(Replace([surname], , "^(a|aa)+$", , "x", , ))', 9, "smith"),
    ('Replace([mail], , "(?<n>(a|aa)+)$", "n", , [surname], )', 1, None),   # the named-group extraction
    ('Replace([surname], , "(a|aa)+$", "n", "x", , )', None, None),         # no group n: refused at compile
])
def test_a_match_over_the_time_limit_is_an_error_for_that_user(expression: str, column: int | None,
                                                               next_user: str | None) -> None:
    if column is None:
        with pytest.raises(ExpressionError, match="no group named 'n'"):
            compile_expression(expression)
        return
    expr = compile_expression(expression)
    out = _within(10 + 20 * REGEX_TIMEOUT, lambda: expr.evaluate({"surname": "a" * 40 + "!"}))
    error = out.get("error")
    assert isinstance(error, ExpressionError), out
    assert error.column == column
    assert "did not finish within" in error.message and "rewrite the pattern" in error.message
    assert str(error).startswith(f"column {column}: Replace: the regular expression ")
    # the same expression still serves the next user
    assert expr.evaluate({"surname": "Smith", "mail": ""}) == next_user


def test_a_dynamic_pattern_is_limited_too() -> None:
    expr = compile_expression('Replace([surname], , [pattern], , "x", , )')
    out = _within(10, lambda: expr.evaluate({"surname": "a" * 40 + "!", "pattern": "(a|aa)+$"}))
    assert isinstance(out.get("error"), ExpressionError) and out["error"].column == 1


def _nested(depth: int, name: str = "ToLower") -> str:
    return f"{name}(" * depth + "[surname]" + ")" * depth


def test_nesting_up_to_the_limit_evaluates() -> None:
    assert compile_expression(_nested(MAX_DEPTH)).evaluate({"surname": "ABC"}) == "abc"
    deep_iif = "[surname]"
    for _ in range(MAX_DEPTH):
        deep_iif = f'IIF([x]="a", {deep_iif}, "b")'
    assert compile_expression(deep_iif).evaluate({"x": "a", "surname": "S"}) == "S"


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 3_000, 5_000, 100_000])
def test_nesting_deeper_than_the_limit_is_an_error_with_a_column(depth: int) -> None:
    with pytest.raises(ExpressionError) as caught:
        compile_expression(_nested(depth))
    column = MAX_DEPTH * len("ToLower(") + 1        # the first call one level too deep
    assert caught.value.column == column
    assert str(caught.value) == f"column {column}: expression nested deeper than {MAX_DEPTH} calls"


def test_a_deep_expression_in_a_configuration_names_file_line_and_column(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("TS_TEST_URL", "http://127.0.0.1:9999/v1.0")
    deep = _nested(3_000).replace('"', '\\"')
    text = GOOD.replace("""expression: 'Join(", ", [surname], [givenName])'""", f"expression: '{deep}'")
    path = tmp_path / "cfg.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:11: mappings[1].expression: ")
    assert f"column {MAX_DEPTH * 8 + 1}: expression nested deeper than {MAX_DEPTH} calls" in message
