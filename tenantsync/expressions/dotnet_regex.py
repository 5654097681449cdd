""".NET regular expressions and substitutions on top of the ``regex`` package (for Replace and
the REGEX MATCH scoping operator).

Every match runs with a time limit (``regex``'s ``timeout=``, REGEX_TIMEOUT seconds): a pattern
such as ``(a|aa)+$`` backtracks exponentially on a long value, and one user's value must cost that
user an error, not hang the cycle. .NET has the same guard (Regex.MatchTimeout,
RegexMatchTimeoutException). ``regex`` runs in its version 0 mode, which is ``re``'s syntax.

Patterns: .NET named groups ``(?<name>...)`` and ``(?'name'...)`` become ``(?P<name>...)``,
``\\k<name>`` becomes ``(?P=name)``, ``\\z`` becomes ``\\Z`` and .NET's ``\\Z`` (end, or before a
final newline) becomes ``(?=\\n?\\Z)``. Everything else already means the same in both engines
for the patterns mappings use (classes, quantifiers, anchors, lookarounds, atomic groups).
Not supported (refused with a clear error): balancing groups, ``\\p{...}`` categories.

Replacements: ``$$``, ``${name}``, ``$1``, ``$&``/``$0``, ``$```, ``$'``, ``$+``, ``$_`` as in .NET;
a reference to a group the pattern does not have stays literal text, as in .NET.
Both are compiled once per distinct text (cached), and once at compile time for literals.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

import regex

Pattern = regex.Pattern[str]
Match = regex.Match[str]
Replacement = str | Callable[[Match], str]

REGEX_TIMEOUT = 0.2
"""Seconds one match (search, or a whole substitution) may take; mapping patterns on attribute
values of at most a few hundred characters need microseconds."""

_NAMED_GROUP = re.compile(r"\(\?(?:<(?![=!])([^>]*)>|'([^']*)')")


class RegexError(ValueError):
    """A pattern or replacement that cannot be used."""


class RegexTimeout(RegexError):
    """A match did not finish within REGEX_TIMEOUT (catastrophic backtracking)."""


@lru_cache(maxsize=512)
def compile_pattern(pattern: str) -> Pattern:
    try:
        return regex.compile(translate_pattern(pattern), regex.VERSION0)
    except (regex.error, re.error, ValueError, OverflowError) as exc:
        # Positions would count in the translated pattern, not the one the user wrote.
        reason = _POSITION.sub("", str(exc))
        raise RegexError(f"invalid regular expression {pattern!r}: {reason}") from None


_POSITION = re.compile(r" at position \d+.*$", re.DOTALL)


def search(pattern: Pattern, text: str) -> Match | None:
    """``pattern.search(text)`` within the time limit (RegexTimeout otherwise)."""
    try:
        return pattern.search(text, timeout=REGEX_TIMEOUT)
    except TimeoutError:
        raise _timeout(pattern) from None


def sub(pattern: Pattern, replacement: Replacement, text: str) -> str:
    """``pattern.sub(replacement, text)`` within the time limit (RegexTimeout otherwise)."""
    try:
        return pattern.sub(replacement, text, timeout=REGEX_TIMEOUT)
    except TimeoutError:
        raise _timeout(pattern) from None


def _timeout(pattern: Pattern) -> RegexTimeout:
    return RegexTimeout(f"the regular expression {pattern.pattern!r} did not finish within "
                        f"{REGEX_TIMEOUT:g} s on this value (nested quantifiers such as (a+)+ "
                        "backtrack exponentially); rewrite the pattern")


def translate_pattern(pattern: str) -> str:
    """Rewrite the .NET-only syntax of ``pattern`` into Python ``re`` syntax."""
    out: list[str] = []
    i, size, in_class = 0, len(pattern), False
    while i < size:
        char = pattern[i]
        if char == "\\" and i + 1 < size:
            i = _escape(pattern, i, out, in_class)
            continue
        if in_class:
            in_class = char != "]" or _class_starts_at(pattern, i)
            out.append(char)
        elif char == "[":
            in_class = True
            out.append(char)
        elif char == "(" and (group := _NAMED_GROUP.match(pattern, i)):
            name = group.group(1) if group.group(1) is not None else group.group(2)
            if "-" in name:
                raise RegexError(f"balancing group (?<{name}>...) is not supported")
            out.append(f"(?P<{name}>")
            i = group.end()
            continue
        else:
            out.append(char)
        i += 1
    return "".join(out)


def _class_starts_at(pattern: str, i: int) -> bool:
    """A ``]`` right after ``[`` or ``[^`` is a literal member, not the end of the class."""
    return pattern[i - 1] == "[" or (pattern[i - 1] == "^" and i >= 2 and pattern[i - 2] == "[")


def _escape(pattern: str, i: int, out: list[str], in_class: bool) -> int:
    """Copy or translate the escape at ``i``; return the index after it."""
    nxt = pattern[i + 1]
    if not in_class:
        if nxt == "k" and i + 2 < len(pattern) and pattern[i + 2] in "<'":
            close = ">" if pattern[i + 2] == "<" else "'"
            end = pattern.find(close, i + 3)
            if end > 0:
                out.append(f"(?P={pattern[i + 3:end]})")
                return end + 1
        if nxt == "z":
            out.append(r"\Z")
            return i + 2
        if nxt == "Z":
            out.append(r"(?=\n?\Z)")
            return i + 2
    if nxt in "pP":
        raise RegexError(r"Unicode categories (\p{...}) are not supported; use a character class")
    out.append(pattern[i:i + 2])
    return i + 2


_SUBSTITUTION = re.compile(r"\$(?:(\$)|\{([^}]*)\}|(\d+)|([&`'+_]))")
Part = tuple[str, "str | int"]  # ("text", text) | ("group", number or name) | ("special", "`'+_")


@lru_cache(maxsize=512)
def compile_replacement(text: str, pattern: Pattern) -> Replacement:
    """A .NET substitution string as something ``pattern.sub`` accepts: a Python template when
    only group references occur (fast path inside ``re``), else a function."""
    parts = _parse_replacement(text, pattern)
    if any(kind == "special" for kind, _ in parts):
        return _callable(parts)
    return "".join(str(value).replace("\\", "\\\\") if kind == "text" else f"\\g<{value}>"
                   for kind, value in parts)


def _parse_replacement(text: str, pattern: Pattern) -> list[Part]:
    parts: list[Part] = []

    def add_text(chunk: str) -> None:
        if chunk:
            if parts and parts[-1][0] == "text":
                parts[-1] = ("text", str(parts[-1][1]) + chunk)
            else:
                parts.append(("text", chunk))

    pos = 0
    for match in _SUBSTITUTION.finditer(text):
        add_text(text[pos:match.start()])
        pos = match.end()
        dollar, name, number, special = match.groups()
        if dollar:
            add_text("$")
        elif special:
            parts.append(("group", 0) if special == "&" else ("special", special))
        elif name is not None:
            ref = name if name in pattern.groupindex else (
                int(name) if name.isdigit() and int(name) <= pattern.groups else None)
            if ref is None:
                add_text(match.group())  # no such group: .NET keeps the text as is
            else:
                parts.append(("group", ref))
        else:
            # .NET takes the longest run of digits that names an existing group.
            end = next((n for n in range(len(number), 0, -1)
                        if int(number[:n]) <= pattern.groups), 0)
            if end:
                parts.append(("group", int(number[:end])))
                add_text(number[end:])
            else:
                add_text(match.group())  # no such group: .NET keeps the text as is
    add_text(text[pos:])
    return parts


def _callable(parts: list[Part]) -> Callable[[Match], str]:
    def replace(match: Match) -> str:
        return "".join(_render(match, kind, value) for kind, value in parts)
    return replace


def _render(match: Match, kind: str, value: str | int) -> str:
    if kind == "text":
        return str(value)
    if kind == "group":
        return match.group(value) or ""
    whole = match.string
    if value == "`":
        return whole[:match.start()]
    if value == "'":
        return whole[match.end():]
    if value == "_":
        return whole
    last = match.lastindex  # "$+": the last group captured
    return (match.group(last) or "") if last else ""
