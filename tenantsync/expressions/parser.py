"""Syntax of the Entra expression language: text → AST with columns.

Grammar (the whole text must be one expression)::

    expression := operand [ OPERATOR operand ]        -- one comparison at most, no AND/OR
    operand    := NAME "(" [ argument { "," argument } ] ")" | NAME | ATTRIBUTE | STRING | NUMBER
    argument   := expression | (nothing)              -- Replace([x], , "re", , "", , )

``F()`` has no arguments; ``F( , )`` has two empty ones. Calls nest at most MAX_DEPTH deep: the
parser, the compiler and the compiled closures all recurse once per level, and a deeper text would
end in RecursionError instead of an error with a column. Whether a name is a known function,
an allowed enum word and whether the argument count fits is checked by the compiler
(evaluate.py), which knows the function table; this module only knows the shape.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ExpressionError
from .lexer import (
    ATTR,
    COMMA,
    EOF,
    IDENT,
    LPAREN,
    NUMBER,
    OP,
    RPAREN,
    STRING,
    Token,
    tokenize,
)


@dataclass(frozen=True, slots=True)
class Attr:
    name: str
    column: int


@dataclass(frozen=True, slots=True)
class Literal:
    value: str | int | float
    column: int


@dataclass(frozen=True, slots=True)
class Name:
    """A bare word that is not called: an enum such as vbTextCompare."""
    name: str
    column: int


@dataclass(frozen=True, slots=True)
class Empty:
    """An argument left out between commas."""
    column: int


@dataclass(frozen=True, slots=True)
class Call:
    name: str
    args: tuple[Node, ...]
    column: int         # of the function name
    close_column: int   # of the closing parenthesis


@dataclass(frozen=True, slots=True)
class Compare:
    op: str
    left: Node
    right: Node
    column: int         # of the operator


Node = Attr | Literal | Name | Empty | Call | Compare

MAX_DEPTH = 100
"""Calls nested inside calls; real mappings nest a handful (IIF inside Switch inside Join)."""


def parse(text: str) -> Node:
    """Parse a whole expression; raise ExpressionError (with column) on any syntax error."""
    return _Parser(text).parse()


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.pos = 0
        self.depth = 0

    @property
    def token(self) -> Token:
        return self.tokens[self.pos]

    def advance(self) -> Token:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def fail(self, message: str, column: int) -> ExpressionError:
        return ExpressionError(message, expression=self.text, column=column)

    def parse(self) -> Node:
        if self.token.kind == EOF:
            raise self.fail("empty expression", 1)
        node = self.expression()
        if self.token.kind != EOF:
            raise self.fail(f"unexpected {self.token.describe()} after the end of the expression",
                            self.token.column)
        return node

    def expression(self) -> Node:
        left = self.operand()
        if self.token.kind != OP:
            return left
        op = self.advance()
        right = self.operand()
        if self.token.kind == OP:
            raise self.fail("comparisons cannot be chained (AND/OR do not exist: nest IIF calls)",
                            self.token.column)
        return Compare(str(op.value), left, right, op.column)

    def operand(self) -> Node:
        token = self.token
        if token.kind == IDENT:
            self.advance()
            if self.token.kind == LPAREN:
                return self.call(token)
            return Name(str(token.value), token.column)
        if token.kind == ATTR:
            self.advance()
            return Attr(str(token.value), token.column)
        if token.kind in (STRING, NUMBER):
            self.advance()
            return Literal(token.value, token.column)  # type: ignore[arg-type]
        raise self.fail(f"expected a value (function call, [attribute], \"string\" or number) "
                        f"but found {token.describe()}", token.column)

    def call(self, name: Token) -> Call:
        if self.depth >= MAX_DEPTH:
            raise self.fail(f"expression nested deeper than {MAX_DEPTH} calls", name.column)
        self.depth += 1
        try:
            return self.arguments(name)
        finally:
            self.depth -= 1

    def arguments(self, name: Token) -> Call:
        self.advance()  # "("
        args: list[Node] = []
        if self.token.kind == RPAREN:
            return Call(str(name.value), (), name.column, self.advance().column)
        while True:
            if self.token.kind in (COMMA, RPAREN):
                args.append(Empty(self.token.column))
            else:
                args.append(self.expression())
            if self.token.kind == COMMA:
                self.advance()
                continue
            if self.token.kind == RPAREN:
                return Call(str(name.value), tuple(args), name.column, self.advance().column)
            raise self.missing_separator(name)

    def missing_separator(self, name: Token) -> ExpressionError:
        token = self.token
        if token.kind == EOF:
            return self.fail(f"missing ')' to close {name.value}( opened at column {name.column}",
                             token.column)
        return self.fail(f"expected ',' or ')' in {name.value}( but found {token.describe()}",
                         token.column)
