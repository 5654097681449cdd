"""A dry run says in every report that it describes a plan: the result and its message, the
summary, the artifacts, provisioning-log.csv, cycles.csv and summary.html."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from .flowkit import artifacts_of, run

pytestmark = pytest.mark.usefixtures("prefect_harness")


def _rows(path: str | Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def test_every_report_of_a_dry_run_says_it_is_a_plan(make_config, reports_dir, world, capsys):
    from app.render import render
    from flows.sync import sync_cycle
    from tenantsync.config import load_config
    from tenantsync.ops.setup import run_setup
    from tenantsync.reports import DRY_RUN_NOTE

    cfg = make_config()
    run_setup(load_config(cfg))                     # a dry run registers nothing: setup first
    state, result = run(sync_cycle, config=str(cfg), dry_run=True, reports_dir=str(reports_dir))
    assert state.is_completed(), state.message

    # the result, the run's final state, the command line's summary: not "Job status: NotRun." alone
    assert result["message"].startswith(DRY_RUN_NOTE) and "Job status" not in result["message"]
    assert "initial cycle (dry run)" in state.message and DRY_RUN_NOTE in state.message
    capsys.readouterr()
    render(state.result())
    shown = " ".join(capsys.readouterr().out.replace("│", " ").split())       # table cells wrap
    assert "Dry run: this describes what a cycle would do; nothing was written." in shown

    arts = {a.key: a for a in artifacts_of(state) if a.key}
    summary = arts["emea-to-hq-summary"].data
    assert "(dry run)" in summary and DRY_RUN_NOTE in summary and "Planned actions (none applied)" in summary
    assert "A dry run leaves it as it was" in summary           # the job status it shows
    assert DRY_RUN_NOTE in arts["emea-to-hq-counts"].description
    links = [a for key, a in arts.items() if key.startswith("emea-to-hq-report-")]
    assert links and all(DRY_RUN_NOTE in a.description for a in links)
    assert "dry run" in arts["emea-to-hq-progress"].description

    log = _rows(result["reports"]["provisioning-log"])
    assert log and all(r["reason"].startswith("Dry run:") for r in log)
    assert not [r for r in log if r["provisioningAction"] in ("create", "update") and r["status"] == "success"]
    assert [r["dryRun"] for r in _rows(result["reports"]["cycles"])] == ["true"]
    page = Path(result["reports"]["summary"]).read_text(encoding="utf-8")
    assert DRY_RUN_NOTE in page and "The last cycle was a dry run" in page and "initial (dry run)" in page

    # a cycle that writes afterwards: the page no longer opens with the note, and the totals leave
    # the dry run out
    state, result = run(sync_cycle, config=str(cfg), reports_dir=str(reports_dir))
    assert state.is_completed(), state.message
    assert not result["message"].startswith(DRY_RUN_NOTE)
    page = Path(result["reports"]["summary"]).read_text(encoding="utf-8")
    assert "The last cycle was a dry run" not in page and "the 1 dry run(s) are not counted" in page
