"""DateTime the way the provisioning service (a .NET service running in UTC) handles it.

- Every DateTime is an aware UTC ``datetime``; text is rendered ``M/d/yyyy h:mm:ss tt`` (invariant
  culture, e.g. ``3/16/2020 7:00:00 AM``), which is what CDate, DateAdd, DateFromNum and Now show.
- Reading text (CDate, and date arguments given as text) accepts ISO 8601 with the XML-schema
  forms the HR connectors send (``2020-03-16-07:00``: a date with an offset and no time), with a
  space or ``T`` before the time, and the service's own ``M/d/yyyy h:mm:ss tt``. A value with an
  offset is converted to UTC; a value without one is taken as UTC (the service runs in UTC).
- DateAdd/DateDiff follow Visual Basic: DateAdd clamps the day at the end of a shorter month;
  DateDiff counts calendar boundaries crossed (days = difference of the dates, weeks = Sundays
  crossed, months = year*12+month difference, hours/minutes/seconds = clock boundaries crossed).
- FILETIME (DateFromNum/NumFromDate): 100-ns ticks since 1601-01-01 UTC; Python keeps
  microseconds, so the last tick digit is dropped when reading and is 0 when writing.
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)
_TICKS_PER_DAY = 864_000_000_000

INTERVALS = ("yyyy", "m", "d", "ww", "h", "n", "s")
"""DateAdd/DateDiff interval names as documented (matched case-insensitively, as in VB)."""


class DateError(ValueError):
    """Text that is not a date, or a date computation outside the DateTime range."""


def format_entra(value: datetime) -> str:
    """``M/d/yyyy h:mm:ss tt`` in UTC: how the service prints a DateTime."""
    if value.tzinfo is not None and value.utcoffset():
        value = value.astimezone(UTC)
    hour12 = value.hour % 12 or 12
    half = "AM" if value.hour < 12 else "PM"
    return f"{value.month}/{value.day}/{value.year} {hour12}:{value.minute:02}:{value.second:02} {half}"


_OFFSET = r"(?P<tz>Z|z|[+-]\d{2}(?::?\d{2})?)"
_ISO = re.compile(
    r"(?P<y>\d{4})-(?P<mo>\d{1,2})-(?P<d>\d{1,2})"
    r"(?:[Tt ](?P<h>\d{1,2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:[.,](?P<f>\d{1,7}))?)?)?"
    rf"\s*{_OFFSET}?")
_US = re.compile(
    r"(?P<mo>\d{1,2})/(?P<d>\d{1,2})/(?P<y>\d{4})"
    r"(?:\s+(?P<h>\d{1,2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:\.(?P<f>\d{1,7}))?)?"
    r"(?:\s*(?P<tt>[AaPp][Mm]))?)?"
    rf"\s*{_OFFSET}?")


def parse_datetime(text: str) -> datetime:
    """Read a date/time text (see module doc) as a UTC DateTime."""
    stripped = text.strip()
    match = _ISO.fullmatch(stripped) or _US.fullmatch(stripped)
    if match is None:
        raise DateError(f"cannot read {text!r} as a date (expected ISO 8601 such as "
                        "2021-08-24T10:00:00Z or 2020-03-16-07:00, or M/d/yyyy h:mm:ss tt)")
    parts = match.groupdict()
    hour = int(parts["h"] or 0)
    if parts.get("tt"):
        if not 1 <= hour <= 12:
            raise DateError(f"hour {hour} is not valid with AM/PM in {text!r}")
        hour = hour % 12 + (12 if parts["tt"].upper() == "PM" else 0)
    try:
        value = datetime(int(parts["y"]), int(parts["mo"]), int(parts["d"]), hour,
                         int(parts["mi"] or 0), int(parts["s"] or 0),
                         int((parts["f"] or "0").ljust(7, "0")[:6]), tzinfo=UTC)
    except ValueError as exc:
        raise DateError(f"{text!r} is not a valid date: {exc}") from None
    return value - offset_of(parts["tz"])


def offset_of(text: str | None) -> timedelta:
    """``Z``, ``+08:00``, ``-0700``, ``+8`` → the offset east of UTC (subtract it to get UTC)."""
    if not text or text in "Zz" or text == "GMT":
        return timedelta(0)
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    hours, minutes = (digits[:-2], digits[-2:]) if len(digits) > 2 else (digits, "0")
    if int(hours) > 14 or int(minutes) > 59:
        raise DateError(f"time zone offset {text!r} is out of range")
    return sign * timedelta(hours=int(hours), minutes=int(minutes))


def to_datetime(value: Any) -> datetime | None:
    """A DateTime argument: a DateTime value, or text that reads as one; null stays null."""
    if value is None or isinstance(value, datetime):
        if isinstance(value, datetime) and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value
    if isinstance(value, str):
        return parse_datetime(value)
    raise DateError(f"expected a date, got {value!r}")


def from_filetime(ticks: int) -> datetime:
    """AD FILETIME (100-ns ticks since 1601-01-01 UTC) → DateTime, as DateTime.FromFileTimeUtc."""
    if ticks < 0:
        raise DateError(f"{ticks} is not a valid FILETIME (negative)")
    try:
        return FILETIME_EPOCH + timedelta(microseconds=ticks // 10)
    except OverflowError:
        raise DateError(f"{ticks} is beyond the last representable date "
                        "(AD uses 9223372036854775807 for 'never')") from None


def to_filetime(value: datetime) -> int:
    """DateTime → AD FILETIME ticks (exact integer arithmetic, no float rounding)."""
    elapsed = value - FILETIME_EPOCH
    if elapsed < timedelta(0):
        raise DateError(f"{format_entra(value)} is before 1601-01-01, which FILETIME cannot hold")
    return elapsed.days * _TICKS_PER_DAY + elapsed.seconds * 10_000_000 + elapsed.microseconds * 10


def check_interval(interval: Any) -> str:
    """Normalise an interval name; raise for anything but yyyy m d ww h n s."""
    name = interval.lower() if isinstance(interval, str) else None
    if name not in INTERVALS:
        raise DateError(f"interval {interval!r} is not one of {', '.join(INTERVALS)}")
    return name


def add_interval(interval: str, amount: int, value: datetime) -> datetime:
    """VB DateAdd: calendar units for years/months (day clamped), fixed lengths for the rest."""
    try:
        if interval in ("yyyy", "m"):
            return _add_months(value, amount * 12 if interval == "yyyy" else amount)
        unit = {"d": timedelta(days=1), "ww": timedelta(weeks=1), "h": timedelta(hours=1),
                "n": timedelta(minutes=1), "s": timedelta(seconds=1)}[interval]
        return value + unit * amount
    except OverflowError:
        raise DateError("the result is outside the range of dates (years 1 to 9999)") from None


def _add_months(value: datetime, months: int) -> datetime:
    index = value.year * 12 + value.month - 1 + months
    year, month = divmod(index, 12)
    if not 1 <= year <= 9999:
        raise OverflowError
    day = min(value.day, calendar.monthrange(year, month + 1)[1])
    return value.replace(year=year, month=month + 1, day=day)


def diff_interval(interval: str, first: datetime, second: datetime) -> int:
    """VB DateDiff: boundaries of ``interval`` crossed going from ``first`` to ``second``."""
    if interval == "yyyy":
        return second.year - first.year
    if interval == "m":
        return (second.year - first.year) * 12 + second.month - first.month
    if interval == "d":
        return (second.date() - first.date()).days
    if interval == "ww":
        return (_sunday_of(second) - _sunday_of(first)).days // 7
    unit = {"h": timedelta(hours=1), "n": timedelta(minutes=1), "s": timedelta(seconds=1)}[interval]
    # Floor division on the distance from a fixed origin counts the boundaries crossed.
    return (second - FILETIME_EPOCH) // unit - (first - FILETIME_EPOCH) // unit


def _sunday_of(value: datetime) -> date:
    """The Sunday starting the week of ``value`` (VB's default first day of the week)."""
    day = value.date()
    return day - timedelta(days=(day.weekday() + 1) % 7)
