""".NET custom date and time format strings, for FormatDateTime's input and output formats.

Supported specifiers (invariant culture): ``y yy yyy yyyy``, ``M MM MMM MMMM``, ``d dd ddd dddd``,
``h hh H HH m mm s ss``, ``f``..``fffffff``, ``F``..``FFFFFFF``, ``t tt``, ``z zz zzz``, ``K``,
``g``/``gg``, the separators ``:`` and ``/``, quoted literals ``'...'``/``"..."``, ``\\x`` escapes and
the ``%`` single-specifier prefix. Any other character is a literal.

As in .NET ``ParseExact``, an unquoted ``Z`` in an *input* format is the UTC designator (the
documented ``"yyyyMMddHHmmss.fZ"`` relies on this); in an output format it prints ``Z``.
Parsed values are converted to UTC when they carry an offset and taken as UTC otherwise; a
format without date parts takes today's date (UTC), one without a year takes the current year.
Formats are compiled once per distinct format string (cached).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

import regex

from .dates import DateError, offset_of
from .dotnet_regex import REGEX_TIMEOUT

_SPECIFIERS = "yMdhHmsfFtzKg"
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
STYLES = ("None", "AllowLeadingWhite", "AllowTrailingWhite", "AllowInnerWhite", "AllowWhiteSpaces",
          "NoCurrentDateDefault", "AdjustToUniversal", "AssumeLocal", "AssumeUniversal",
          "RoundtripKind")
"""System.Globalization.DateTimeStyles names accepted by FormatDateTime."""


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str        # a specifier letter, "Z" (UTC designator) or "" (literal text)
    width: int = 0
    text: str = ""


@dataclass(frozen=True, slots=True)
class DateFormat:
    tokens: tuple[_Token, ...]
    regex: regex.Pattern


@dataclass(frozen=True, slots=True)
class Styles:
    strip_leading: bool = True
    strip_trailing: bool = True


DEFAULT_STYLES = Styles()  # RoundtripKind | AllowLeadingWhite | AllowTrailingWhite (the doc's default)


def parse_styles(text: str) -> Styles:
    """``"AllowWhiteSpaces, AdjustToUniversal"`` → Styles; names as System.Globalization.DateTimeStyles.

    Only the white-space flags change anything: every result is UTC anyway."""
    names = [name for name in re.split(r"[\s,|]+", text.strip()) if name]
    known = {name.lower(): name for name in STYLES}
    unknown = [name for name in names if name.lower() not in known]
    if unknown:
        raise DateError(f"unknown DateTimeStyles {', '.join(map(repr, unknown))} "
                        f"(allowed: {', '.join(STYLES)})")
    chosen = {known[name.lower()] for name in names}
    spaces = "AllowWhiteSpaces" in chosen
    return Styles(spaces or "AllowLeadingWhite" in chosen, spaces or "AllowTrailingWhite" in chosen)


@lru_cache(maxsize=512)
def compile_format(fmt: str) -> DateFormat:
    """Tokenise a custom format once; the regex is used when the format reads input."""
    if not fmt:
        raise DateError("the date format is empty")
    tokens = tuple(_tokenise(fmt))
    pattern = "".join(f"(?P<g{i}>{_token_regex(tok)})" for i, tok in enumerate(tokens))
    return DateFormat(tokens, regex.compile(pattern, regex.VERSION0))


def _tokenise(fmt: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, size = 0, len(fmt)
    while i < size:
        char = fmt[i]
        if char in _SPECIFIERS:
            end = i
            while end < size and fmt[end] == char:
                end += 1
            tokens.append(_Token(char, end - i))
            i = end
        elif char in "'\"":
            end = fmt.find(char, i + 1)
            if end < 0:
                raise DateError(f"unclosed quote {char} in date format {fmt!r}")
            tokens.append(_Token("", text=fmt[i + 1:end]))
            i = end + 1
        elif char == "\\":
            if i + 1 >= size:
                raise DateError(f"date format {fmt!r} ends with a lone backslash")
            tokens.append(_Token("", text=fmt[i + 1]))
            i += 2
        elif char == "%":
            i += 1  # "%d" means the single specifier d; the % itself prints nothing
        else:
            tokens.append(_Token("Z") if char == "Z" else _Token("", text=char))
            i += 1
    for tok in tokens:
        if tok.kind and tok.kind in "fF" and tok.width > 7:
            raise DateError(f"at most 7 fraction digits ({tok.kind * 7}) are allowed")
    return tokens


def _token_regex(tok: _Token) -> str:
    kind, width = tok.kind, tok.width
    if not kind:
        return re.escape(tok.text)
    if kind == "Z":
        return "Z|GMT"
    if kind == "t":  # AM/PM and month/day names match in any case, as .NET does
        return "(?i:[AP])" if width == 1 else "(?i:[AP]M)"
    if kind in "yMdhHms" and width <= 2:
        return r"\d{1,2}" if width == 1 else r"\d{2}"
    if kind == "y":
        return rf"\d{{{max(width, 4)}}}" if width != 3 else r"\d{3,4}"
    if kind in "Md":
        names = _MONTHS if kind == "M" else _DAYS
        return "(?i:" + "|".join(name[:3] if width == 3 else name for name in names) + ")"
    if kind in "hHms":
        return r"\d{2}"
    if kind == "f":
        return rf"\d{{{width}}}"
    if kind == "F":
        return rf"\d{{0,{width}}}"
    if kind == "z":
        return r"[+-]\d{1,2}" if width < 3 else r"[+-]\d{1,2}(?::?\d{2})?"
    if kind == "K":
        return r"(?:Z|[+-]\d{2}:?\d{2})?"
    return r"A\.?D\.?"  # g: the era


def parse_exact(text: str, fmt: DateFormat, styles: Styles, today: datetime) -> datetime:
    """.NET ``DateTime.ParseExact`` with the given styles, giving a UTC DateTime."""
    if styles.strip_leading:
        text = text.lstrip()
    if styles.strip_trailing:
        text = text.rstrip()
    try:   # "%d%d%d..." backtracks exponentially on a long value that fails: same limit as Replace
        match = fmt.regex.fullmatch(text, timeout=REGEX_TIMEOUT)
    except TimeoutError:
        raise DateError(f"reading the value with this date format took longer than {REGEX_TIMEOUT:g} s"
                        ) from None
    if match is None:
        raise DateError(f"{text!r} does not match the date format")
    fields: dict[str, str] = {}
    widths: dict[str, int] = {}
    for i, tok in enumerate(fmt.tokens):
        if tok.kind and tok.kind != "g" and not (tok.kind == "d" and tok.width > 2):
            # (the era and day names are matched but carry nothing the date needs)
            fields[tok.kind] = match.group(f"g{i}")
            widths[tok.kind] = tok.width
    return _build(fields, widths, today)


def _build(fields: dict[str, str], widths: dict[str, int], today: datetime) -> datetime:
    has_date = any(kind in fields for kind in "yMd")
    year = _year(fields["y"], widths["y"]) if "y" in fields else today.year
    month = _month(fields["M"], widths["M"]) if "M" in fields else (1 if has_date else today.month)
    day = int(fields["d"]) if "d" in fields else (1 if has_date else today.day)
    hour = int(fields.get("H") or 0)
    if "h" in fields:
        hour = int(fields["h"]) % 12
    if fields.get("t", "").upper().startswith("P"):
        hour = hour % 12 + 12
    fraction = fields.get("f") or fields.get("F") or ""
    try:
        value = datetime(year, month, day, hour, int(fields.get("m") or 0),
                         int(fields.get("s") or 0), int(fraction.ljust(7, "0")[:6]), tzinfo=UTC)
    except ValueError as exc:
        raise DateError(f"not a valid date: {exc}") from None
    zone = fields.get("z") or fields.get("K") or fields.get("Z")
    return value - offset_of(zone) if zone else value


def _year(digits: str, width: int) -> int:
    if width <= 2:  # two-digit years: .NET's TwoDigitYearMax is 2049
        short = int(digits)
        return 2000 + short if short <= 49 else 1900 + short
    return int(digits)


def _month(text: str, width: int) -> int:
    if width <= 2:
        return int(text)
    names = [name[:3].lower() if width == 3 else name.lower() for name in _MONTHS]
    return names.index(text.lower()) + 1


def format_custom(value: datetime, fmt: DateFormat) -> str:
    """.NET ``DateTime.ToString(format)`` (invariant culture) of a UTC DateTime."""
    out: list[str] = []
    for tok in fmt.tokens:
        if tok.kind and tok.kind in "fF":
            digits = f"{value.microsecond:06}0"[:tok.width]
            if tok.kind == "F":
                digits = digits.rstrip("0")
                if not digits and out and out[-1].endswith("."):
                    out[-1] = out[-1][:-1]  # .NET drops the separator of an all-zero F fraction
            out.append(digits)
        else:
            out.append(_format_token(value, tok))
    return "".join(out)


def _format_token(value: datetime, tok: _Token) -> str:
    kind, width = tok.kind, tok.width
    if not kind:
        return tok.text
    if kind == "Z":
        return "Z"
    if kind == "y":
        if width <= 2:
            return str(value.year % 100) if width == 1 else f"{value.year % 100:02}"
        return f"{value.year:0{width}}"
    if kind == "M":
        return _number_or_name(value.month, width, _MONTHS[value.month - 1])
    if kind == "d":
        return _number_or_name(value.day, width, _DAYS[value.weekday()])
    if kind in "hHms":
        number = {"h": value.hour % 12 or 12, "H": value.hour, "m": value.minute,
                  "s": value.second}[kind]
        return str(number) if width == 1 else f"{number:02}"
    if kind == "t":
        half = "AM" if value.hour < 12 else "PM"
        return half[:1] if width == 1 else half
    if kind == "z":
        return _offset_text(value.utcoffset() or timedelta(0), width)
    if kind == "K":
        offset = value.utcoffset() or timedelta(0)
        return "Z" if not offset else _offset_text(offset, 3)
    return "A.D."


def _number_or_name(number: int, width: int, name: str) -> str:
    if width <= 2:
        return str(number) if width == 1 else f"{number:02}"
    return name[:3] if width == 3 else name


def _offset_text(offset: timedelta, width: int) -> str:
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    hours, mins = divmod(abs(minutes), 60)
    if width == 1:
        return f"{sign}{hours}"
    return f"{sign}{hours:02}" if width == 2 else f"{sign}{hours:02}:{mins:02}"
