"""Syntax: tokens, escapes, empty arguments, and every compile error with its message and column."""

from __future__ import annotations

import pytest

from tenantsync.errors import ExpressionError
from tenantsync.expressions import FUNCTION_NAMES, compile_expression
from tenantsync.expressions.lexer import ATTR, EOF, IDENT, NUMBER, OP, STRING, tokenize
from tenantsync.expressions.parser import Call, Compare, Empty, Literal, Name, parse


def evaluate(expression: str, **user: object) -> object:
    return compile_expression(expression).evaluate(user)


def test_tokens_carry_one_based_columns() -> None:
    tokens = tokenize('Join(", ", [surname], &HF7, -10, vbTextCompare) >= 1.5')
    kinds = [(t.kind, t.value, t.column) for t in tokens]
    assert kinds == [
        (IDENT, "Join", 1), ("(", "(", 5), (STRING, ", ", 6), (",", ",", 10), (ATTR, "surname", 12),
        (",", ",", 21), (NUMBER, 0xF7, 23), (",", ",", 27), (NUMBER, -10, 29), (",", ",", 32),
        (IDENT, "vbTextCompare", 34), (")", ")", 47), (OP, ">=", 49), (NUMBER, 1.5, 52), (EOF, None, 55)]


@pytest.mark.parametrize(("literal", "value"), [
    (r'"Company name: \"Contoso\""', 'Company name: "Contoso"'),
    (r'"back\\slash"', "back\\slash"),
    (r'"\\d+"', r"\d+"),
    (r'"\d+"', r"\d+"),          # a backslash before another character stays as written
    ('""', ""),
])
def test_string_escapes(literal: str, value: str) -> None:
    assert evaluate(f"CStr({literal})") == value


def test_empty_positional_arguments_are_kept_in_place() -> None:
    node = parse('Replace([x], , "re", , "", , )')
    assert isinstance(node, Call) and len(node.args) == 7
    assert [type(arg).__name__ for arg in node.args] == [
        "Attr", "Empty", "Literal", "Empty", "Literal", "Empty", "Empty"]
    assert isinstance(node.args[6], Empty) and node.args[6].column == 30


def test_call_without_arguments_and_with_only_empty_ones() -> None:
    assert parse("Now()") == Call("Now", (), 1, 5)
    assert parse("Join( , )").args == (Empty(7), Empty(9))  # type: ignore[union-attr]


def test_empty_style_argument_of_format_date_time() -> None:
    assert evaluate('FormatDateTime([d], , "yyyy-MM-dd", "dd.MM.yyyy")', d="2024-02-29") == "29.02.2024"


def test_comparison_is_an_argument() -> None:
    node = parse('IIF([a]<>"x", "1", "2")')
    assert isinstance(node, Call) and isinstance(node.args[0], Compare)
    assert node.args[0].op == "<>" and node.args[0].column == 8


def test_enum_words_parse_as_names() -> None:
    node = parse('InStr("a", "A", 1, vbTextCompare)')
    assert node.args[3] == Name("vbTextCompare", 20)  # type: ignore[union-attr]
    assert evaluate('InStr("a", "A", 1, vbTextCompare)') == 1
    assert evaluate('InStr("a", "A", 1, vbBinaryCompare)') == 0


def test_whitespace_and_line_breaks_between_tokens() -> None:
    assert evaluate('Join(\n  ".",\n\t[a] ,[b]\n)', a="x", b="y") == "x.y"


def test_top_level_attribute_literal_and_number() -> None:
    assert evaluate("[mail]", mail="a@b") == "a@b"
    assert evaluate('"Member"') == "Member"
    assert evaluate("42") == 42
    assert isinstance(parse("42"), Literal)


