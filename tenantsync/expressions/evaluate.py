"""Compile an AST once into nested Python closures; evaluating a user is then plain calls.

Every node becomes a ``Thunk`` ``(user, now) -> value``: an attribute is ``user.get(name)``, a
literal returns its value, a call evaluates its arguments and calls the function. No AST is
walked and no type is dispatched per evaluation. All checks that do not depend on data (names,
arity, literal arguments, regexes, date formats) happen here, at compile time, with a column.

Data a function cannot process (``CDate("soon")``) raises ExpressionError at evaluation, with
the column of the innermost failing call; the engine reports it against that user only.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, NoReturn

from ..errors import ExpressionError
from .dates import format_entra
from .functions import ENUM_NAMES, FUNCTIONS
from .parser import Attr, Call, Compare, Empty, Literal, Name, Node, parse
from .spec import DYNAMIC, EMPTY, ArgumentError, Spec, Thunk
from .values import compare_values

IGNORE_FLOW = "IgnoreFlowIfNullOrEmpty"
_DATA_ERRORS = (ValueError, OverflowError)  # FunctionError, DateError, RegexError are ValueErrors

_OPERATORS: dict[str, Callable[[int], bool]] = {
    "=": lambda order: order == 0, "<>": lambda order: order != 0,
    "<": lambda order: order < 0, "<=": lambda order: order <= 0,
    ">": lambda order: order > 0, ">=": lambda order: order >= 0,
}


class CompiledExpression:
    """A parsed and checked expression, ready to evaluate many users."""

    __slots__ = ("_run", "attributes", "redacts", "text")

    def __init__(self, text: str, run: Thunk, attributes: frozenset[str], redacts: bool) -> None:
        self.text = text
        self.attributes = attributes  # source attributes referenced, for $select
        self.redacts = redacts        # logs show REDACTED_MARK instead of the value
        self._run = run

    def evaluate(self, user: Mapping[str, Any], *, now: datetime | None = None) -> Any:
        """The value for ``user`` (a dict of Graph property names), or IGNORE.

        ``now`` fixes what Now() returns (a naive datetime is taken as UTC). A DateTime result is
        returned as the service's text ``M/d/yyyy h:mm:ss tt``."""
        if now is not None and now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
        value = self._run(user, now)
        return format_entra(value) if type(value) is datetime else value

    def __repr__(self) -> str:
        return f"CompiledExpression({self.text!r})"


def compile_expression(text: str) -> CompiledExpression:
    """Parse and check ``text`` once; raise ExpressionError (with column) if it is not valid."""
    compiler = _Compiler(text)
    run = compiler.node(parse(text), result=True)
    return CompiledExpression(text, run, frozenset(compiler.attributes), compiler.redacts)


