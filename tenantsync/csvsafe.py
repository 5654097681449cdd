"""CSV text an auditor can open in a spreadsheet without running anything or splitting a row.

Every CSV tenantsync writes goes through ``write_rows`` (via tenantsync.reports.write_csv):

- NUL characters are removed (spreadsheets and many CSV readers stop or fail at them);
- a cell a spreadsheet would run as a formula gets a leading ``'`` (a cell that already starts with
  ``'`` is text to a spreadsheet and is left as is, so the rule can be applied twice) (OWASP "CSV Injection": cells
  starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return), also when spaces come
  before that character (some importers trim them);
- a cell holding any control character (C0, DEL, C1, which includes the carriage return, line feed,
  tab and U+0085) or a Unicode line or paragraph separator (U+2028, U+2029) is quoted and gets the
  leading ``'`` too: a raw line break in an unquoted cell starts a new row whose first cell is
  whatever followed it (``"\\r=1+1"``);
- a cell holding the delimiter or a double quote is quoted (RFC 4180, quotes doubled).

Rows end with ``\\n``, as the files always did; a quoted cell keeps its line breaks, which
``csv.reader`` (and every spreadsheet) reads back as one cell.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
LINE_END = "\n"

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NEEDS_QUOTES = re.compile('[,"\x00-\x1f\x7f-\x9f\u2028\u2029]')


def safe_text(text: str) -> str:
    """The cell text to write: NUL removed, a leading ``'`` when a spreadsheet could run it."""
    if "\x00" in text:
        text = text.replace("\x00", "")
    if text.startswith("'"):
        return text
    if text.lstrip(" ").startswith(FORMULA_STARTS) or _CONTROL.search(text):
        return "'" + text
    return text


def quote(text: str) -> str:
    """One field of a row, quoted when it holds a delimiter, a quote or a control character."""
    if _NEEDS_QUOTES.search(text):
        return '"' + text.replace('"', '""') + '"'
    return text


def format_row(cells: Iterable[str]) -> str:
    """One line of the file: safe, quoted fields joined by commas, ending with LINE_END."""
    return ",".join(quote(safe_text(c)) for c in cells) + LINE_END


def write_rows(path: Path, header: Sequence[str], rows: Iterable[Sequence[str]]) -> Path:
    """Write ``header`` then ``rows`` (texts) to ``path``, UTF-8, creating its folder. The file is
    replaced whole: a reader never sees half of it, a crash leaves the previous one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    try:
        with partial.open("w", encoding="utf-8", newline="") as out:
            out.write(format_row(header))
            for row in rows:
                out.write(format_row(row))
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return path
