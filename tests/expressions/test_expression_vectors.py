"""Every input → output vector of "Reference for writing expressions for attribute mappings" (docs/entra-behaviour.md#expression-language),
as one table: (expression, user attributes, expected value)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tenantsync.expressions import IGNORE, compile_expression, format_value

HIRE = {"StatusHireDate": "2012-03-16-07:00"}
JOHN_DOE = {"givenName": "John", "surname": "Doe"}
JOHN_SMITH = {"PreferredFirstName": "John", "PreferredLastName": "Smith"}
PHONE = r'"\\+(?<isdCode>\\d* )(?<phoneNumber>\\d{10})"'
SWITCH_STATE = ('Switch([state], "Australia/Sydney", "NSW", "Australia/Sydney","QLD", '
                '"Australia/Brisbane", "SA", "Australia/Adelaide")')
SWITCH_PREFIX = ('IgnoreFlowIfNullOrEmpty(Switch([prefix], "", "3443", "Dr.", "3444", "Prof.", '
                 '"3445", "Prof. Dr."))')
# 2021-01-01T07:59:59Z as FILETIME, computed from the Unix epoch (11644473600 s after 1601).
END_OF_2020_PST = (11_644_473_600 + 1_609_487_999) * 10_000_000

VECTORS = [
    # Append
    ('Append([userPrincipalName], ".test")', {"userPrincipalName": "John.Doe@contoso.com"},
     "John.Doe@contoso.com.test"),
    ("Append(Mid([givenName],1,3), Mid([surname],1,5))", JOHN_DOE, "JohDoe"),
    # BitAnd
    ("BitAnd(&HF, &HF7)", {}, 7),
    # CBool
    ("CBool([attribute1] = [attribute2])", {"attribute1": "x", "attribute2": "x"}, True),
    ("CBool([attribute1] = [attribute2])", {"attribute1": "x", "attribute2": "y"}, False),
    # CDate
    ("CDate([StatusHireDate])", {"StatusHireDate": "2020-03-16-07:00"}, "3/16/2020 7:00:00 AM"),
    ('CDate("2021-06-30+08:00")', {}, "6/29/2021 4:00:00 PM"),
    ('CDate("2009-06-15T01:45:30-07:00")', {}, "6/15/2009 8:45:30 AM"),
    # Coalesce
    ("Coalesce([mail],[userPrincipalName])", {"userPrincipalName": "John.Doe@contoso.com"},
     "John.Doe@contoso.com"),
    # ConvertToBase64 / ConvertToUTF8Hex
    ('ConvertToBase64("Hello world!")', {}, "SABlAGwAbABvACAAdwBvAHIAbABkACEA"),
    ('ConvertToUTF8Hex("Hello world!")', {}, "48656C6C6F20776F726C6421"),
    # CStr
    ("CStr([dn])", {"dn": "cn=Joe,dc=contoso,dc=com"}, "cn=Joe,dc=contoso,dc=com"),
    # DateAdd
    ('DateAdd("d", 7, CDate([StatusHireDate]))', HIRE, "3/23/2012 7:00:00 AM"),
    ('DateAdd("d", -10, CDate([StatusHireDate]))', HIRE, "3/6/2012 7:00:00 AM"),
    ('DateAdd("ww", 2, CDate([StatusHireDate]))', HIRE, "3/30/2012 7:00:00 AM"),
    ('DateAdd("m", 10, CDate([StatusHireDate]))', HIRE, "1/16/2013 7:00:00 AM"),
    ('DateAdd("yyyy", 2, CDate([StatusHireDate]))', HIRE, "3/16/2014 7:00:00 AM"),
    # DateDiff
    ('DateDiff("d", CDate("2021-08-18+08:00"), CDate("2021-08-31+08:00"))', {}, 13),
    ('DateDiff("d", CDate("8/25/2021 5:41:18 PM"), CDate([StatusHireDate]))', HIRE, -3449),
    ('DateDiff("ww", CDate("8/25/2021 5:41:18 PM"), CDate([StatusHireDate]))', HIRE, -493),
    ('DateDiff("m", CDate("8/25/2021 5:41:18 PM"), CDate([StatusHireDate]))', HIRE, -113),
    ('DateDiff("yyyy", CDate("8/25/2021 5:41:18 PM"), CDate([StatusHireDate]))', HIRE, -9),
    ('DateDiff("d", CDate("2021-08-31+08:00"), CDate("2021-08-31+08:00"))', {}, 0),
    ('DateDiff("h", CDate("2021-08-24"), CDate("2021-08-25"))', {}, 24),
    ('DateDiff("n", CDate("2021-08-24"), CDate("2021-08-25"))', {}, 1440),
    ('DateDiff("s", CDate("2021-08-24"), CDate("2021-08-25"))', {}, 86400),
    ('DateDiff("d", "8/25/2021 5:41:18 PM", "2012-03-16-07:00")', {}, -3449),  # text dates too
    # DateFromNum
    ("DateFromNum(129699324000000000)", {}, "1/1/2012 11:00:00 PM"),
    # FormatDateTime
    ('FormatDateTime([extensionAttribute1], , "yyyyMMddHHmmss.fZ", "yyyy-MM-dd")',
     {"extensionAttribute1": "20150123105347.1Z"}, "2015-01-23"),
    # IgnoreFlowIfNullOrEmpty
    ("IgnoreFlowIfNullOrEmpty([department])", {"department": ""}, IGNORE),
    (SWITCH_PREFIX, {"prefix": "9999"}, IGNORE),
    (SWITCH_PREFIX, {"prefix": "3443"}, "Dr."),
    # IIF
    ('IIF([country]="USA",[country],[department])', {"country": "USA", "department": "Sales"}, "USA"),
    ('IIF([country]="USA",[country],[department])', {"country": "NL", "department": "Sales"}, "Sales"),
    ('IIF([country]="USA",IIF([state]="CA","True","False"),"False")', {"country": "USA", "state": "CA"}, "True"),
    ('IIF([country]="USA",IIF([state]="CA","True","False"),"False")', {"country": "USA", "state": "WA"}, "False"),
    ('IIF([country]="USA",IIF([state]="CA","True","False"),"False")', {"country": "NL", "state": "CA"}, "False"),
    ('IIF([country]="USA","True",IIF([state]="CA","True","False"))', {"country": "NL", "state": "CA"}, "True"),
    ('IIF([country]="USA","True",IIF([state]="CA","True","False"))', {"country": "NL", "state": "WA"}, "False"),
    ('Switch([country],[country],"","Other")', {"country": ""}, "Other"),
    ('Switch([country],[country],"","Other")', {}, "Other"),
    ('Switch([country],[country],"","Other")', {"country": "NL"}, "NL"),
    # InStr
    ('InStr("The quick brown fox","quick")', {}, 5),
    ('InStr("repEated","e",3,vbBinaryCompare)', {}, 7),
    ('InStr("The quick brown fox","slow")', {}, 0),
    # IsNull / IsNullOrEmpty / IsPresent (doc examples)
    ("IsNull([displayName])", {}, True),
    ("IsNullOrEmpty([displayName])", {"displayName": ""}, True),
    (('Switch(IsPresent([directManager]),[directManager], IsPresent([skiplevelManager]),'
     '[skiplevelManager], IsPresent([director]),[director])'), {"directManager": "m1"}, "m1"),
    # Item
    ("Item([proxyAddresses], 1)", {"proxyAddresses": ["SMTP:a@contoso.com", "smtp:b@contoso.com"]},
     "SMTP:a@contoso.com"),
    # Join
    ('Join(", ", "", [surname], [givenName])', JOHN_DOE, "Doe, John"),
    ('PCase(Join(" ",[firstName],[lastName]))', {"firstName": "GREGORY", "lastName": "JAMES"},
     "Gregory James"),
    # Left / Mid
    ('Left("John Doe", 3)', {}, "Joh"),
    ('Left("John Doe", 0)', {}, ""),
    ('Left("John Doe", -1)', {}, "John Doe"),
    ("Left([missing], 3)", {}, ""),
    ('Left("Jo", 3)', {}, "Jo"),
    ('Mid("John",1,3)', {}, "Joh"),
    ('Mid("Doe",1,5)', {}, "Doe"),
    # NormalizeDiacritics
    ("NormalizeDiacritics([givenName])", {"givenName": "Zoë"}, "Zoe"),
    ('NormalizeDiacritics("Søren Strauß Ærø")', {}, "Soeren Strauss AEroe"),
    # Not
    ('Not("True")', {}, False),
    ('Not("False")', {}, True),
    ('Not("anything")', {}, True),
    # NumFromDate
    ('NumFromDate("2012-01-01T23:00:00Z")', {}, 129699324000000000),
    (('NumFromDate(Join("", FormatDateTime([ContractEndDate], ,"yyyy-MM-ddzzz","yyyy-MM-dd"), '
     '" 23:59:59-08:00"))'), {"ContractEndDate": "2020-12-31-08:00"}, END_OF_2020_PST),
    (('NumFromDate(Join("",FormatDateTime([endDate], ,"M/d/yyyy hh:mm:ss tt","yyyy-MM-dd"),'
     '" 23:59:59-08:00"))'), {"endDate": "12/31/2020 09:30:00 AM"}, END_OF_2020_PST),
    # PCase
    ("PCase([firstName])", {"firstName": "PABLO GONSALVES (SECOND)"}, "Pablo Gonsalves (Second)"),
    ("PCase([lastName],\" '-\")", {"lastName": "PINTO-DE'SILVA"}, "Pinto-De'Silva"),
    # Redact: the value flows
    ("Redact([userPrincipalName])", {"userPrincipalName": "a@contoso.com"}, "a@contoso.com"),
    # RemoveDuplicates
    ("RemoveDuplicates([proxyAddresses])", {"proxyAddresses": ["smtp:a", "smtp:b", "smtp:a"]},
     ["smtp:a", "smtp:b"]),
    # Replace
    ('Replace([BusinessTitle],"Product Developer", , , "Software Engineer", , )',
     {"BusinessTitle": "Product Developer"}, "Software Engineer"),
    ('Replace([UserID],"<username>", , , , , "<username>@contoso.com")', {"UserID": "jsmith"},
     "jsmith@contoso.com"),
    (f'Replace([telephoneNumber], , {PHONE}, , "${{phoneNumber}}", , )',
     {"telephoneNumber": "+91 9998887777"}, "9998887777"),
    # The doc prints 19998887777, but its class [()\s-] has no "+": any regex engine, .NET
    # included, keeps the plus. A doc error like the composite example below.
    (r'Replace([mobile], , "[()\\s-]+", , "", , )', {"mobile": "+1 (999) 888-7777"}, "+19998887777"),
    (r'Replace([mobile], , "[+()\\s-]+", , "", , )', {"mobile": "+1 (999) 888-7777"}, "19998887777"),
    (r'Replace([AddressLineData], ,"(?<streetNumber>^\\d*)","streetNumber", "888", , )',
     {"AddressLineData": "545 Tremont Street"}, "888 Tremont Street"),
    ('Replace([userPrincipalName], , "(?<Suffix>@(.)*)", "Suffix", "", , )',
     {"userPrincipalName": "jsmith@contoso.com"}, "jsmith"),
    (f'Replace([telephoneNumber], , {PHONE}, "phoneNumber" , , [mobile], )',
     {"telephoneNumber": "", "mobile": "+91 8887779999"}, "8887779999"),
    ('Replace([mailNickname], , "[a-zA-Z_]*", , "", , )', {"mailNickname": "john_doe72"}, "72"),
    ('Replace([mail], "@contoso.com", , ,"", ,)', {"mail": "john.doe@contoso.com"}, "john.doe"),
    ('Join("", 1000, Replace(ConvertToUTF8Hex([objectId]), , "[a-zA-Z_]*", , "", , ))',
     {"objectId": "00aa00aa-bb11-cc22-dd33-44ee44ee44ee"},
     "100030306161303061612626231312636332322646433332343465653434656534346565"),
    # Split
    ('Split([extensionAttribute5], ",")', {"extensionAttribute5": "PermissionSetOne, PermissionSetTwo"},
     ["PermissionSetOne", "PermissionSetTwo"]),
    # StripSpaces
    ('StripSpaces("John  Smith ")', {}, "JohnSmith"),
    # Switch
    (SWITCH_STATE, {"state": "QLD"}, "Australia/Brisbane"),
    (SWITCH_STATE, {"state": "WA"}, "Australia/Sydney"),
    ('Switch(ToLower([statusFlag]), "0", "true", "1", "false", "0")', {"statusFlag": "TRUE"}, "1"),
    ('Switch([statusFlag], "Default Value", "true", "1", "", "0")', {"statusFlag": ""}, "0"),
    # ToLower
    (('ToLower(Join("@", NormalizeDiacritics(StripSpaces(Join(".", [PreferredFirstName], '
     '[PreferredLastName]))), "contoso.com"))'), JOHN_SMITH, "john.smith@contoso.com"),
    # Word
    ('Word("The quick brown fox",3," ")', {}, "brown"),
    ('Word("This,string!has&many separators",3,",!&#")', {}, "has"),
    # Default value via expression (customize doc)
    ('Switch(IsPresent([jobTitle]), "DefaultValue", "True", [jobTitle])', {"jobTitle": "CFO"}, "CFO"),
    ('Switch(IsPresent([jobTitle]), "DefaultValue", "True", [jobTitle])', {}, "DefaultValue"),
]


@pytest.mark.parametrize(("expression", "user", "expected"), VECTORS,
                         ids=[f"{i:02}-{v[0][:40]}" for i, v in enumerate(VECTORS)])
def test_documented_vector(expression: str, user: dict, expected: object) -> None:
    assert compile_expression(expression).evaluate(user) == expected


NOW = datetime(2021, 7, 2, 15, 33, 38, tzinfo=UTC)


def test_now_prints_the_documented_format() -> None:
    assert compile_expression("Now()").evaluate({}, now=NOW) == "7/2/2021 3:33:38 PM"


@pytest.mark.parametrize(("hire", "expected"), [
    ("2021-07-05-07:00", "True"),    # 3 days ahead: within the next five days
    ("2021-07-20-07:00", "False"),   # 18 days ahead
])
def test_dateDiff_inside_iif_example(hire: str, expected: str) -> None:
    expression = ('Switch([Active], , \n  "1", IIF(DateDiff("d", Now(), CDate([StatusHireDate])) > 5, '
                  '"False", "True"), \n  "0", "False")')
    user = {"Active": "1", "StatusHireDate": hire}
    assert compile_expression(expression).evaluate(user, now=NOW) == expected


def test_dateDiff_inside_iif_example_with_unknown_active_flag_is_null() -> None:
    expression = 'Switch([Active], , "1", "True", "0", "False")'
    assert compile_expression(expression).evaluate({"Active": "7"}) is None


def test_guid_has_the_documented_shape() -> None:
    value = compile_expression("Guid()").evaluate({})
    assert len(value) == 36 and value.count("-") == 4
    assert value != compile_expression("Guid()").evaluate({})


@pytest.mark.parametrize("expression", ["RandomString(6,3,0,0,3)", 'RandomString(10,2,2,2,1,"?,")'])
def test_random_string_respects_documented_constraints(expression: str) -> None:
    compiled = compile_expression(expression)
    for _ in range(200):
        value = compiled.evaluate({})
        if expression.startswith("RandomString(6"):
            assert len(value) == 6
            assert sum(c.isdigit() for c in value) >= 3 and sum(c.islower() for c in value) >= 3
        else:
            assert len(value) == 10 and "?" not in value and "," not in value
            assert sum(c.isdigit() for c in value) >= 2 and sum(c.isupper() for c in value) >= 2
            assert sum(c.islower() for c in value) >= 1
            assert sum(not c.isalnum() for c in value) >= 2


def test_redact_marks_the_expression_but_not_the_value() -> None:
    compiled = compile_expression("Redact(RandomString(6,3,0,0,3))")
    assert compiled.redacts and len(compiled.evaluate({})) == 6
    assert not compile_expression("[mail]").redacts


def test_count_of_multi_valued_attribute() -> None:
    assert compile_expression("Count([proxyAddresses])").evaluate({"proxyAddresses": ["a", "b"]}) == 2


def test_format_value_prints_like_entra() -> None:
    assert format_value(True) == "True"
    assert format_value(["PermissionSetOne", "PermissionSetTwo"]) == '["PermissionSetOne", "PermissionSetTwo"]'
    assert format_value(7) == "7"
    assert format_value(None) == "null"
    assert format_value(IGNORE) == "[IgnoreFlow]"
    assert format_value("Doe, John") == "Doe, John"