class _Compiler:
    def __init__(self, text: str) -> None:
        self.text = text
        self.attributes: set[str] = set()
        self.redacts = False

    def fail(self, message: str, column: int) -> NoReturn:
        raise ExpressionError(message, expression=self.text, column=column)

    def node(self, node: Node, *, result: bool = False) -> Thunk:
        """``result``: the node's value can become the expression's result unchanged."""
        if isinstance(node, Attr):
            self.attributes.add(node.name)
            return _attribute(node.name)
        if isinstance(node, Literal):
            return _constant(node.value)
        if isinstance(node, Empty):
            return _constant(None)
        if isinstance(node, Name):
            return _constant(self.enum(node))
        if isinstance(node, Compare):
            return self.compare(node)
        return self.call(node, result)

    def enum(self, node: Name) -> str:
        if node.name in ENUM_NAMES:
            return node.name
        if node.name in FUNCTIONS:
            self.fail(f"{node.name} is a function: call it as {node.name}(...)", node.column)
        self.fail(f"unknown name {node.name!r} (attributes are written [{node.name}], "
                  f"text \"{node.name}\")", node.column)

    def compare(self, node: Compare) -> Thunk:
        left, right = self.node(node.left), self.node(node.right)
        test = _OPERATORS[node.op]

        def run(user: Mapping[str, Any], now: datetime | None) -> bool:
            try:
                order = compare_values(left(user, now), right(user, now))
            except _DATA_ERRORS as exc:
                raise self.error(f"'{node.op}': {exc}", node.column) from None
            return order is not None and test(order)  # a null operand makes any comparison false
        return run

    def call(self, node: Call, result: bool) -> Thunk:
        spec = self.spec(node)
        if node.name == IGNORE_FLOW and not result:
            self.fail(f"{IGNORE_FLOW} must be the outermost function (or an IIF/Switch value, or "
                      "inside Redact): its result decides whether the attribute flows at all",
                      node.column)
        self.redacts |= node.name == "Redact"
        args = tuple(self.node(arg, result=result and spec.result_args(i))
                     for i, arg in enumerate(node.args))
        consts = tuple(_const_view(arg) for arg in node.args)
        try:
            if spec.check is not None:
                spec.check(consts)
            if spec.build is not None:
                return self.guard(spec.build(args, consts), node)
        except ArgumentError as exc:
            column = node.column if exc.index is None else node.args[exc.index].column
            self.fail(f"{node.name}: {exc.message}", column)
        return self.eager(spec, args, node)

    def spec(self, node: Call) -> Spec:
        spec = FUNCTIONS.get(node.name)
        if spec is None:
            self.fail(f"unknown function {node.name!r}{_suggestion(node.name)}", node.column)
        if spec.unsupported:
            self.fail(spec.unsupported, node.column)
        count = len(node.args)
        too_many = spec.max_args is not None and count > spec.max_args
        if count < spec.min_args or too_many:
            self.fail(_arity_message(spec, count), node.column)
        if spec.even_args and count % 2:
            self.fail(f"{spec.name} takes an even number of arguments (source, default value, then "
                      f"key/value pairs), got {count}", node.column)
        return spec

    def error(self, message: str, column: int) -> ExpressionError:
        return ExpressionError(message, expression=self.text, column=column)

    def guard(self, thunk: Thunk, node: Call) -> Thunk:
        """Report data errors of a built function with its name and column."""
        name, column, error = node.name, node.column, self.error

        def run(user: Mapping[str, Any], now: datetime | None) -> Any:
            try:
                return thunk(user, now)
            except _DATA_ERRORS as exc:
                raise error(f"{name}: {exc}", column) from None
        return run

    def eager(self, spec: Spec, args: tuple[Thunk, ...], node: Call) -> Thunk:
        """Evaluate every argument, then call the function. One closure shape per common arity,
        because ``*[a(...) for a in args]`` costs more than the call itself for short calls."""
        impl = spec.impl
        assert impl is not None
        if spec.needs_now:
            return self.guard(lambda user, now: impl(now, *[a(user, now) for a in args]), node)
        name, column, error = node.name, node.column, self.error
        if len(args) == 1:
            (a,) = args

            def run1(user: Mapping[str, Any], now: datetime | None) -> Any:
                try:
                    return impl(a(user, now))
                except _DATA_ERRORS as exc:
                    raise error(f"{name}: {exc}", column) from None
            return run1
        if len(args) == 2:
            a, b = args

            def run2(user: Mapping[str, Any], now: datetime | None) -> Any:
                try:
                    return impl(a(user, now), b(user, now))
                except _DATA_ERRORS as exc:
                    raise error(f"{name}: {exc}", column) from None
            return run2
        if len(args) == 3:
            a, b, c = args

            def run3(user: Mapping[str, Any], now: datetime | None) -> Any:
                try:
                    return impl(a(user, now), b(user, now), c(user, now))
                except _DATA_ERRORS as exc:
                    raise error(f"{name}: {exc}", column) from None
            return run3
        return self.guard(lambda user, now: impl(*[a(user, now) for a in args]), node)


def _attribute(name: str) -> Thunk:
    def get(user: Mapping[str, Any], now: datetime | None) -> Any:
        return user.get(name)  # absent → null; names are case-sensitive like Graph's JSON keys
    return get


def _constant(value: Any) -> Thunk:
    return lambda user, now: value


def _const_view(node: Node) -> Any:
    """What a function's compile-time check may know about an argument."""
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, Name):
        return node.name
    return EMPTY if isinstance(node, Empty) else DYNAMIC


def _suggestion(name: str) -> str:
    for known in FUNCTIONS:
        if known.lower() == name.lower():
            return f" (names are case-sensitive: did you mean {known!r}?)"
    close = difflib.get_close_matches(name, FUNCTIONS, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _arity_message(spec: Spec, count: int) -> str:
    low, high = spec.min_args, spec.max_args
    if high is None:
        wanted = f"at least {low} argument{'s' if low != 1 else ''}"
    elif low == high:
        wanted = f"{low} argument{'s' if low != 1 else ''}"
    else:
        wanted = f"{low} to {high} arguments"
    hint = ""
    if spec.name == "Replace":
        hint = ' (leave unused ones empty, e.g. Replace([mail], , "@.*", , "", , ))'
    return f"{spec.name} takes {wanted}, got {count}{hint}"
