"""Semantics beyond the documented vectors, and the decisions taken on UNCONFIRMED points."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime
from types import MappingProxyType

import pytest

from tenantsync.errors import ExpressionError
from tenantsync.expressions import IGNORE, PSEUDO_ATTRIBUTES, compile_expression
from tenantsync.expressions.text import DIACRITICS


def evaluate(expression: str, **user: object) -> object:
    return compile_expression(expression).evaluate(user)


# --- decisions on UNCONFIRMED points ----------------------------------------------------------

def test_alt_sec_id_from_net_id_is_a_deterministic_string() -> None:
    compiled = compile_expression("AltSecIdFromNetId([netId])")
    assert compiled.evaluate({"netId": "0f1e2d3c-aaaa-bbbb-cccc-000000000001"}) == \
        "NetId:0f1e2d3c-aaaa-bbbb-cccc-000000000001"
    assert compiled.evaluate({}) is None
    assert compiled.attributes == {"netId"} and "netId" in PSEUDO_ATTRIBUTES


@pytest.mark.parametrize(("user", "expected"), [
    ({"mail": "", "userPrincipalName": "u@x"}, "u@x"),       # "" is skipped like null
    ({"mail": "m@x", "userPrincipalName": "u@x"}, "m@x"),
    ({}, None),                                                # nothing and no default: null
])
def test_coalesce_skips_null_and_empty(user: dict, expected: object) -> None:
    assert compile_expression("Coalesce([mail],[userPrincipalName])").evaluate(user) == expected


def test_coalesce_returns_an_empty_default_as_is() -> None:
    assert evaluate('Coalesce([mail], "")') == ""
    assert evaluate('Coalesce([mail], [otherMails], "n/a")', otherMails=[]) == "n/a"


def test_join_skips_empty_flattens_multi_valued_and_is_null_when_nothing_is_left() -> None:
    assert evaluate('Join(";", [a], [proxy], "", 7, [flag])', a="x", proxy=["p1", "", "p2"],
                    flag=True) == "x;p1;p2;7;True"
    assert evaluate('Join(", ", [surname], [givenName])') is None


def test_split_trims_items_and_drops_empty_ones() -> None:
    assert evaluate('Split([x], ",")', x=" a , b,,c ,") == ["a", "b", "c"]
    assert evaluate('Split([x], ";")', x="one") == ["one"]
    assert evaluate('Split([x], ",")') is None


def test_instr_not_found_is_zero_and_null_is_null() -> None:
    assert evaluate('InStr("abc", "z")') == 0
    assert evaluate('InStr([missing], "z")') is None
    assert evaluate('InStr("abc", "c", 9)') == 0


@pytest.mark.parametrize(("expression", "user", "expected"), [
    ('IIF([country]="USA", "us", "other")', {}, "other"),          # null = "USA": false
    ('IIF([country]<>"USA", "not us", "us?")', {}, "us?"),        # null <> "USA": false too
    ('IIF([country]="", "empty", "other")', {"country": ""}, "empty"),   # "" is a value
    ('IIF(IsPresent([country]), [country], "Other")', {}, "Other"),     # works here
    ('IIF(IsNullOrEmpty([country]), "Other", [country])', {"country": "NL"}, "NL"),
    ('IIF([flag], "yes", "no")', {"flag": "True"}, "yes"),
    ('IIF([flag], "yes", "no")', {"flag": "false"}, "no"),
    ('IIF([flag], "yes", "no")', {}, "no"),
])
def test_iif_condition_with_null(expression: str, user: dict, expected: str) -> None:
    assert compile_expression(expression).evaluate(user) == expected


def test_iif_evaluates_only_the_chosen_branch() -> None:
    assert evaluate('IIF(IsPresent([d]), CDate([d]), "none")', d="") == "none"


def test_iif_condition_that_is_not_boolean_is_a_data_error() -> None:
    with pytest.raises(ExpressionError, match="cannot convert 'USA' to a boolean"):
        evaluate('IIF([country], "1", "2")', country="USA")


# --- comparisons ------------------------------------------------------------------------------

@pytest.mark.parametrize(("expression", "user", "expected"), [
    ('CBool([a]="abc")', {"a": "ABC"}, False),            # case-sensitive, like Switch
    ('CBool([a]<"b")', {"a": "a"}, True),
    ("CBool([n] > 5)", {"n": "10"}, True),                # numeric when one side is a number
    ('CBool([n] > "5")', {"n": "10"}, False),             # text vs text stays text
    ('CBool([accountEnabled] = "true")', {"accountEnabled": True}, True),
    ('CBool([accountEnabled] = "False")', {"accountEnabled": True}, False),
    ('CBool([accountEnabled] <> "maybe")', {"accountEnabled": True}, True),
    ('CBool(CDate([d]) >= CDate("2021-01-01"))', {"d": "2021-06-30+08:00"}, True),
    ('CBool(CDate([d]) = "6/29/2021 4:00:00 PM")', {"d": "2021-06-30+08:00"}, True),
    ("CBool([a] = [b])", {"a": None, "b": None}, False),  # null never compares
])
def test_comparisons(expression: str, user: dict, expected: bool) -> None:
    assert compile_expression(expression).evaluate(user) is expected


# --- logic ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "expected"), [
    ("1", True), ("0", False), (5, True), (0, False), ("TRUE", True), (" false ", False),
    (None, False), (True, True),
])
def test_cbool(value: object, expected: bool) -> None:
    assert compile_expression("CBool([v])").evaluate({"v": value}) is expected


def test_cbool_of_text_is_a_data_error() -> None:
    with pytest.raises(ExpressionError, match="CBool: cannot convert 'abc'"):
        evaluate("CBool([v])", v="abc")


def test_not_accepts_booleans_and_text() -> None:
    assert evaluate("Not([v])", v=True) is False
    assert evaluate("Not([v])", v="true") is False
    assert evaluate("Not([v])") is True
    assert evaluate("Not(IsPresent([v]))", v="x") is False


@pytest.mark.parametrize(("value", "is_null", "null_or_empty", "is_string"), [
    (None, True, True, False), ("", False, True, True), ([], True, True, False),
    (["a"], False, False, False), ("a", False, False, True), (3, False, False, True),
])
def test_is_functions(value: object, is_null: bool, null_or_empty: bool, is_string: bool) -> None:
    user = {"v": value}
    assert compile_expression("IsNull([v])").evaluate(user) is is_null
    assert compile_expression("IsNullOrEmpty([v])").evaluate(user) is null_or_empty
    assert compile_expression("IsPresent([v])").evaluate(user) is (not null_or_empty)
    assert compile_expression("IsString([v])").evaluate(user) is is_string


@pytest.mark.parametrize("value", [None, "", []])
def test_ignore_flow_on_null_and_empty(value: object) -> None:
    assert evaluate("IgnoreFlowIfNullOrEmpty([v])", v=value) is IGNORE


def test_ignore_flow_passes_values_through_iif() -> None:
    compiled = compile_expression('IIF([t]="1", IgnoreFlowIfNullOrEmpty([v]), "fixed")')
    assert compiled.evaluate({"t": "1"}) is IGNORE
    assert compiled.evaluate({"t": "1", "v": "x"}) == "x"
    assert compiled.evaluate({"t": "2"}) == "fixed"


def test_switch_is_case_sensitive_first_key_wins_and_keys_may_be_attributes() -> None:
    assert evaluate('Switch([s], "d", "a", "1", "A", "2", "a", "3")', s="A") == "2"
    assert evaluate('Switch([s], "d", "a", "1", "a", "3")', s="a") == "1"
    assert evaluate('Switch([s], "d", [k], "matched")', s="x", k="x") == "matched"
    assert evaluate('Switch([s], "d", [k], "matched")', s="x") == "d"
    assert evaluate('Switch([s], , "a", "1")', s="b") is None


# --- text -------------------------------------------------------------------------------------

def test_text_functions_transform_each_value_of_a_multi_valued_attribute() -> None:
    proxies = ["SMTP:Ann@Contoso.com", "smtp:ann@fabrikam.com"]
    assert evaluate("ToLower([p])", p=proxies) == ["smtp:ann@contoso.com", "smtp:ann@fabrikam.com"]
    assert evaluate('Replace([p], , "@.*$", , "", , )', p=proxies) == ["SMTP:Ann", "smtp:ann"]
    assert evaluate('Append([p], ";")', p=["a", "b"]) == ["a;", "b;"]


def test_text_functions_keep_null() -> None:
    for expression in ('Append([x], "s")', "ToLower([x])", "PCase([x])", "StripSpaces([x])",
                       "NormalizeDiacritics([x])", 'Mid([x], 1, 2)', "ConvertToBase64([x])",
                       'Replace([x], "a", , , "b", , )', "CStr([x])", "CDate([x])"):
        assert evaluate(expression) is None, expression
    assert evaluate('Word([x], 1, " ")') == ""


@pytest.mark.parametrize(("expression", "expected"), [
    ('Word("a,,b", 2, ",")', "b"),           # consecutive delimiters make no empty word
    ('Word("a b", 0, " ")', ""),
    ('Word("a b", 3, " ")', ""),
    ('Word("a b", 1, "")', "a b"),           # no delimiters: the whole text is one word
    ('Word("a.b c", 2, ". ")', "b"),
    ('Left("abc", "2")', "ab"),              # numeric text is a number
    ('Mid("abcdef", 3, 2)', "cd"),
    ('Mid("abc", 5, 2)', ""),
    ('StripSpaces(" a b\tc ")', "ab\tc"),    # only " " is removed
])
def test_text_edges(expression: str, expected: str) -> None:
    assert evaluate(expression) == expected


def test_mid_start_zero_is_a_data_error() -> None:
    with pytest.raises(ExpressionError, match="Mid: start must be 1 or more"):
        evaluate('Mid("abc", 0, 1)')


@pytest.mark.parametrize(("source", "expected"), [
    ("o'NEIL-SMITH jr.", "O'neil-Smith Jr."),   # apostrophe continues a word (.NET)
    ("3RD street", "3Rd Street"),                # .NET ToTitleCase: a letter after a digit
    ("élodie DUPONT", "Élodie Dupont"),
    ("mary_ann", "Mary_Ann"),
])
def test_pcase_follows_dotnet_to_title_case(source: str, expected: str) -> None:
    assert evaluate("PCase([n])", n=source) == expected


def test_pcase_with_custom_separators() -> None:
    assert evaluate('PCase("ANNE-MARIE O\'NEIL", " ")') == "Anne-marie O'neil"
    assert evaluate('PCase("ANNE-MARIE O\'NEIL", " -\'")') == "Anne-Marie O'Neil"


@pytest.mark.parametrize(("expression", "expected"), [
    ('ToUpper("straße")', "STRAßE"),           # simple case mapping: ß has no upper case
    ('ToLower("İSTANBUL")', "istanbul"),
    ('ToLower("ISPARTA", "tr-TR")', "ısparta"),
    ('ToUpper("istanbul", "tr-TR")', "İSTANBUL"),
    ('ToUpper("istanbul", "en-US")', "ISTANBUL"),
])
def test_culture_casing(expression: str, expected: str) -> None:
    assert evaluate(expression) == expected


@pytest.mark.parametrize(("chars", "plain"), sorted(DIACRITICS.items()))
def test_normalize_diacritics_table_entry(chars: str, plain: str) -> None:
    assert evaluate("NormalizeDiacritics([n])", n=chars) == plain
    assert evaluate("NormalizeDiacritics([n])", n=unicodedata.normalize("NFD", chars)) == plain


def test_normalize_diacritics_leaves_unlisted_characters() -> None:
    assert evaluate('NormalizeDiacritics("Ħ ж œ ø Łódź")') == "Ħ ж œ oe Lodz"


def test_instr_text_compare_ignores_case() -> None:
    assert evaluate('InStr("repEated","e",3,vbTextCompare)') == 4


def test_base64_of_non_ascii_is_utf16le() -> None:
    assert evaluate('ConvertToBase64("é")') == "6QA="
    assert evaluate('ConvertToUTF8Hex("é")') == "C3A9"


def test_cstr_of_booleans_numbers_and_references() -> None:
    assert evaluate("CStr([v])", v=True) == "True"
    assert evaluate("CStr([v])", v=2.0) == "2"
    assert evaluate("CStr([manager])", manager={"id": "m-1"}) == "m-1"
    with pytest.raises(ExpressionError, match="multi-valued"):
        evaluate("CStr([v])", v=["a"])


# --- Replace ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("expression", "user", "expected"), [
    (r'Replace([t], , "(?<a>\\w+) (?<b>\\w+)", , "${b} ${a} $$ ${zz} $1", , )', {"t": "x y"},
     "y x $ ${zz} x"),
    (r'Replace([t], , "(?<c>.)\\k<c>", , "[$&]", , )', {"t": "aabcc"}, "[aa]b[cc]"),
    ("Replace([t], , \"b\", , \"<$`|$'>\", , )", {"t": "abc"}, "a<a|c>c"),
    ('Replace([t], , [p], , "-", , )', {"t": "a1b22", "p": "[0-9]+"}, "a-b-"),
    ('Replace([t], "x", , , [r], , )', {"t": "axa"}, "aa"),                 # null value → ""
    ('Replace([t], , "a", , "\\\\", , )', {"t": "bab"}, "b\\b"),            # backslash is literal
    ('Replace([t], "<u>", , , , , [tpl])', {"t": "js"}, None),              # no template: null
    (r'Replace([t], , "(?<d>\\d+)", "d", , [o], )', {"t": "kept", "o": "id 42"}, "kept"),
    (r'Replace([t], , "(?<d>\\d+)", "d", , [o], )', {"o": "none"}, None),   # no match: null
])
def test_replace_details(expression: str, user: dict, expected: object) -> None:
    assert compile_expression(expression).evaluate(user) == expected


def test_replace_with_a_bad_pattern_from_an_attribute_is_a_data_error() -> None:
    with pytest.raises(ExpressionError, match="invalid regular expression"):
        evaluate('Replace([t], , [p], , "", , )', t="x", p="(")


# --- multi-valued and numbers -----------------------------------------------------------------

def test_item_count_and_remove_duplicates_edges() -> None:
    assert evaluate("Item([p], 3)", p=["a", "b"]) is None
    assert evaluate("Item([p], 1)", p="single") == "single"
    assert evaluate("Count([p])") == 0 and evaluate("Count([p])", p="x") == 1
    assert evaluate("RemoveDuplicates([p])", p=["A", "a", "A"]) == ["A", "a"]
    assert evaluate('BitAnd([v], "6")', v="12") == 4


def test_random_string_with_impossible_dynamic_constraints_is_a_data_error() -> None:
    with pytest.raises(ExpressionError, match="CharactersToAvoid excludes every character"):
        evaluate('RandomString(4, 1, 0, 0, 0, [avoid])', avoid="0123456789")


# --- dates ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("expression", "expected"), [
    ('DateAdd("m", 1, CDate("2024-01-31"))', "2/29/2024 12:00:00 AM"),   # VB clamps the day
    ('DateAdd("yyyy", 1, "2024-02-29T10:00:00Z")', "2/28/2025 10:00:00 AM"),
    ('DateAdd("h", -1, CDate("2021-01-01"))', "12/31/2020 11:00:00 PM"),
    ('DateAdd("n", 90, CDate("2021-01-01"))', "1/1/2021 1:30:00 AM"),
    ('DateAdd("s", 1, CDate("2021-01-01T11:59:59Z"))', "1/1/2021 12:00:00 PM"),
    ('DateAdd("D", 1, CDate("2021-01-01"))', "1/2/2021 12:00:00 AM"),    # VB: any case
])
def test_date_add(expression: str, expected: str) -> None:
    assert evaluate(expression) == expected


@pytest.mark.parametrize(("interval", "first", "second", "expected"), [
    ("d", "2021-01-01T23:00:00Z", "2021-01-02T01:00:00Z", 1),   # a midnight crossed
    ("ww", "2021-08-21T12:00:00Z", "2021-08-22T12:00:00Z", 1),  # Saturday → Sunday
    ("ww", "2021-08-22T00:00:00Z", "2021-08-28T23:00:00Z", 0),  # Sunday → Saturday
    ("m", "2021-01-31", "2021-02-01", 1),
    ("yyyy", "2021-12-31", "2022-01-01", 1),
    ("h", "2021-01-01T10:59:00Z", "2021-01-01T11:00:00Z", 1),
    ("s", "2021-01-01T10:00:00.9Z", "2021-01-01T10:00:01.1Z", 1),
])
def test_date_diff_counts_boundaries(interval: str, first: str, second: str, expected: int) -> None:
    assert evaluate(f'DateDiff("{interval}", "{first}", "{second}")') == expected


def test_filetime_round_trip_and_limits() -> None:
    assert evaluate('NumFromDate(DateFromNum("129699324000000000"))') == 129699324000000000
    assert evaluate("DateFromNum(0)") == "1/1/1601 12:00:00 AM"
    with pytest.raises(ExpressionError, match="beyond the last representable date"):
        evaluate("DateFromNum(9223372036854775807)")


@pytest.mark.parametrize(("expression", "expected"), [
    ('FormatDateTime("2021-03-04T05:06:07.89Z", , "yyyy-MM-ddTHH:mm:ss.FFK", "dddd d MMMM yy, hh:mm tt")',
     "Thursday 4 March 21, 05:06 AM"),
    ('FormatDateTime("04/03/2021", "dd/MM/yyyy", "yyyyMMdd")', "20210304"),        # 3-argument form
    ('FormatDateTime("  20210304 ", , "yyyyMMdd", "yyyy-MM-ddTHH:mm:ss.fffK")', "2021-03-04T00:00:00.000Z"),
    ('FormatDateTime("2021-03-04+02:00", , "yyyy-MM-ddzzz", "yyyy-MM-dd HH:mm zzz")', "2021-03-03 22:00 +00:00"),
    ('FormatDateTime("7/4/21 3:05 PM", , "M/d/yy h:mm tt", "MMM dd yyyy HH\'h\'mm")', "Jul 04 2021 15h05"),
    ('FormatDateTime("20210304103000", , "yyyyMMddHHmmss", "yyyy-MM-dd\\\\THH:mm:ss.FZ")', "2021-03-04T10:30:00Z"),
    ('FormatDateTime(CDate("2021-03-04"), , "ignored", "%d")', "4"),
    ('FormatDateTime(" 2021 ", "None", "yyyy", "yyyy")', None),
])
def test_format_date_time(expression: str, expected: object) -> None:
    if expected is None:
        with pytest.raises(ExpressionError, match="does not match the date format"):
            evaluate(expression)
    else:
        assert evaluate(expression) == expected


@pytest.mark.parametrize("text", ["2021-13-01", "yesterday", "2021-02-30T00:00:00Z"])
def test_cdate_rejects_invalid_dates(text: str) -> None:
    with pytest.raises(ExpressionError, match="CDate: "):
        evaluate("CDate([d])", d=text)


def test_date_results_are_text_at_the_top_level_and_inside_text_functions() -> None:
    assert evaluate('Join(" ", "since", CDate("2020-03-16-07:00"))') == "since 3/16/2020 7:00:00 AM"
    naive_now = datetime(2021, 7, 2, 15, 33, 38)
    assert compile_expression("Now()").evaluate({}, now=naive_now) == "7/2/2021 3:33:38 PM"
    aware_now = datetime(2021, 7, 2, 15, 33, 38, tzinfo=UTC)
    assert compile_expression('DateDiff("d", Now(), "2021-07-12")').evaluate({}, now=aware_now) == 10


# --- the compiled object ----------------------------------------------------------------------

def test_attributes_lists_every_referenced_source_attribute() -> None:
    compiled = compile_expression(
        'IIF([country]="USA", Join(" ", [givenName], Item([proxyAddresses], 1)), [department])')
    assert compiled.attributes == frozenset({"country", "givenName", "proxyAddresses", "department"})
    assert compile_expression("Guid()").attributes == frozenset()


def test_attribute_names_are_case_sensitive_and_any_mapping_works() -> None:
    compiled = compile_expression("[givenName]")
    assert compiled.evaluate(MappingProxyType({"givenName": "Ann"})) == "Ann"
    assert compiled.evaluate({"givenname": "Ann"}) is None
