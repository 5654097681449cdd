"""Artifacts as the Prefect UI renders them: the on-demand artifact's attributes
inside their collapsible section, test connection's table narrow with the advice in lists.

Both Prefect UIs end an HTML block at a blank line, and the classic one renders each block alone
(tenantsync/uimarkdown.py): a <details> is right only when it opens and closes in one block."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from tenantsync.ops.connection_test import test_connection
from tenantsync.ops.ondemand import provision, render_markdown
from tenantsync.uimarkdown import ROW_LIMIT, details_table, reasons_table, wide_rows

from .opsworld import OUT_OF_SCOPE, uid
from .test_permissions import lacking  # noqa: F401  (the fixture: tokens without every permission)


def blocks(markdown: str) -> list[str]:
    """The markdown's blocks as an HTML block sees them: text between blank lines."""
    return [b for b in re.split(r"\n[ \t]*\n", markdown) if b.strip()]


class Nesting(HTMLParser):
    """Which elements each <table> and <tr> is inside, in rendered HTML."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.tables: list[list[str]] = []
        self.rows_in_details = 0

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append(list(self.stack))
        if tag == "tr" and "details" in self.stack:
            self.rows_in_details += 1
        self.stack.append(tag)

    def handle_endtag(self, tag):
        if tag in self.stack:
            del self.stack[len(self.stack) - 1 - self.stack[::-1].index(tag):]


@pytest.fixture
def on_demand_md(ops) -> str:
    return render_markdown(provision(ops.cfg, [uid(1), uid(OUT_OF_SCOPE)], store=ops.store))


def test_on_demand_attributes_are_inside_their_collapsible_section(on_demand_md):
    md = on_demand_md
    assert md.count("<details>") == 2 == md.count("</details>")
    for block in blocks(md):
        if "<details>" in block:      # one HTML block: summary, table rows and the closing tag together
            assert block.startswith("<details><summary>Attributes read from the source (")
            assert block.rstrip().endswith("</details>")
            assert block.index("<summary>") < block.index("<tr><td>userPrincipalName</td>") < block.index("</details>")
            assert block.count("<tr>") == 1 + int(re.search(r"source \((\d+)\)", block).group(1))
    assert "<tr><td>department</td><td>Sales</td></tr>" in md and "<tr><td>department</td><td>Marketing</td></tr>" in md
    assert wide_rows(md) == []


def test_on_demand_details_is_one_html_block_for_a_commonmark_parser(on_demand_md):
    markdown_it = pytest.importorskip("markdown_it")
    tokens = markdown_it.MarkdownIt("commonmark").enable("table").parse(on_demand_md)
    html_blocks = [t.content for t in tokens if t.type == "html_block"]
    assert len(html_blocks) == 2
    assert all("<details>" in b and "</details>" in b and "<tr><td>mail</td>" in b for b in html_blocks)
    assert any(t.type == "table_open" for t in tokens)       # the steps are markdown tables still


def test_on_demand_attributes_render_inside_details_with_python_markdown(on_demand_md):
    markdown = pytest.importorskip("markdown")
    nesting = Nesting()
    nesting.feed(markdown.markdown(on_demand_md, extensions=["tables"]))
    in_details = [t for t in nesting.tables if "details" in t]
    assert len(in_details) == 2 and nesting.rows_in_details == 2 * 25       # header row + 24 attributes
    assert len(nesting.tables) > 2                             # the steps' tables, outside any <details>


def test_collapsible_table_escapes_its_text():
    lines = details_table("Attributes <read>", ["Attribute", "Value"], [["displayName", "<b>Ann & Bob</b>"]])
    assert lines[0] == "" and lines[-1] == ""                  # blank lines around: the block ends there
    assert "" not in lines[1:-1]                               # ...and nowhere inside
    assert "<details><summary>Attributes &lt;read&gt;</summary>" in lines
    assert "<tr><td>displayName</td><td>&lt;b&gt;Ann &amp; Bob&lt;/b&gt;</td></tr>" in lines


def test_reasons_go_under_a_narrow_table_once_each():
    long_reason = ("Left the scope (The user is neither assigned nor a direct member of an assigned group.): the "
                   "target user is soft deleted, as the accidental-deletion threshold allows it or an administrator did.")
    lines = reasons_table(["Display name", "Action", "Source id"], [["Ann", "delete", uid(1)], ["Bob", "delete", uid(2)],
                                                                    ["Cy", "disable", uid(3)]],
                          [long_reason, long_reason, "Disabled in the source."], unit="user")
    md = "\n".join(lines)
    assert lines[:3] == ["| Display name | Action | Reason | Source id |", "|---|---|---|---|",
                         f"| Ann | delete | 1 | {uid(1)} |"]
    assert f"| Cy | disable | 2 | {uid(3)} |" in lines
    assert md.count("Left the scope") == 1 and "1. Left the scope" in md and "(2 users)" in md and "2. Disabled in the source. (1 user)" in md
    assert wide_rows(md) == [] and wide_rows("| " + "x" * ROW_LIMIT + " |") != []


def test_test_connection_table_is_narrow_and_the_advice_is_a_list(lacking):  # noqa: F811
    report = test_connection(lacking.cfg)
    md = report.render_markdown()
    assert "| Check | Status | Code |" in md and wide_rows(md) == []
    assert "| Source permissions | failed (blocking) |" in md
    todo = md[md.index("## What to do"):md.index("## Passed") if "## Passed" in md else len(md)]
    assert "- **Source permissions** (failed, blocking" in todo and "- **Target permissions** (failed" in todo
    assert "  - What to do: " in todo and "admin-consent" in todo
    # the advice names the command line and the Prefect UI's route to the same procedure
    assert "`tenantsync setup CONFIG` (or in the Prefect UI: Deployments → setup/ops-emea-to-hq → Run → Quick run)" in todo


def test_test_connection_lists_every_check_in_fixing_order_once(ops):
    report = test_connection(ops.cfg)
    md = report.render_markdown()
    table = md[:md.index("\n## ")]
    assert [line.split(" | ")[0][2:] for line in table.splitlines()[6:]] == [c.name for c in report.checks]
    # warnings are in "What to do" with their advice, the passed checks' messages under "Passed"
    warned = [c for c in report.checks if c.status == "warning"]
    assert warned and all(f"- **{c.name}** (warning" in md for c in warned)
    assert md.count("- **") == len(report.checks) and wide_rows(md) == []


def test_upn_repair_and_sms_artifacts_keep_sentences_out_of_their_tables():
    from tenantsync.ops.disable_sms import SmsRepairResult
    from tenantsync.ops.repair import RepairResult

    old, new = "zoe.schmidt_emea.contoso.com#EXT#@hq.onmicrosoft.com", "zoe.schmidt_emea.contoso.com#EXT#@hq.contoso.com"
    repair = RepairResult("emea-to-hq", rows=[
        {"DisplayName": "Zoe Schmidt", "id": uid(1), "mail": "zoe.schmidt@emea.contoso.com", "oldUpn": old,
         "newUpn": new, "outcome": "repaired", "why": ""},
        {"DisplayName": "Tom Weber", "id": uid(2), "mail": "tom.weber@emea.contoso.com", "oldUpn": old, "newUpn": old,
         "outcome": "not repaired", "why": "No source user has this mail; it was invited by hand, not synchronized."}])
    md = repair.render_markdown()
    assert "| Zoe Schmidt | repaired |" in md and "| Tom Weber | not repaired |" in md and wide_rows(md) == []
    assert f"- **Zoe Schmidt** (zoe.schmidt@emea.contoso.com): `{old}` → `{new}`" in md
    assert f"- **Tom Weber** (tom.weber@emea.contoso.com): `{old}`; No source user has this mail" in md

    failed = "failed: 403 Authorization_RequestDenied: Insufficient privileges to complete the operation."
    sms = SmsRepairResult("emea-to-hq", dry_run=False, rows=[
        {"id": uid(3), "userPrincipalName": "ana@emea.contoso.com", "displayName": "Ana", "phoneMethodId": uid(9),
         "smsSignInStateBefore": "ready", "smsSignInStateAfter": "ready", "outcome": failed},
        {"id": uid(4), "userPrincipalName": "bo@emea.contoso.com", "displayName": "Bo", "phoneMethodId": uid(8),
         "smsSignInStateBefore": "ready", "smsSignInStateAfter": "notAllowedByPolicy", "outcome": "disabled"}])
    md = sms.render_markdown()
    assert "| Ana | ana@emea.contoso.com | ready | ready | failed |" in md and wide_rows(md) == []
    assert f"- **Ana**: {failed}" in md and "- **Bo**" not in md