ERRORS = [
    # (expression, message, column)
    ('Jion(", ", [a])', "unknown function 'Jion' (did you mean 'Join'?)", 1),
    ('ToLower(join(",", [a]))', "unknown function 'join' (names are case-sensitive: did you mean 'Join'?)", 9),
    ("Frobnicate([a])", "unknown function 'Frobnicate'", 1),
    ('Join(", [a])', 'unclosed string: missing closing \'"\' (write \\" for a quote inside a string)', 6),
    ('Join(", ", [a]', "missing ')' to close Join( opened at column 1", 15),
    ('ToLower(Join(", ", [a])', "missing ')' to close ToLower( opened at column 1", 24),
    ('Left("abc")', "Left takes 2 arguments, got 1", 1),
    ('Join(",", Left("a", 1, 2))', "Left takes 2 arguments, got 3", 11),
    ("Not()", "Not takes 1 argument, got 0", 1),
    ("Join()", "Join takes at least 2 arguments, got 0", 1),
    ('ToLower("a", "en-US", "x")', "ToLower takes 1 to 2 arguments, got 3", 1),
    ('Replace([mail], "@x", "")',
     'Replace takes 7 arguments, got 3 (leave unused ones empty, e.g. Replace([mail], , "@.*", , "", , ))', 1),
    ('Switch([a], "d", "k")', "Switch takes at least 4 arguments, got 3", 1),
    ('Switch([a], "d", "k", "v", "k2")',
     "Switch takes an even number of arguments (source, default value, then key/value pairs), got 5", 1),
    ('Join(",", [a]) x', "unexpected 'x' after the end of the expression", 16),
    ('Join(",", [a]))', "unexpected ')' after the end of the expression", 15),
    ("[a] [b]", "unexpected '[b]' after the end of the expression", 5),
    ('Join(",", [a] [b])', "expected ',' or ')' in Join( but found '[b]'", 15),
    ('Join(",", (a))', "expected a value (function call, [attribute], \"string\" or number) but found '('", 11),
    ("", "empty expression", 1),
    ("   ", "empty expression", 1),
    ('IIF([a]="x"="y", "1", "2")',
     "comparisons cannot be chained (AND/OR do not exist: nest IIF calls)", 12),
    ('IIF([a]=="x", "1", "2")', "'==' is not an operator; use '=' to compare", 8),
    ('IIF([a]!="x", "1", "2")', "'!=' is not an operator; use '<>' for 'not equal'", 8),
    ('IIF([a]="x" && [b]="y", "1", "2")', "'&' starts a hex number such as &HF7", 13),
    ('IIF([a]="x" || [b]="y", "1", "2")', "unexpected character '|' (AND/OR do not exist: nest IIF calls)", 13),
    ('Join(",", [mail)', "unclosed attribute: missing ']' after the attribute name", 11),
    ("Join(\",\", [])", "empty attribute name '[]'", 11),
    ("Join(\",\", [ mail ])", "attribute name ' mail ' has spaces around it; write [mail]", 11),
    ("Left([a], 3x)", "invalid number '3x'", 11),
    ("Left([a], ٣)", "unexpected character '٣'", 11),
    ("Join(\",\", [a]; [b])", "unexpected character ';'", 14),
    ('Join(",", mail)', "unknown name 'mail' (attributes are written [mail], text \"mail\")", 11),
    ('Join(",", Now)', "Now is a function: call it as Now(...)", 11),
    ("SelectUniqueValue([a], [b])", "SelectUniqueValue is not supported for cross-tenant synchronization", 1),
    ("AppRoleAssignmentsComplex([appRoleAssignments])",
     "AppRoleAssignmentsComplex is not supported for cross-tenant synchronization", 1),
    ("SingleAppRoleAssignment([appRoleAssignments])",
     "SingleAppRoleAssignment is not supported for cross-tenant synchronization", 1),
    ('Join(",", IgnoreFlowIfNullOrEmpty([a]))',
     ("IgnoreFlowIfNullOrEmpty must be the outermost function (or an IIF/Switch value, or inside Redact): "
     "its result decides whether the attribute flows at all"), 11),
    ('Replace([a], "x", "re", , "y", , )', "Replace: " + (
        "Replace needs one of: oldValue + replacementValue; oldValue + template; "
        "regexPattern + replacementValue; regexPattern + regexGroupName + replacementValue; "
        "regexPattern + regexGroupName + replacementAttributeName"), 1),
    ('Replace([a], , "(?<x>[a-", , "", , )',
     "Replace: invalid regular expression '(?<x>[a-': unterminated character set", 16),
    ('Replace([a], , "(?<x>a)", "y", "", , )', "Replace: the pattern has no group named 'y'", 27),
    ('DateAdd("dd", 1, Now())', "DateAdd: interval 'dd' is not one of yyyy, m, d, ww, h, n, s", 9),
    ('FormatDateTime([d], "Sideways", "yyyy", "yyyy")',
     ("FormatDateTime: unknown DateTimeStyles 'Sideways' (allowed: None, AllowLeadingWhite, AllowTrailingWhite, "
     "AllowInnerWhite, AllowWhiteSpaces, NoCurrentDateDefault, AdjustToUniversal, AssumeLocal, "
     "AssumeUniversal, RoundtripKind)"), 21),
    ("FormatDateTime([d], , \"yyyy'\", \"yyyy\")", "FormatDateTime: unclosed quote ' in date format \"yyyy'\"", 23),
    ('InStr("a", "b", 1, "vbFuzzy")', "InStr: compareType 'vbFuzzy' is not vbBinaryCompare or vbTextCompare", 20),
    ('ToLower([a], "english please")', "ToLower: 'english please' is not a culture name (expected e.g. en-US)", 14),
    ("Item([proxyAddresses], 0)", "Item: Item is 1-based: the first value is Item([attribute], 1)", 24),
    ('Split([a], "")', "Split: the delimiter must not be empty", 12),
    ("RandomString(3, 2, 2, 0, 0)",
     ("RandomString: Length must be 1..256, the minimums 0 or more and their sum at most Length "
     "(got 3 and [2, 2, 0, 0])"), 1),
]


