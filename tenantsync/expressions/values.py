"""The value model shared by every function: what null, empty, text, number and boolean mean.

Values travelling through an expression are plain Python objects:
- ``None`` is null (an attribute absent from the user dict, or an empty argument);
- ``str``, ``int``, ``float``, ``bool`` as in the Graph JSON;
- ``list`` for multi-valued attributes (and the result of ``Split``);
- an aware UTC ``datetime`` for the DateTime values of CDate, DateAdd, DateFromNum and Now
  (rendered as ``M/d/yyyy h:mm:ss tt`` wherever text is needed, and at the top level);
- ``dict`` only for Graph reference objects such as ``manager`` (``{"id": ...}``).
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any, Final

from .dates import DateError, format_entra, to_datetime


class FunctionError(ValueError):
    """A function met data it cannot process; the evaluator adds the function name and column."""


class _Ignore:
    """The type of ``IGNORE``: compared by identity, readable in reprs and logs."""

    def __repr__(self) -> str:
        return "IGNORE"

    def __reduce__(self) -> str:
        return "IGNORE"  # pickles back to the module's one instance


IGNORE: Final = _Ignore()
"""IgnoreFlowIfNullOrEmpty met null or empty: the target attribute is dropped from the flow."""

REDACTED_MARK: Final = "[Redact]"
"""What logs show instead of the value of an expression that uses Redact()."""

IGNORED_MARK: Final = "[IgnoreFlow]"
"""What format_value prints for IGNORE (the attribute is not sent at all)."""


def is_null_or_empty(value: Any) -> bool:
    """Null, ``""`` and an empty multi-valued attribute (``[]``) all count as "no value"."""
    return value is None or value == "" or (type(value) is list and not value)


def to_str(value: object) -> str | None:
    """Text form of a single value, as .NET ``ToString`` would give it; null stays null."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format_float(value)
    if isinstance(value, datetime):
        return format_entra(value)
    if isinstance(value, dict) and isinstance(value.get("id"), str):
        return str(value["id"])  # a Graph reference (manager): its object id, as CStr does
    if isinstance(value, (list, tuple)):
        raise FunctionError("expects a single value but got a multi-valued attribute "
                            "(use Item, Join or Count)")
    raise FunctionError(f"cannot use a {type(value).__name__} value as text")


def text_of(value: object) -> str:
    """``to_str`` for a value already known not to be null (null would give "")."""
    return to_str(value) or ""


def format_float(value: float) -> str:
    """Like .NET ``Double.ToString()``: ``2`` not ``2.0``, shortest round-trip digits otherwise."""
    if math.isfinite(value) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def to_int(value: Any, what: str) -> int:
    """An integer argument; numeric text is accepted because attributes are often strings."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return math.trunc(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            try:
                number = float(text)
            except ValueError:
                number = math.nan
            if math.isfinite(number):
                return math.trunc(number)
    if value is None:
        raise FunctionError(f"{what} is required but is null")
    raise FunctionError(f"{what} must be a whole number, got {value!r}")


def to_number(value: Any) -> int | float | None:
    """A number for comparisons, or None when the value is not numeric."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            pass
        try:
            number = float(text)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def parse_bool(value: Any) -> bool | None:
    """True/False from a boolean or its text (any case, as .NET ``Boolean.Parse``); else None."""
    if type(value) is bool:
        return value
    if type(value) is str:
        text = value.strip().lower()
        if text == "true":
            return True
        if text == "false":
            return False
    return None


def to_bool(value: Any) -> bool:
    """CBool and IIF conditions: booleans, "True"/"False", non-zero numbers; null is false."""
    if value is None:
        return False
    flag = parse_bool(value)
    if flag is not None:
        return flag
    number = to_number(value) if type(value) is not bool else None
    if number is not None:
        return number != 0
    raise FunctionError(f"cannot convert {value!r} to a boolean "
                        "(expected True/False, a number or a comparison)")


def compare_values(left: Any, right: Any) -> int | None:
    """Order of two values for = <> < <= > >= (-1, 0, 1), or None when either is null.

    Booleans compare with "True"/"False" text (any case), numbers numerically when the other
    side reads as a number, DateTimes as dates; everything else as case-sensitive ordinal text
    (the same rule as Switch). Values that do not convert fall back to text comparison."""
    if left is None or right is None:
        return None
    if type(left) is str and type(right) is str:
        return (left > right) - (left < right)
    if type(left) is list or type(right) is list:
        raise FunctionError("cannot compare a multi-valued attribute (use Item or Count)")
    pair: tuple[Any, Any] | None = None
    if type(left) is bool or type(right) is bool:
        pair = (parse_bool(left), parse_bool(right))
    elif isinstance(left, datetime) or isinstance(right, datetime):
        try:
            pair = (to_datetime(left), to_datetime(right))
        except DateError:
            pair = None
    elif type(left) in (int, float) or type(right) in (int, float):
        pair = (to_number(left), to_number(right))
    if pair is None or pair[0] is None or pair[1] is None:
        pair = (to_str(left), to_str(right))
    first: Any = pair[0]
    second: Any = pair[1]
    return int(first > second) - int(first < second)


def format_value(value: Any) -> str:
    """How the command line prints a result: text as is, ``True``/``False``, lists as JSON,
    DateTime as ``M/d/yyyy h:mm:ss tt``, null as ``null`` and IGNORE as ``[IgnoreFlow]``."""
    if value is IGNORE:
        return IGNORED_MARK
    if value is None:
        return "null"
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, ensure_ascii=False, default=_json_default)
    text = to_str(value)
    return "" if text is None else text


def _json_default(value: Any) -> Any:
    """JSON has no DateTime: print it the way Entra prints dates."""
    if isinstance(value, datetime):
        return format_entra(value)
    return repr(value)
