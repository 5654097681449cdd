"""The function table and how a function is described to the compiler: name, arity, and how
its call is built.

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
Builder = Callable[[tuple[Thunk, ...], tuple[Any, ...]], Thunk]
"""Builds the thunk of a call from its compiled arguments and their compile-time view."""


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
    build: Builder | None = None
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


# The function table: every module of functions adds to it with these decorators.
FUNCTIONS: dict[str, Spec] = {}
ENUM_NAMES = frozenset({"vbBinaryCompare", "vbTextCompare"})
"""Bare words allowed as arguments; they evaluate to their own name."""


def register(name: str, min_args: int, max_args: int | None = -1, **options: Any
             ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Add the decorated value function to the table (max_args -1: same as min_args)."""
    def add(impl: Callable[..., Any]) -> Callable[..., Any]:
        upper = min_args if max_args == -1 else max_args
        FUNCTIONS[name] = Spec(name, min_args, upper, impl=impl, **options)
        return impl
    return add


def register_builder(name: str, min_args: int, max_args: int | None, build: Builder,
                     **options: Any) -> None:
    """Add a function whose call is built from its compiled arguments (see Spec.build)."""
    FUNCTIONS[name] = Spec(name, min_args, max_args, build=build, **options)
