"""The Entra expression functions, one small function each, registered by (case-sensitive) name.

Decisions where functions-for-customizing-application-data is silent or ambiguous
(docs/entra-behaviour.md#expression-language):
- Null in, null out: a text function whose source is null returns null, except where the doc
  says otherwise (Left and Word return ""). Join skips null and "" sources (the documented
  ``Join(", ", "", [surname], [givenName])`` → ``Doe, John``) and returns null when nothing is
  left. A multi-valued source given to a text transform (Append, PCase, Replace, StripSpaces,
  NormalizeDiacritics, ToLower, ToUpper) is transformed value by value.
- Coalesce skips null *and* empty values ("" and []), like Join; when nothing qualifies it
  returns the last argument's value as is, so ``Coalesce([mail], "")`` still yields "".
- Split trims every item and drops empty ones: ``"PermissionSetOne, PermissionSetTwo"`` →
  ``["PermissionSetOne", "PermissionSetTwo"]`` as the doc shows.
- InStr returns 0 when not found (VB), null when either string is null.
- Item is 1-based; an index outside 1..Count gives null (a literal index < 1 is refused).
- IIF: the condition is read like CBool (True/False in any case, non-zero numbers); a comparison
  with a null operand is false for every operator, ``<>`` included, so a null attribute in a
  condition takes the valueIfFalse branch (the doc only says "the condition check fails"). This
  is more permissive than the service, where IsPresent/IsNullOrEmpty conditions are unsupported.
- Switch compares as case-sensitive text; a null source matches the key "".
- IgnoreFlowIfNullOrEmpty may only stand where its value becomes the result (top level, an IIF
  branch, a Switch value/default, inside Redact): anywhere else the sentinel would leak into text.
- Redact marks the whole expression (``CompiledExpression.redacts``) wherever it appears.
- AltSecIdFromNetId (CTS internal, output UNCONFIRMED): returns the string ``"NetId:" + netId``.
  ``netId`` is not a Graph property: the engine passes the source object id under that key.
- AppRoleAssignmentsComplex, SingleAppRoleAssignment, SelectUniqueValue are refused at compile
  time: they do not apply to cross-tenant synchronization.
"""

from __future__ import annotations

import base64
import random
import string
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from . import (
    date_functions,  # noqa: F401  (its decorators add CDate, DateAdd, ... to the table)
    text,
)
from .replace import build_replace
from .spec import (
    ENUM_NAMES,
    FUNCTIONS,
    ArgumentError,
    Spec,
    Thunk,
    check_literal,
    literal,
    register,
    register_builder,
)
from .values import (
    IGNORE,
    FunctionError,
    is_null_or_empty,
    text_of,
    to_bool,
    to_int,
    to_str,
)

__all__ = ["ENUM_NAMES", "FUNCTIONS"]  # the complete table, once this module is imported


def per_value(impl: Callable[..., Any]) -> Callable[..., Any]:
    """Null source → null; a multi-valued source → the function applied to each value."""
    def apply(source: Any, *rest: Any) -> Any:
        if source is None:
            return None
        if type(source) is list:
            return [impl(text_of(item), *rest) for item in source if item is not None]
        return impl(text_of(source), *rest)
    apply.__name__ = impl.__name__
    return apply


# --- text -------------------------------------------------------------------------------------

@register("Append", 2)
@per_value
def append(source: str, suffix: Any) -> str:
    return source + (to_str(suffix) or "")


@register("Join", 2, None)
def join(separator: Any, *sources: Any) -> str | None:
    parts: list[str] = []
    for source in sources:
        if type(source) is str:  # the common case first: Join is in most mappings
            if source:
                parts.append(source)
        elif type(source) is list:
            parts.extend(text_of(value) for value in source if value is not None and value != "")
        elif source is not None:
            parts.append(text_of(source))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else (to_str(separator) or "").join(parts)


@register("Left", 2)
def left(source: Any, count: Any) -> str:
    if source is None:
        return ""
    size = to_int(count, "numChars")
    return text_of(source) if size < 0 else text_of(source)[:size]


@register("Mid", 3)
def mid(source: Any, start: Any, length: Any) -> str | None:
    if source is None:
        return None
    first, size = to_int(start, "start"), to_int(length, "length")
    if first < 1 or size < 0:
        raise FunctionError("start must be 1 or more and length 0 or more")
    return text_of(source)[first - 1:first - 1 + size]


@register("Word", 3)
def word(source: Any, number: Any, delimiters: Any) -> str:
    index = to_int(number, "wordNumber")
    if source is None or index < 1:
        return ""
    separators = to_str(delimiters) or ""
    words = [text_of(source)]
    if separators:  # map every delimiter onto the first one, then split once
        first = separators[0]
        words = words[0].translate({ord(c): first for c in separators[1:]}).split(first)
    words = [w for w in words if w]  # consecutive delimiters do not make empty words
    return words[index - 1] if index <= len(words) else ""


@register("StripSpaces", 1)
@per_value
def strip_spaces(source: str) -> str:
    return source.replace(" ", "")


