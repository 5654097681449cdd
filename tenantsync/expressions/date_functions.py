"""The date functions: CDate, DateAdd, DateDiff, DateFromNum, NumFromDate, Now, FormatDateTime.

DateTime values are aware UTC ``datetime`` objects (see dates.py); the compiled expression turns
a DateTime result into the service's text ``M/d/yyyy h:mm:ss tt``. Date arguments may also be
given as text (the doc's DateDiff table does), which is read as CDate reads it. Empty text is
null for CDate, DateFromNum, NumFromDate and FormatDateTime, as a missing attribute is.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from .dates import (
    add_interval,
    check_interval,
    diff_interval,
    from_filetime,
    to_datetime,
    to_filetime,
)
from .dotnet_format import (
    DEFAULT_STYLES,
    compile_format,
    format_custom,
    parse_exact,
    parse_styles,
)
from .spec import check_literal, register
from .values import FunctionError, text_of, to_int, to_str


def _check_interval(consts: tuple[Any, ...]) -> None:
    check_literal(consts, 0, check_interval)


@register("CDate", 1)
def cdate(value: Any) -> datetime | None:
    return None if value == "" else to_datetime(value)


@register("DateAdd", 3, check=_check_interval)
def date_add(interval: Any, amount: Any, value: Any) -> datetime | None:
    moment = to_datetime(value)
    if moment is None:
        return None
    return add_interval(check_interval(interval), to_int(amount, "value"), moment)


@register("DateDiff", 3, check=_check_interval)
def date_diff(interval: Any, first: Any, second: Any) -> int | None:
    start, end = to_datetime(first), to_datetime(second)
    if start is None or end is None:
        return None
    return diff_interval(check_interval(interval), start, end)


@register("DateFromNum", 1)
def date_from_num(value: Any) -> datetime | None:
    return None if value is None or value == "" else from_filetime(to_int(value, "value"))


@register("NumFromDate", 1)
def num_from_date(value: Any) -> int | None:
    moment = to_datetime(value) if value != "" else None
    return None if moment is None else to_filetime(moment)


@register("Now", 0, needs_now=True)
def now_(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def _format_args(args: tuple[Any, ...]) -> tuple[Any, Any, Any, Any]:
    """FormatDateTime(source, [dateTimeStyles,] inputFormat, outputFormat): the older 3-argument
    form of the doc has no styles."""
    if len(args) == 3:
        return args[0], None, args[1], args[2]
    return args[0], args[1], args[2], args[3]


def _check_format(consts: tuple[Any, ...]) -> None:
    offset = 0 if len(consts) == 3 else 1
    if offset:
        check_literal(consts, 1, lambda v: parse_styles(str(v)))
    for index in (1 + offset, 2 + offset):
        check_literal(consts, index, lambda v: compile_format(str(v)))


@register("FormatDateTime", 3, 4, needs_now=True, check=_check_format)
def format_date_time(now: datetime | None, *args: Any) -> str | None:
    source, styles, input_format, output_format = _format_args(args)
    if source is None or source == "":
        return None
    out = compile_format(_required(output_format, "outputFormat"))
    if isinstance(source, datetime):
        return format_custom(source if source.tzinfo else source.replace(tzinfo=UTC), out)
    chosen = DEFAULT_STYLES if not styles else parse_styles(text_of(styles))
    moment = parse_exact(text_of(source), compile_format(_required(input_format, "inputFormat")),
                         chosen, now or datetime.now(UTC))
    return format_custom(moment, out)


def _required(value: Any, what: str) -> str:
    result = to_str(value)
    if not result:
        raise FunctionError(f"{what} is required")
    return result
