"""One end-to-end run of the command line through Prefect on the emulator (slow: a Prefect start)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import app

pytestmark = [pytest.mark.prefect, pytest.mark.xdist_group("prefect")]


@pytest.fixture
def world(samples):
    return samples[1]


def test_sync_then_report_through_the_command_line(world: dict[str, Path], tmp_path: Path) -> None:
    runner = CliRunner()
    config = str(world["emea-to-hq"])
    reports_root = tmp_path / "reports"

    first = runner.invoke(app, ["sync", config, "--json"])
    assert first.exit_code == 0, first.output
    result = json.loads(first.stdout)
    counts = result["counts"]
    assert result["kind"] == "initial" and result["ok"] is True
    # data/samples/README.md: 107 of EMEA's assigned users are provisioned (one matched by mail).
    assert counts["create"] + counts["update"] == 107 and counts["failure"] == 0

    again = runner.invoke(app, ["sync", config, "--dry-run"])
    assert again.exit_code == 0, again.output
    assert "incremental" in again.stdout and "actions and outcomes" in again.stdout

    exported = runner.invoke(app, ["report", config, "--out", str(reports_root), "--json"])
    assert exported.exit_code == 0, exported.output
    files = json.loads(exported.stdout)["files"]
    summary = Path(files["summary"])
    assert summary == (reports_root / "emea-to-hq" / "summary.html").resolve()
    assert "<svg" in summary.read_text(encoding="utf-8")
    with Path(files["cycles"]).open(encoding="utf-8") as f:
        cycles = list(csv.DictReader(f))
    assert [c["kind"] for c in cycles] == ["initial", "incremental"]
    log = Path(files[f"{result['cycle_id']}/provisioning-log"])
    with log.open(encoding="utf-8") as f:
        assert sum(1 for row in csv.DictReader(f) if row["provisioningAction"] == "create") == counts["create"]


def test_a_failed_connection_exits_1_with_one_line(world: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HQ_TOKEN", "not-a-token")
    result = CliRunner().invoke(app, ["test-connection", str(world["emea-to-hq"])])
    assert result.exit_code == 1, result.output
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: emea-to-hq: ") and "Traceback" not in result.stderr
    assert "FAILED" in result.stdout
