"""Comments cite what a reader can open: a Microsoft documentation page by name ("user: delta",
"Configure cross-tenant synchronization") or a file under docs/ (`docs/entra-behaviour.md#quarantine`),
never a document outside the repository ("reference §7", "notes B7", "issue 5", DESIGN.md), and a
cited docs/ page and heading exist."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CODE_DIRS = ("tenantsync", "flows", "tasks", "blocks", "app", "bench", "tests")
HERE = Path(__file__).resolve().parent             # this folder names the patterns it forbids

# Citations of documents that live outside the repository (the project's former design notes).
OUTSIDE = re.compile(
    r"reference\s*§"                                # "reference §7", "entra-reference §2.3"
    r"|§\s*\d"                                      # "(§9)"; an RFC's section is public (below)
    r"|entra-reference|graph-and-prefect"
    r"|\bnotes [A-C]\d"                             # "notes B7", "notes A1/A2"
    r"|\bDESIGN\.md\b"
    r"|\bissues? #?\d+\b"                           # "issue 7" (a public upstream issue is owner/repo#N)
    r"|\.\./shared\b"
    r"|\bthe reference's\b|\bEntra reference\b",
    re.IGNORECASE)
DOC_CITE = re.compile(r"\bdocs/([\w./-]+\.md)(?:#([\w-]+))?")


def _files() -> Iterator[Path]:
    for folder in CODE_DIRS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if HERE not in path.resolve().parents:
                yield path


def _prose() -> Iterator[Path]:
    yield ROOT / "README.md"
    yield from sorted((ROOT / "docs").glob("*.md"))
    yield from sorted((ROOT / "data").rglob("*.md"))
    yield from sorted((ROOT / "data").glob("*.yaml"))


def outside_citations(text: str) -> list[str]:
    """The outside-document citations in ``text``, as matched."""
    return [m.group(0).strip() for m in OUTSIDE.finditer(text)
            if not (m.group(0).startswith("§") and re.search(r"\b(RFC|ISO)\b", text[max(0, m.start() - 12):m.start()]))]


def slug(heading: str) -> str:
    """The anchor GitHub gives a markdown heading: lowercase, punctuation dropped, spaces to dashes."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    return {slug(m.group(1)) for m in re.finditer(r"^#{1,6}\s+(.+?)\s*#*\s*$",
                                                  page.read_text(encoding="utf-8"), re.MULTILINE)}


@pytest.mark.parametrize("text", ["reference §7", "(entra-reference §2.3)", "Provisioning log (§9)",
                                  "notes B7", "see notes A1/A2", "issue 7", "Goals (Issue 7)",
                                  "DESIGN.md contract", "../shared/graph-and-prefect-notes.md",
                                  "the reference's examples"])
def test_the_old_citation_forms_are_recognised(text: str) -> None:
    assert outside_citations(text), text


@pytest.mark.parametrize("text", ['"user: delta"', "Configure cross-tenant synchronization",
                                  "docs/entra-behaviour.md#quarantine", "RFC 7231 §7.1.3",
                                  "microsoftgraph/msgraph-sdk-python#584", "the manager reference (references.py)"])
def test_public_citations_pass(text: str) -> None:
    assert outside_citations(text) == []


@pytest.mark.parametrize("heading,anchor", [("Published initial-cycle times", "published-initial-cycle-times"),
                                            ("Errors (tenantsync/errors.py)", "errors-tenantsyncerrorspy"),
                                            ("Licences and roles", "licences-and-roles")])
def test_headings_get_githubs_anchors(heading: str, anchor: str) -> None:
    assert slug(heading) == anchor


@pytest.mark.parametrize("folder", CODE_DIRS)
def test_code_cites_no_document_outside_the_repository(folder: str) -> None:
    found = []
    for path in _files():
        if path.relative_to(ROOT).parts[0] != folder:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for cite in outside_citations(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {cite!r} in {line.strip()[:100]}")
    assert not found, "cite a Microsoft page name or docs/ instead:\n" + "\n".join(found)


def test_docs_and_data_cite_no_document_outside_the_repository() -> None:
    found = [f"{path.relative_to(ROOT)}:{number}: {line.strip()[:100]}"
             for path in _prose()
             for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             if outside_citations(line)]
    assert not found, "\n".join(found)


def test_every_cited_docs_page_and_heading_exists() -> None:
    missing = []
    pages: dict[str, set[str]] = {}
    for path in [*_files(), *_prose()]:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for m in DOC_CITE.finditer(line):
                name, anchor = m.group(1), m.group(2)
                page = ROOT / "docs" / name
                where = f"{path.relative_to(ROOT)}:{number}: docs/{name}"
                if not page.is_file():
                    missing.append(f"{where}: no such page")
                    continue
                if anchor and anchor not in pages.setdefault(name, anchors(page)):
                    missing.append(f"{where}#{anchor}: no such heading")
    assert not missing, "\n".join(missing)
