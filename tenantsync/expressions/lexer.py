"""Tokens of the Entra expression language, each with its 1-based column.

Columns count characters from the start of the expression text (a line break counts as one
character), which is what an error message points at.

- ``[attributeName]``: an attribute; the name is taken verbatim (case-sensitive).
- ``"text"``: a string; ``\\"`` and ``\\\\`` are escapes. A backslash before any other character
  is kept as is, so a regex written with single backslashes (``"\\d+"``) still means ``\\d+``.
- Numbers: ``42``, ``-10``, ``1.5`` and Visual Basic hex ``&HF7``.
- Bare identifiers: function names and enum words such as ``vbBinaryCompare``.
- ``,`` ``(`` ``)`` and the comparison operators ``= <> > >= < <=``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from ..errors import ExpressionError

ATTR: Final = "attribute"
STRING: Final = "string"
NUMBER: Final = "number"
IDENT: Final = "identifier"
COMMA: Final = ","
LPAREN: Final = "("
RPAREN: Final = ")"
OP: Final = "operator"
EOF: Final = "end"

OPERATORS: Final = ("<>", ">=", "<=", "=", ">", "<")


@dataclass(frozen=True, slots=True)
class Token:
    kind: str
    value: object
    column: int
    text: str  # the source text of the token, for error messages

    def describe(self) -> str:
        return "the end of the expression" if self.kind == EOF else repr(self.text)


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens; the last one is always EOF."""
    tokens: list[Token] = []
    pos, size = 0, len(text)
    while pos < size:
        char = text[pos]
        if char.isspace():
            pos += 1
            continue
        token = _read_token(text, pos)
        tokens.append(token)
        pos += len(token.text)
    tokens.append(Token(EOF, None, size + 1, ""))
    return tokens


def _read_token(text: str, pos: int) -> Token:
    char = text[pos]
    if char == "[":
        return _attribute(text, pos)
    if char == '"':
        return _string(text, pos)
    if _is_digit(char) or (char == "-" and _is_digit(text[pos + 1:pos + 2])):
        return _number(text, pos)
    if char == "&":
        return _hex(text, pos)
    if char.isalpha() or char == "_":
        end = pos + 1
        while end < len(text) and (text[end].isalnum() or text[end] == "_"):
            end += 1
        return Token(IDENT, text[pos:end], pos + 1, text[pos:end])
    if char in ",()":
        return Token(char, char, pos + 1, char)
    return _operator(text, pos)


def _is_digit(char: str) -> bool:
    return len(char) == 1 and "0" <= char <= "9"  # ASCII only: str.isdigit accepts "٣" and "²"


def _fail(message: str, text: str, pos: int) -> ExpressionError:
    return ExpressionError(message, expression=text, column=pos + 1)


def _attribute(text: str, pos: int) -> Token:
    end = text.find("]", pos + 1)
    bad = next((i for i in range(pos + 1, end if end >= 0 else len(text))
                if text[i] in '["\n,()'), None)
    if end < 0 or bad is not None:
        raise _fail("unclosed attribute: missing ']' after the attribute name", text, pos)
    name = text[pos + 1:end]
    if not name.strip():
        raise _fail("empty attribute name '[]'", text, pos)
    if name != name.strip():
        raise _fail(f"attribute name {name!r} has spaces around it; write [{name.strip()}]",
                    text, pos)
    return Token(ATTR, name, pos + 1, text[pos:end + 1])


def _string(text: str, pos: int) -> Token:
    chars: list[str] = []
    i = pos + 1
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text) and text[i + 1] in '"\\':
            chars.append(text[i + 1])
            i += 2
        elif char == '"':
            return Token(STRING, "".join(chars), pos + 1, text[pos:i + 1])
        else:
            chars.append(char)
            i += 1
    raise _fail('unclosed string: missing closing \'"\' (write \\" for a quote inside a string)',
                text, pos)


def _number(text: str, pos: int) -> Token:
    end = pos + 1
    while end < len(text) and _is_digit(text[end]):
        end += 1
    if text[end:end + 1] == "." and _is_digit(text[end + 1:end + 2]):
        end += 1
        while end < len(text) and _is_digit(text[end]):
            end += 1
        return Token(NUMBER, float(text[pos:end]), pos + 1, text[pos:end])
    if end < len(text) and (text[end].isalpha() or text[end] == "_"):
        raise _fail(f"invalid number {text[pos:end + 1]!r}", text, pos)
    return Token(NUMBER, int(text[pos:end]), pos + 1, text[pos:end])


def _hex(text: str, pos: int) -> Token:
    end = pos + 2
    while end < len(text) and text[end] in "0123456789abcdefABCDEF":
        end += 1
    if text[pos + 1:pos + 2] not in ("H", "h") or end == pos + 2:
        raise _fail("'&' starts a hex number such as &HF7", text, pos)
    return Token(NUMBER, int(text[pos + 2:end], 16), pos + 1, text[pos:end])


def _operator(text: str, pos: int) -> Token:
    for op in OPERATORS:
        if text.startswith(op, pos):
            if op == "=" and text.startswith("==", pos):
                raise _fail("'==' is not an operator; use '=' to compare", text, pos)
            return Token(OP, op, pos + 1, op)
    if text.startswith("!=", pos):
        raise _fail("'!=' is not an operator; use '<>' for 'not equal'", text, pos)
    hint = " (AND/OR do not exist: nest IIF calls)" if text[pos] in "&|" else ""
    raise _fail(f"unexpected character {text[pos]!r}{hint}", text, pos)