@register("NormalizeDiacritics", 1)
@per_value
def normalize_diacritics(source: str) -> str:
    return text.normalize_diacritics(source)


def _culture(value: Any) -> str | None:
    culture = to_str(value)
    if culture:
        text.check_culture(culture)
    return culture or None


def _check_culture(consts: tuple[Any, ...]) -> None:
    check_literal(consts, 1, lambda v: text.check_culture(str(v)))


@register("ToLower", 1, 2, check=_check_culture)
@per_value
def to_lower(source: str, culture: Any = None) -> str:
    return text.to_lower(source, _culture(culture))


@register("ToUpper", 1, 2, check=_check_culture)
@per_value
def to_upper(source: str, culture: Any = None) -> str:
    return text.to_upper(source, _culture(culture))


@register("PCase", 1, 2)
@per_value
def pcase(source: str, separators: Any = None) -> str:
    lowered = text.to_lower(source)
    chosen = to_str(separators)
    return text.title_case_with(lowered, chosen) if chosen else text.title_case(lowered)


@register("Split", 2, check=lambda c: check_literal(c, 1, _delimiter))
def split(source: Any, delimiter: Any) -> list[str] | None:
    if source is None:
        return None
    parts = text_of(source).split(_delimiter(to_str(delimiter)))
    return [part.strip() for part in parts if part.strip()]


def _delimiter(value: Any) -> str:
    if not value:
        raise FunctionError("the delimiter must not be empty")
    return str(value)


def _compare_mode(value: Any) -> bool:
    """True for a case-insensitive (vbTextCompare) search."""
    if value is None or value in ("vbBinaryCompare", 0, "0"):
        return False
    if value in ("vbTextCompare", 1, "1"):
        return True
    raise FunctionError(f"compareType {value!r} is not vbBinaryCompare or vbTextCompare")


@register("InStr", 2, 4, check=lambda c: check_literal(c, 3, _compare_mode))
def in_str(value: Any, search: Any, start: Any = None, compare: Any = None) -> int | None:
    haystack, needle = to_str(value), to_str(search)
    if haystack is None or needle is None:
        return None
    first = 1 if start is None else to_int(start, "start")
    if first < 1:
        raise FunctionError("start must be 1 or more")
    if _compare_mode(compare):  # simple case mapping keeps positions unchanged
        haystack, needle = text.to_lower(haystack), text.to_lower(needle)
    return haystack.find(needle, first - 1) + 1


@register("ConvertToBase64", 1)
def convert_to_base64(source: Any) -> str | None:
    value = to_str(source)
    return None if value is None else base64.b64encode(value.encode("utf-16-le")).decode("ascii")


@register("ConvertToUTF8Hex", 1)
def convert_to_utf8_hex(source: Any) -> str | None:
    value = to_str(source)
    return None if value is None else value.encode("utf-8").hex().upper()


@register("CStr", 1)
def cstr(value: Any) -> str | None:
    return to_str(value)


@register("AltSecIdFromNetId", 1)
def alt_sec_id_from_net_id(net_id: Any) -> str | None:
    value = to_str(net_id)
    return None if not value else f"NetId:{value}"


register_builder("Replace", 7, 7, build_replace)


# --- logic ------------------------------------------------------------------------------------

@register("CBool", 1)
def cbool(value: Any) -> bool:
    return to_bool(value)


@register("Not", 1)
def not_(value: Any) -> bool:
    return not (value is True or (type(value) is str and value.strip().lower() == "true"))


@register("IsNull", 1)
def is_null(value: Any) -> bool:
    return value is None or value == []


@register("IsNullOrEmpty", 1)
def is_null_or_empty_fn(value: Any) -> bool:
    return is_null_or_empty(value)


@register("IsPresent", 1)
def is_present(value: Any) -> bool:
    return not is_null_or_empty(value)


@register("IsString", 1)
def is_string(value: Any) -> bool:
    return isinstance(value, (str, int, float, datetime))  # bool is an int


@register("IgnoreFlowIfNullOrEmpty", 1)
def ignore_flow_if_null_or_empty(value: Any) -> Any:
    return IGNORE if is_null_or_empty(value) else value


@register("Redact", 1, result_args=lambda i: i == 0)
def redact(value: Any) -> Any:
    return value  # the value flows; the compiler marks the expression as redacted for logs


def build_iif(args: tuple[Thunk, ...], consts: tuple[Any, ...]) -> Thunk:
    condition, if_true, if_false = args

    def run(user: Any, now: Any) -> Any:
        flag = condition(user, now)
        if flag is True or (flag is not False and to_bool(flag)):
            return if_true(user, now)
        return if_false(user, now)
    return run


def build_coalesce(args: tuple[Thunk, ...], consts: tuple[Any, ...]) -> Thunk:
    def run(user: Any, now: Any) -> Any:
        value = None
        for arg in args:
            value = arg(user, now)
            if not is_null_or_empty(value):
                return value
        return value  # the last argument is the default, even when it is ""
    return run


