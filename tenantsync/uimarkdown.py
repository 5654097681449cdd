"""Markdown that the Prefect UI renders as intended, for the artifacts tenantsync writes (docs/graph-sdk-notes.md#artifacts).

The Prefect UI of prefect 3.9 has two front ends and an artifact must read right in both
(docs/graph-sdk-notes.md#artifacts):
- the default one renders GFM with raw HTML (sanitized) in a prose column, where table cells wrap;
- the classic one renders each markdown block as its own component: an HTML block stands alone, so
  ``<details><summary>…</summary>``, a blank line, a markdown table and ``</details>`` show an empty
  collapsible section with the table after it; and a markdown table's cells do not wrap (no scroll
  bar either): a wide row is cut off.

Hence:
- a collapsible section is one HTML block (``details_table``): ``<details>``, ``<summary>``, an HTML
  ``<table>`` and ``</details>`` with no blank line between them (a blank line ends an HTML block in
  CommonMark and in both renderers); cell text is HTML-escaped;
- markdown tables keep short cells (names, statuses, codes, ids: ``ROW_LIMIT`` characters a row at
  most); sentences (messages, advice, reasons) go in lists under the table, where they wrap
  (``reasons_table``: a reason column holding the number of the reason listed under the table).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from typing import Any

ROW_LIMIT = 160          # characters in a markdown table row, what tests hold artifacts to


def cell(text: Any) -> str:
    """Text for a markdown table cell or list item: one line, pipes and angle brackets escaped."""
    return str("" if text is None else text).replace("|", "\\|").replace("<", "&lt;").replace("\n", " ")


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    """A markdown table (header, separator, rows), cells escaped."""
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return out


def details_table(summary: str, headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    """A collapsible section holding a table, as one HTML block (the module docstring): no blank line
    inside, the table in HTML, every text escaped. Blank lines around it end the block."""
    def e(text: Any) -> str:
        return html.escape(str(text), quote=False)

    out = ["", f"<details><summary>{e(summary)}</summary>", "<table>",
           "<thead><tr>" + "".join(f"<th>{e(h)}</th>" for h in headers) + "</tr></thead>", "<tbody>"]
    out += ["<tr>" + "".join(f"<td>{e(v)}</td>" for v in row) + "</tr>" for row in rows]
    out += ["</tbody>", "</table>", "</details>", ""]
    return out


def reasons_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], reasons: Sequence[str], *,
                  reason_header: str = "Reason", at: int = 2, legend: str = "Reasons",
                  unit: str = "row") -> list[str]:
    """A narrow table with a ``reason_header`` column (inserted at index ``at``) holding a number, and
    the reasons as a numbered list under it, each once, with how many rows give it."""
    numbers: dict[str, int] = {}
    for r in reasons:
        numbers.setdefault(r, len(numbers) + 1)
    counts = {r: list(reasons).count(r) for r in numbers}
    cols = [*headers[:at], reason_header, *headers[at:]]
    body = [[*row[:at], numbers[why], *row[at:]] for row, why in zip(rows, reasons, strict=True)]
    out = table(cols, body)
    if numbers:
        out += ["", f"{legend}:", ""]
        out += [f"{n}. {cell(r)} ({counts[r]} {unit}{'' if counts[r] == 1 else 's'})" for r, n in numbers.items()]
    return out


_ROW = re.compile(r"^\|.*\|$")


def wide_rows(markdown: str, limit: int = ROW_LIMIT) -> list[str]:
    """The markdown table rows longer than ``limit`` characters (none in a readable artifact)."""
    return [line for line in markdown.splitlines() if _ROW.match(line.strip()) and len(line) > limit]


__all__ = ["ROW_LIMIT", "cell", "details_table", "reasons_table", "table", "wide_rows"]
