"""How a function is described to the compiler: name, arity, and how its call is built.

Most functions are plain Python functions of their argument *values* (``impl``). A few need the
compiled arguments themselves (``build``): IIF/Switch/Coalesce evaluate only what they need,
Replace picks its mode and precompiles its regex once from which arguments are present.
``check`` validates literal arguments at compile time, so a typo in ``DateAdd("dd", ...)`` is
reported with its column when the configuration is loaded, not on the 40,000th user.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

Thunk = Callable[[Mapping[str, Any], "datetime | None"], Any]
"""A compiled (sub)expression: (user, now) -> value."""


class _Marker:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


EMPTY: Final = _Marker("EMPTY")
"""The compile-time view of an argument left out (``F(a, , c)``)."""
DYNAMIC: Final = _Marker("DYNAMIC")
"""The compile-time view of an argument known only at evaluation (attribute, call, comparison)."""


class ArgumentError(Exception):
    """Raised at compile time; ``index`` is the offending argument (None: the call itself)."""

    def __init__(self, message: str, index: int | None = None) -> None:
        super().__init__(message)
        self.message, self.index = message, index


def _no_args(index: int) -> bool:
    return False


@dataclass(frozen=True, slots=True)
class Spec:
    name: str
    min_args: int
    max_args: int | None                       # None: no upper bound
    impl: Callable[..., Any] | None = None     # called with the argument values
    build: Callable[[tuple[Thunk, ...], tuple[Any, ...]], Thunk] | None = None
    check: Callable[[tuple[Any, ...]], None] | None = None   # gets literal values / EMPTY / DYNAMIC
    needs_now: bool = False                    # impl gets the evaluation time first
    even_args: bool = False                    # Switch: the total count must be even
    result_args: Callable[[int], bool] = _no_args  # arguments whose value can be the result as is
    unsupported: str = ""                      # a reason: refused at compile time


def literal(consts: tuple[Any, ...], index: int) -> Any:
    """The literal value of argument ``index``, or None when it is absent or not a literal."""
    if index >= len(consts) or consts[index] is EMPTY or consts[index] is DYNAMIC:
        return None
    return consts[index]


def check_literal(consts: tuple[Any, ...], index: int, validate: Callable[[Any], object]) -> Any:
    """Run ``validate`` on a literal argument; turn its ValueError into an ArgumentError."""
    value = literal(consts, index)
    if value is None:
        return None
    try:
        return validate(value)
    except ValueError as exc:
        raise ArgumentError(str(exc), index) from None