def _switch_key(value: Any) -> str:
    return text_of(value)  # null matches the key ""


def build_switch(args: tuple[Thunk, ...], consts: tuple[Any, ...]) -> Thunk:
    source, default = args[0], args[1]
    pairs = list(zip(args[2::2], args[3::2], strict=True))  # even count: checked
    keys = consts[2::2]
    if all(isinstance(key, str) for key in keys):  # all keys literal: one dict lookup
        table: dict[str, Thunk] = {}
        for key, (_, value) in zip(keys, pairs, strict=True):
            table.setdefault(key, value)
        return lambda user, now: table.get(_switch_key(source(user, now)), default)(user, now)

    def run(user: Any, now: Any) -> Any:
        wanted = _switch_key(source(user, now))
        for key, value in pairs:
            if _switch_key(key(user, now)) == wanted:
                return value(user, now)
        return default(user, now)
    return run


register_builder("IIF", 3, 3, build_iif, result_args=lambda i: i in (1, 2))
register_builder("Coalesce", 1, None, build_coalesce)
register_builder("Switch", 4, None, build_switch, even_args=True,
                 result_args=lambda i: i == 1 or (i >= 3 and i % 2 == 1))


# --- numbers and multi-valued attributes -------------------------------------------------------

@register("BitAnd", 2)
def bit_and(first: Any, second: Any) -> int | None:
    if first is None or second is None:
        return None
    return to_int(first, "value1") & to_int(second, "value2")


@register("Count", 1)
def count(values: Any) -> int:
    if values is None:
        return 0
    return len(values) if type(values) is list else 1


def _check_index(consts: tuple[Any, ...]) -> None:
    index = literal(consts, 1)
    if isinstance(index, int) and index < 1:
        raise ArgumentError("Item is 1-based: the first value is Item([attribute], 1)", 1)


@register("Item", 2, check=_check_index)
def item(values: Any, index: Any) -> Any:
    if values is None:
        return None
    position = to_int(index, "index")
    items = values if type(values) is list else [values]
    return items[position - 1] if 1 <= position <= len(items) else None


@register("RemoveDuplicates", 1)
def remove_duplicates(values: Any) -> Any:
    if type(values) is not list:
        return values
    unique: list[Any] = []
    for value in values:
        if value not in unique:  # a list scan: values may be unhashable (dicts), lists are short
            unique.append(value)
    return unique


# --- generated values -------------------------------------------------------------------------

@register("Guid", 0)
def guid() -> str:
    return str(uuid.uuid4())


SPECIAL_CHARACTERS = "~!@#$%^&*_-+=`|\\(){}[]:;\"'<>,.?/"
"""The special characters of the Windows password complexity rules the doc points to."""
_RANDOM = random.SystemRandom()  # the result may become an initial password


def _check_random(consts: tuple[Any, ...]) -> None:
    """With every argument literal, an impossible request is a configuration error."""
    if all(literal(consts, i) is not None for i in range(5)):
        try:
            random_string(*(literal(consts, i) for i in range(len(consts))))
        except FunctionError as exc:
            raise ArgumentError(str(exc)) from None


@register("RandomString", 5, 6, check=_check_random)
def random_string(length: Any, numbers: Any, special: Any, capital: Any, lower: Any,
                  avoid: Any = None) -> str:
    size = to_int(length, "Length")
    minimums = [to_int(v, name) for v, name in ((numbers, "MinimumNumbers"),
                (special, "MinimumSpecialCharacters"), (capital, "MinimumCapital"),
                (lower, "MinimumLowerCase"))]
    if not 1 <= size <= 256 or min(minimums) < 0 or sum(minimums) > size:
        raise FunctionError("Length must be 1..256, the minimums 0 or more and their sum at most "
                            f"Length (got {size} and {minimums})")
    excluded = set(to_str(avoid) or "")
    pools = ["".join(c for c in pool if c not in excluded) for pool in
             (string.digits, SPECIAL_CHARACTERS, string.ascii_uppercase, string.ascii_lowercase)]
    if any(minimum and not pool for minimum, pool in zip(minimums, pools, strict=True)):
        raise FunctionError("CharactersToAvoid excludes every character of a required kind")
    chars = [_RANDOM.choice(pool)
             for minimum, pool in zip(minimums, pools, strict=True) for _ in range(minimum)]
    everything = "".join(pools)
    chars += [_RANDOM.choice(everything) for _ in range(size - len(chars))]
    _RANDOM.shuffle(chars)
    return "".join(chars)


# --- not for cross-tenant synchronization ------------------------------------------------------

_NOT_CTS = "is not supported for cross-tenant synchronization"
for _name, _low, _high in (("AppRoleAssignmentsComplex", 1, 1), ("SingleAppRoleAssignment", 1, 1),
                           ("SelectUniqueValue", 2, None)):
    FUNCTIONS[_name] = Spec(_name, _low, _high, unsupported=f"{_name} {_NOT_CTS}")
