"""OData query options: $filter (parse, evaluate, plan index lookups), $select, $orderby, $top.

$filter grammar (the subset Graph accepts on directory objects):
  expr    := and ('or' and)*
  and     := unary ('and' unary)*
  unary   := 'not' unary | '(' expr ')' | call | comparison
  call    := ('startswith' | 'endswith') '(' path ',' literal ')' | path '/any(' var ':' expr ')'
  compare := path ('eq'|'ne'|'gt'|'ge'|'lt'|'le') literal | path 'in' '(' literal, ... ')'
  literal := 'string' (quote doubled to escape) | true | false | null | number
String comparisons are case-insensitive, as on Entra directory objects.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tenantsync.emulator.limits import MAX_FILTER_CHARS, MAX_FILTER_DEPTH, MAX_FILTER_TERMS
from tenantsync.emulator.schema import PropertyNames, PropertySet


class ODataError(ValueError):
    """A query option Graph would refuse; `code` is the Graph error code to answer with."""

    def __init__(self, message: str, code: str = "BadRequest") -> None:
        super().__init__(message)
        self.code = code


# Node shapes (tuples keep evaluation cheap):
#   ("and", a, b) ("or", a, b) ("not", a) ("cmp", op, path, value) ("in", path, values)
#   ("func", name, path, value) ("any", path, var, body)
Node = tuple

_TOKEN = re.compile(r"""
    \s*(?:
      (?P<str>'(?:[^']|'')*')
    | (?P<num>-?\d+(?:\.\d+)?)(?![\w-])
    | (?P<name>[A-Za-z_][\w.]*(?:/[A-Za-z_][\w.]*)*)
    | (?P<punct>[(),:])
    )""", re.VERBOSE)

_COMPARE = {"eq", "ne", "gt", "ge", "lt", "le"}
_ADVANCED_OPS = {"ne", "not", "endswith"}      # Graph serves these only as advanced queries


@dataclass
class Filter:
    """A parsed $filter: a predicate over plain dicts plus what the planner needs."""

    text: str
    node: Node
    predicate: Callable[[dict], bool]
    properties: set[str] = field(default_factory=set)
    operators: set[str] = field(default_factory=set)

    @property
    def needs_advanced(self) -> bool:
        """True when Graph requires ConsistencyLevel: eventual and $count=true for it."""
        return bool(self.operators & _ADVANCED_OPS)

    def candidates(self, lookup: Callable[[str, Any], set[str] | None]) -> set[str] | None:
        """Ids that may match, from index lookups (`lookup(prop, value)`), or None (scan all)."""
        return _plan(self.node, lookup)

    def id_values(self) -> list[str] | None:
        """For `id eq 'a' or id eq 'b'` (delta's only filter): the ids, else None."""
        ids: list[str] = []

        def walk(node: Node) -> bool:
            if node[0] == "or":
                return walk(node[1]) and walk(node[2])
            if node[0] == "cmp" and node[1] == "eq" and node[2] == "id" \
                    and isinstance(node[3], str):
                ids.append(node[3])
                return True
            if node[0] == "in" and node[1] == "id":
                ids.extend(str(v) for v in node[2])
                return True
            return False

        return ids if walk(self.node) else None


class _Parser:
    def __init__(self, text: str, props: PropertyNames) -> None:
        self.text = text
        self.props = props
        self.tokens = self._tokenize(text)
        self.pos = 0
        self.properties: set[str] = set()
        self.operators: set[str] = set()
        self.lambda_vars: list[str] = []
        self.depth = 0                         # nesting: parentheses, not, any()/all()
        self.terms = 0                         # comparisons and functions

    def nest(self) -> None:
        self.depth += 1
        if self.depth > MAX_FILTER_DEPTH:      # OData's URI parser words it so
            raise ODataError(f"Invalid filter clause: The recursion limit has been exceeded "
                             f"(the emulator accepts {MAX_FILTER_DEPTH} levels of nesting).")

    def term(self) -> None:
        self.terms += 1
        if self.terms > MAX_FILTER_TERMS:
            raise ODataError(f"Invalid filter clause: too many terms (the emulator accepts "
                             f"{MAX_FILTER_TERMS} comparisons in one $filter).")

    @staticmethod
    def _tokenize(text: str) -> list[tuple[str, Any]]:
        out: list[tuple[str, Any]] = []
        i = 0
        while i < len(text):
            if text[i].isspace():
                i += 1
                continue
            m = _TOKEN.match(text, i)
            if not m or m.end() == i:
                raise ODataError(f"Invalid filter clause: syntax error at position {i} "
                                 f"in '{text}'.")
            i = m.end()
            if m.group("str") is not None:
                out.append(("lit", m.group("str")[1:-1].replace("''", "'")))
            elif m.group("num") is not None:
                num = m.group("num")
                out.append(("lit", float(num) if "." in num else int(num)))
            elif m.group("name") is not None:
                out.append(("name", m.group("name")))
            else:
                out.append(("punct", m.group("punct")))
        return out

    def peek(self) -> tuple[str, Any] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, Any]:
        tok = self.peek()
        if tok is None:
            raise ODataError(f"Invalid filter clause: unexpected end of '{self.text}'.")
        self.pos += 1
        return tok

    def expect(self, punct: str) -> None:
        tok = self.take()
        if tok != ("punct", punct):
            raise ODataError(f"Invalid filter clause: expected '{punct}' in '{self.text}'.")

    def keyword(self, word: str) -> bool:
        tok = self.peek()
        if tok and tok[0] == "name" and tok[1].lower() == word:
            self.pos += 1
            return True
        return False

    def parse(self) -> Node:
        node = self.parse_or()
        extra = self.peek()
        if extra is not None:
            raise ODataError(f"Invalid filter clause: unexpected '{extra[1]}' "
                             f"in '{self.text}'.")
        return node

    def parse_or(self) -> Node:
        node = self.parse_and()
        while self.keyword("or"):
            node = ("or", node, self.parse_and())
        return node

    def parse_and(self) -> Node:
        node = self.parse_unary()
        while self.keyword("and"):
            node = ("and", node, self.parse_unary())
        return node

    def parse_unary(self) -> Node:
        if self.keyword("not"):
            self.operators.add("not")
            self.nest()
            node = ("not", self.parse_unary())
            self.depth -= 1
            return node
        tok = self.peek()
        if tok == ("punct", "("):
            self.take()
            self.nest()
            node = self.parse_or()
            self.depth -= 1
            self.expect(")")
            return node
        self.term()
        if tok and tok[0] == "name" and tok[1].lower() in ("startswith", "endswith") \
                and self.pos + 1 < len(self.tokens) and self.tokens[self.pos + 1] == ("punct", "("):
            name = self.take()[1].lower()
            self.operators.add(name)
            self.expect("(")
            path = self.path()
            self.expect(",")
            value = self.literal()
            self.expect(")")
            if not isinstance(value, str):
                raise ODataError(f"Invalid filter clause: {name} needs a string in '{self.text}'.")
            return ("func", name, path, value)
        path = self.path(allow_any=True)
        if isinstance(path, tuple):           # a lambda: path/any(x: ...)
            return path
        if self.keyword("in"):
            self.operators.add("in")
            self.expect("(")
            values = [self.literal()]
            while self.peek() == ("punct", ","):
                self.take()
                values.append(self.literal())
            self.expect(")")
            return ("in", path, values)
        op_tok = self.take()
        op = op_tok[1].lower() if op_tok[0] == "name" else ""
        if op not in _COMPARE:
            raise ODataError(f"Invalid filter clause: unsupported operator '{op_tok[1]}' "
                             f"in '{self.text}'.")
        self.operators.add(op)
        return ("cmp", op, path, self.literal())

    def literal(self) -> Any:
        kind, value = self.take()
        if kind == "lit":
            return value
        if kind == "name" and value.lower() in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[value.lower()]
        raise ODataError(f"Invalid filter clause: expected a literal, found '{value}' "
                         f"in '{self.text}'.")

    def path(self, allow_any: bool = False) -> Any:
        kind, value = self.take()
        if kind != "name":
            raise ODataError(f"Invalid filter clause: expected a property, found '{value}' "
                             f"in '{self.text}'.")
        parts = value.split("/")
        if allow_any and len(parts) >= 2 and parts[-1].lower() in ("any", "all") \
                and self.peek() == ("punct", "("):
            prop = self.resolve("/".join(parts[:-1]))
            self.take()
            var_kind, var = self.take()
            if var_kind != "name":
                raise ODataError(f"Invalid filter clause: lambda variable expected in "
                                 f"'{self.text}'.")
            self.expect(":")
            self.lambda_vars.append(var)
            self.nest()
            body = self.parse_or()
            self.depth -= 1
            self.lambda_vars.pop()
            self.expect(")")
            self.operators.add(parts[-1].lower())
            return ("any" if parts[-1].lower() == "any" else "all", prop, var, body)
        return self.resolve(value)

    def resolve(self, value: str) -> str:
        parts = value.split("/")
        if self.lambda_vars and parts[0] == self.lambda_vars[-1]:
            return value                       # refers to the lambda element
        canonical = self.props.canonical(parts[0])
        if canonical is None:
            raise ODataError(f"Could not find a property named '{parts[0]}' on type "
                             f"'{self.props.type_name}'.", "Request_BadRequest")
        self.properties.add(canonical)
        return "/".join([canonical] + parts[1:])


