"""Replace(source, oldValue, regexPattern, regexGroupName, replacementValue,
replacementAttributeName, template): five functions in one, chosen by which arguments are given.

The mode is decided at compile time from which arguments are present (not empty), so a wrong
combination is a configuration error with a column, and a literal pattern is compiled once:

1. oldValue + replacementValue: every oldValue in source becomes replacementValue.
2. oldValue + template: every oldValue in template becomes the source value.
3. regexPattern + replacementValue: regex replace; ``${name}``/``$1`` refer to groups.
4. regexPattern + regexGroupName + replacementValue: what the named group matched is replaced
   (the rest of each match stays).
5. regexPattern + regexGroupName + replacementAttributeName: the source if it has a value,
   otherwise the named group of the first match in the replacement attribute (null: no match).

All comparisons are case-sensitive. A null source gives null (mode 5 aside); a multi-valued
source is replaced value by value. A replacement value that evaluates to null counts as "".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .dotnet_regex import (
    Match,
    Pattern,
    RegexError,
    Replacement,
    compile_pattern,
    compile_replacement,
    search,
    sub,
)
from .spec import EMPTY, ArgumentError, Thunk, check_literal, literal
from .values import FunctionError, is_null_or_empty, text_of, to_str

SOURCE, OLD, PATTERN, GROUP, VALUE, ATTRIBUTE, TEMPLATE = range(7)

USAGE = ("Replace needs one of: oldValue + replacementValue; oldValue + template; "
         "regexPattern + replacementValue; regexPattern + regexGroupName + replacementValue; "
         "regexPattern + regexGroupName + replacementAttributeName")


def build_replace(args: tuple[Thunk, ...], consts: tuple[Any, ...]) -> Thunk:
    given = {i for i in range(1, 7) if consts[i] is not EMPTY}
    if given == {OLD, VALUE}:
        return _plain(args)
    if given == {OLD, TEMPLATE}:
        return _template(args)
    pattern = _static_pattern(consts)
    if given == {PATTERN, VALUE}:
        return _regex(args, consts, pattern)
    if given in ({PATTERN, GROUP, VALUE}, {PATTERN, GROUP, ATTRIBUTE}):
        _check_group(consts, pattern)
        if VALUE in given:
            return _regex_group(args, pattern)
        return _extract(args, pattern)
    raise ArgumentError(USAGE)


def _static_pattern(consts: tuple[Any, ...]) -> Pattern | None:
    pattern: Pattern | None = check_literal(consts, PATTERN,
                                                    lambda text: compile_pattern(str(text)))
    return pattern


def _check_group(consts: tuple[Any, ...], pattern: Pattern | None) -> None:
    name = literal(consts, GROUP)
    if pattern is not None and name is not None and str(name) not in pattern.groupindex:
        raise ArgumentError(f"the pattern has no group named {name!r}", GROUP)


def _each(source: Any, change: Callable[[str], str]) -> Any:
    """Apply ``change`` to a single value or to every value of a multi-valued attribute."""
    if type(source) is list:
        return [change(text_of(item)) for item in source if item is not None]
    return change(text_of(source))


def _plain(args: tuple[Thunk, ...]) -> Thunk:
    source, old, value = args[SOURCE], args[OLD], args[VALUE]

    def run(user: Any, now: Any) -> Any:
        text = source(user, now)
        find = to_str(old(user, now))
        if text is None or not find:
            return text
        new = to_str(value(user, now)) or ""
        return _each(text, lambda item: item.replace(find, new))
    return run


def _template(args: tuple[Thunk, ...]) -> Thunk:
    source, old, template = args[SOURCE], args[OLD], args[TEMPLATE]

    def run(user: Any, now: Any) -> Any:
        text = to_str(source(user, now))
        frame = to_str(template(user, now))
        find = to_str(old(user, now))
        if text is None or frame is None:
            return None
        return frame.replace(find, text) if find else frame
    return run


def _pattern_of(static: Pattern | None, thunk: Thunk, user: Any, now: Any
                ) -> Pattern | None:
    if static is not None:
        return static
    text = to_str(thunk(user, now))
    try:
        return compile_pattern(text) if text else None
    except RegexError as exc:
        raise FunctionError(str(exc)) from None


def _regex(args: tuple[Thunk, ...], consts: tuple[Any, ...], static: Pattern | None
           ) -> Thunk:
    source, pattern, value = args[SOURCE], args[PATTERN], args[VALUE]
    static_value = literal(consts, VALUE)
    fixed: Replacement | None = None
    if static is not None and static_value is not None:
        fixed = compile_replacement(str(static_value), static)

    def run(user: Any, now: Any) -> Any:
        text = source(user, now)
        regex = _pattern_of(static, pattern, user, now)
        if text is None or regex is None:
            return text
        replacement = fixed if fixed is not None else compile_replacement(
            to_str(value(user, now)) or "", regex)
        return _each(text, lambda item: sub(regex, replacement, item))
    return run


def _regex_group(args: tuple[Thunk, ...], static: Pattern | None) -> Thunk:
    source, pattern, group, value = args[SOURCE], args[PATTERN], args[GROUP], args[VALUE]

    def run(user: Any, now: Any) -> Any:
        text = source(user, now)
        regex = _pattern_of(static, pattern, user, now)
        if text is None or regex is None:
            return text
        name = _group_name(regex, group(user, now))
        new = to_str(value(user, now)) or ""
        return _each(text, lambda item: sub(regex, _swap_group(name, new), item))
    return run


def _swap_group(name: str, new: str) -> Callable[[Match], str]:
    def swap(match: Match) -> str:
        if match.start(name) < 0:
            return match.group()  # the group took no part in this match
        whole, base = match.group(), match.start()
        return whole[:match.start(name) - base] + new + whole[match.end(name) - base:]
    return swap


def _extract(args: tuple[Thunk, ...], static: Pattern | None) -> Thunk:
    source, pattern, group, other = args[SOURCE], args[PATTERN], args[GROUP], args[ATTRIBUTE]

    def run(user: Any, now: Any) -> Any:
        text = source(user, now)
        if not is_null_or_empty(text):
            return text
        regex = _pattern_of(static, pattern, user, now)
        fallback = to_str(other(user, now))
        if regex is None or fallback is None:
            return None
        match = search(regex, fallback)
        return match.group(_group_name(regex, group(user, now))) if match else None
    return run


def _group_name(regex: Pattern, name: Any) -> str:
    text = to_str(name)
    if text not in regex.groupindex:
        raise FunctionError(f"the pattern has no group named {text!r}")
    return text_of(text)