@pytest.mark.parametrize(("expression", "message", "column"), ERRORS,
                         ids=[f"{i:02}-{e[1][:40]}" for i, e in enumerate(ERRORS)])
def test_compile_error_message_and_column(expression: str, message: str, column: int) -> None:
    with pytest.raises(ExpressionError) as caught:
        compile_expression(expression)
    assert (caught.value.message, caught.value.column) == (message, column)
    assert caught.value.expression == expression
    assert str(caught.value) == f"column {column}: {message}"


def test_ignore_flow_is_allowed_where_its_value_is_the_result() -> None:
    for expression in ("IgnoreFlowIfNullOrEmpty([a])",
                       'IIF([b]="1", IgnoreFlowIfNullOrEmpty([a]), "x")',
                       'Switch([b], IgnoreFlowIfNullOrEmpty([a]), "k", IgnoreFlowIfNullOrEmpty([c]))',
                       "Redact(IgnoreFlowIfNullOrEmpty([a]))"):
        compile_expression(expression)
    with pytest.raises(ExpressionError, match="outermost"):
        compile_expression('Switch(IgnoreFlowIfNullOrEmpty([a]), "d", "k", "v")')  # the source


def test_data_error_at_evaluation_names_the_innermost_call() -> None:
    compiled = compile_expression('Join(" ", "Hired", CDate([hireDate]))')
    with pytest.raises(ExpressionError) as caught:
        compiled.evaluate({"hireDate": "soon"})
    assert caught.value.column == 20
    assert caught.value.message.startswith("CDate: cannot read 'soon' as a date")


def test_comparison_of_multi_valued_attribute_is_a_data_error_at_the_operator() -> None:
    with pytest.raises(ExpressionError) as caught:
        compile_expression('IIF([proxyAddresses]="x", "1", "2")').evaluate({"proxyAddresses": ["x"]})
    assert caught.value.column == 21 and "multi-valued" in caught.value.message


DOCUMENTED = """Append, AppRoleAssignmentsComplex, BitAnd, CBool, CDate, Coalesce, ConvertToBase64,
ConvertToUTF8Hex, Count, CStr, DateAdd, DateDiff, DateFromNum, FormatDateTime, Guid,
IgnoreFlowIfNullOrEmpty, IIF, InStr, IsNull, IsNullOrEmpty, IsPresent, IsString, Item, Join,
Left, Mid, NormalizeDiacritics, Not, Now, NumFromDate, PCase, RandomString, Redact,
RemoveDuplicates, Replace, SelectUniqueValue, SingleAppRoleAssignment, Split, StripSpaces,
Switch, ToLower, ToUpper, Word"""


def test_the_table_has_the_43_documented_functions_plus_alt_sec_id() -> None:
    documented = {name.strip() for name in DOCUMENTED.split(",")}
    assert len(documented) == 43
    assert FUNCTION_NAMES == documented | {"AltSecIdFromNetId"}
