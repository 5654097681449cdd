"""summary.html and cycles.csv of a configuration whose cycles include dry runs: each dry run is
marked, left out of the totals, and a page whose last cycle was one opens by saying so."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from tenantsync import reports
from tenantsync.store import JobStatus, Store


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(f"sqlite:///{tmp_path / 'state.db'}")
    yield s
    s.close()


def _cycle(store: Store, *, dry_run: bool, creates: int) -> str:
    cid = store.start_cycle("emea-to-hq", "initial", dry_run=dry_run)
    store.finish_cycle("emea-to-hq", cid, counts={"create": creates, "success": creates}, status="success",
                       job=JobStatus(code="NotRun" if dry_run else "Active"))
    return cid


def _totals(page: str) -> list[str]:
    table = page.split("<h2>Totals</h2>", 1)[1].split("</table>", 1)[0]
    return re.findall(r"<td>(\d+)</td>", table)


def test_dry_runs_are_marked_and_left_out_of_the_totals(store: Store, tmp_path: Path) -> None:
    _cycle(store, dry_run=True, creates=106)
    files = reports.export_all(store, "emea-to-hq", tmp_path)
    page = files["summary"].read_text(encoding="utf-8")
    assert reports.DRY_RUN_NOTE in page and "The last cycle was a dry run" in page
    assert "initial (dry run)" in page                          # the cycles table and the chart's label
    assert _totals(page)[0] == "0"                              # create: nothing was written
    with files["cycles"].open(encoding="utf-8", newline="") as f:
        assert [r["dryRun"] for r in csv.DictReader(f)] == ["true"]

    _cycle(store, dry_run=False, creates=100)
    page = reports.export_all(store, "emea-to-hq", tmp_path)["summary"].read_text(encoding="utf-8")
    assert "The last cycle was a dry run" not in page
    assert "the 1 dry run(s) are not counted" in page and _totals(page)[0] == "100"