def _fold(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _getter(path: str, var: str | None) -> Callable[[dict, Any], Any]:
    parts = path.split("/")
    if var is not None and parts[0] == var:
        rest = parts[1:]
        if not rest:
            return lambda obj, elem: elem

        def from_elem(obj: dict, elem: Any) -> Any:
            cur = elem
            for p in rest:
                cur = cur.get(p) if isinstance(cur, dict) else None
            return cur
        return from_elem
    if len(parts) == 1:
        name = parts[0]
        return lambda obj, elem: obj.get(name)

    def nested(obj: dict, elem: Any) -> Any:
        cur: Any = obj
        for p in parts:
            cur = cur.get(p) if isinstance(cur, dict) else None
        return cur
    return nested


def _compile(node: Node, var: str | None = None) -> Callable[[dict, Any], bool]:
    kind = node[0]
    if kind == "and":
        a, b = _compile(node[1], var), _compile(node[2], var)
        return lambda o, e: a(o, e) and b(o, e)
    if kind == "or":
        a, b = _compile(node[1], var), _compile(node[2], var)
        return lambda o, e: a(o, e) or b(o, e)
    if kind == "not":
        a = _compile(node[1], var)
        return lambda o, e: not a(o, e)
    if kind == "in":
        get = _getter(node[1], var)
        values = {_fold(v) for v in node[2]}
        return lambda o, e: not isinstance(v := _fold(get(o, e)), (list, dict)) and v in values
    if kind == "func":
        get, needle = _getter(node[2], var), node[3].lower()
        if node[1] == "startswith":
            return lambda o, e: isinstance(v := get(o, e), str) and v.lower().startswith(needle)
        return lambda o, e: isinstance(v := get(o, e), str) and v.lower().endswith(needle)
    if kind in ("any", "all"):
        get = _getter(node[1], var)
        body = _compile(node[3], node[2])
        def elements(o: dict, e: Any) -> list:     # a value that is not a collection: none
            value = get(o, e)
            return value if isinstance(value, list) else []
        if kind == "any":
            return lambda o, e: any(body(o, x) for x in elements(o, e))
        return lambda o, e: all(body(o, x) for x in elements(o, e))
    # comparison
    op, get, want = node[1], _getter(node[2], var), _fold(node[3])
    if op == "eq":
        return lambda o, e: _fold(get(o, e)) == want
    if op == "ne":
        return lambda o, e: _fold(get(o, e)) != want
    cmp = {"gt": lambda a, b: a > b, "ge": lambda a, b: a >= b,
           "lt": lambda a, b: a < b, "le": lambda a, b: a <= b}[op]

    def ordered(o: dict, e: Any) -> bool:
        have = _fold(get(o, e))
        if have is None or want is None:
            return False
        try:
            return cmp(have, want)
        except TypeError:
            return False
    return ordered


def _plan(node: Node, lookup: Callable[[str, Any], set[str] | None]) -> set[str] | None:
    kind = node[0]
    if kind == "cmp" and node[1] == "eq" and "/" not in node[2]:
        return lookup(node[2], node[3])
    if kind == "in" and "/" not in node[1]:
        out: set[str] = set()
        for value in node[2]:
            found = lookup(node[1], value)
            if found is None:
                return None
            out |= found
        return out
    if kind == "or":
        a = _plan(node[1], lookup)
        if a is None:
            return None
        b = _plan(node[2], lookup)
        return None if b is None else a | b
    if kind == "and":
        a, b = _plan(node[1], lookup), _plan(node[2], lookup)
        if a is None:
            return b
        if b is None:
            return a
        return a & b
    return None


def parse_filter(text: str, props: PropertyNames) -> Filter:
    """Parse a $filter for resources of `props`; raises ODataError like Graph's 400.

    Bounded (limits.py): its length, its nesting and its number of terms, so that no input
    reaches Python's recursion limit in the parser, the planner or the predicate."""
    if len(text) > MAX_FILTER_CHARS:
        raise ODataError(f"Invalid filter clause: Max query length exceeded ({len(text)} "
                         f"characters; the emulator accepts {MAX_FILTER_CHARS}).")
    parser = _Parser(text, props)
    node = parser.parse()
    fn = _compile(node)
    return Filter(text, node, lambda obj: fn(obj, None), parser.properties, parser.operators)


def parse_select(text: str | None, props: PropertyNames) -> list[str] | None:
    """$select as canonical property names (None when absent)."""
    if text is None:
        return None
    names: list[str] = []
    for raw in text.split(","):
        raw = raw.strip()
        if not raw:
            continue
        canonical = props.canonical(raw)
        if canonical is None:
            raise ODataError(f"Could not find a property named '{raw}' on type "
                             f"'{props.type_name}'.", "Request_BadRequest")
        if canonical not in names:
            names.append(canonical)
    return names or None


def parse_orderby(text: str | None, props: PropertyNames) -> list[tuple[str, bool]] | None:
    """$orderby as (property, descending) pairs."""
    if not text:
        return None
    out: list[tuple[str, bool]] = []
    for part in text.split(","):
        bits = part.split()
        if not bits or len(bits) > 2 or (len(bits) == 2 and bits[1].lower() not in ("asc", "desc")):
            raise ODataError(f"Invalid $orderby clause '{text}'.")
        canonical = props.canonical(bits[0])
        if canonical is None:
            raise ODataError(f"Could not find a property named '{bits[0]}' on type "
                             f"'{props.type_name}'.", "Request_BadRequest")
        out.append((canonical, len(bits) == 2 and bits[1].lower() == "desc"))
    return out


def parse_top(text: str | None, default: int, maximum: int = 999) -> int:
    """$top within 1..maximum; anything else is Graph's page-size 400."""
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise ODataError(f"Invalid page size specified: '{text}'. Must be between 1 and "
                         f"{maximum} inclusive.", "Request_UnsupportedQuery") from None
    if not 1 <= value <= maximum:
        raise ODataError(f"Invalid page size specified: '{value}'. Must be between 1 and "
                         f"{maximum} inclusive.", "Request_UnsupportedQuery")
    return value


def project(obj: dict, names: list[str] | tuple[str, ...], props: PropertySet) -> dict:
    """`obj` restricted to `names`, unset properties shown as Graph shows them."""
    collections = props.collections
    return {n: obj[n] if n in obj else ([] if n in collections else None) for n in names}
