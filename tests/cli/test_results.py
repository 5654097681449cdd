"""One typed result for every procedure: what the exit status, the ``--json`` output and the flow's
final state read from it. The flows are replaced by their result (no Prefect server)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from app import runner
from app.cli import app
from app.demo import TOKENS, write_configs
from tenantsync.results import ProcedureResult, from_cycle_report, normalize_status

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for k, v in TOKENS.items():
        monkeypatch.setenv(k, v)
    return write_configs(tmp_path / "state")["emea-to-hq"]


def _invoke(monkeypatch: pytest.MonkeyPatch, result: ProcedureResult, *args: str, failure: str | None = None) -> Any:
    monkeypatch.setattr(runner, "run_flow", lambda *a, **k: runner.Run(result, failure))
    return CliRunner().invoke(app, list(args))


@dataclass
class Report:
    """A cycle report as the engine makes it (tenantsync.cycle.CycleReport's fields)."""

    kind: str = "incremental"
    counts: dict[str, int] = field(default_factory=lambda: {"update": 3, "success": 3, "failure": 0})
    job: dict[str, Any] = field(default_factory=lambda: {"code": "Active"})
    staged: int = 0
    dry_run: bool = False
    config: str = "emea-to-hq"
    cycle_id: str = "c1"
    message: str = "Job status: Active."


# -- exit status -----------------------------------------------------------------------------------

def test_a_run_skipped_because_another_holds_the_lock_exits_1_with_its_message(config, monkeypatch) -> None:
    busy = ProcedureResult(procedure="sync", config="emea-to-hq", status="skipped", reason="busy", kind="skipped",
                           message="another cycle of emea-to-hq is running on host h pid 1")
    run = _invoke(monkeypatch, busy, "sync", str(config))
    assert run.exit_code == 1, run.output
    assert run.stderr.strip().splitlines()[-1] == "error: another cycle of emea-to-hq is running on host h pid 1"


def test_a_disabled_user_source_is_skipped_by_choice_and_exits_0(monkeypatch) -> None:
    monkeypatch.setenv("EMEA_TOKEN", "emea-token")
    disabled = ProcedureResult(procedure="user-source", config="emea-user-source", status="skipped",
                               reason="disabled", message="user source is disabled (settings.enabled: false)")
    run = _invoke(monkeypatch, disabled, "user-source", str(REPO / "data/configs/user-source.yaml"))
    assert run.exit_code == 0, run.output
    assert "error:" not in run.stderr
    assert "disabled" in run.stdout          # the summary names the reason


def test_a_dry_run_with_staged_deletions_is_a_warning_and_exits_0(config, monkeypatch) -> None:
    result = from_cycle_report(Report(staged=7, dry_run=True))
    assert (result.status, result.reason) == ("warning", "staged-deletions")
    run = _invoke(monkeypatch, result, "sync", str(config), "--dry-run")
    assert run.exit_code == 0, run.output
    assert "staged deletions" in run.stdout


def test_a_failed_run_names_its_final_states_message(config, monkeypatch) -> None:
    result = ProcedureResult(procedure="sync", config="emea-to-hq", status="failure", reason="auth",
                             message="401 InvalidAuthenticationToken", job={"code": "Active"})
    run = _invoke(monkeypatch, result, "sync", str(config), failure="emea-to-hq: 401 InvalidAuthenticationToken")
    assert run.exit_code == 1
    assert run.stderr.strip().splitlines()[-1] == "error: emea-to-hq: 401 InvalidAuthenticationToken"


# -- --json ----------------------------------------------------------------------------------------

def test_json_keeps_the_keys_scripts_read(config, monkeypatch) -> None:
    result = from_cycle_report(Report(counts={"create": 2, "success": 1, "failure": 1}),
                               details={"failures": {"by_action": {"create": 1}, "by_error": {"Forbidden": 1}}})
    run = _invoke(monkeypatch, result, "sync", str(config), "--json")
    assert run.exit_code == 1
    data = json.loads(run.stdout)
    assert data["ok"] is False and data["status"] == "failure" and data["config"] == "emea-to-hq"
    assert data["counts"] == {"create": 2, "success": 1, "failure": 1} and data["job"] == {"code": "Active"}
    assert data["message"] == "Job status: Active." and data["kind"] == "incremental" and data["cycle_id"] == "c1"
    assert data["staged"] == 0 and data["failures"]["by_error"] == {"Forbidden": 1}      # details: top level
    assert data["procedure"] == "sync" and "details" not in data
    assert ProcedureResult.from_dict(data) == result


def test_json_of_a_procedure_keeps_its_own_keys_at_the_top(config, monkeypatch) -> None:
    checks = [{"name": "Source credentials", "status": "passed"}]
    result = ProcedureResult(procedure="test-connection", config="emea-to-hq", status="success",
                             message="emea-to-hq: all blocking checks passed",
                             details={"checks": checks, "sourceTenant": "s", "targetTenant": "t", "notChecked": []})
    run = _invoke(monkeypatch, result, "test-connection", str(config), "--json")
    assert run.exit_code == 0, run.output
    data = json.loads(run.stdout)
    assert data["ok"] is True and data["checks"] == checks and data["sourceTenant"] == "s"


# -- the result itself -----------------------------------------------------------------------------

@pytest.mark.parametrize("report, status, reason", [
    (Report(), "success", None),
    (Report(counts={"update": 2, "failure": 2}), "failure", None),
    (Report(job={"code": "Quarantine", "quarantine": {"reason": "EncounteredQuarantineException"}}),
     "failure", "quarantined"),
    (Report(staged=5, job={"code": "Quarantine", "quarantine": {"reason": "TooManyDeletes"}}),
     "failure", "staged-deletions"),
    (Report(job={"code": "Disabled"}), "failure", "quarantined"),
    # a few users on demand neither enter nor lift a quarantine: only their own outcome counts
    (Report(kind="on-demand", job={"code": "Quarantine", "quarantine": {"reason": "TooManyDeletes"}}),
     "success", None),
])
def test_a_cycle_report_becomes_one_status(report: Report, status: str, reason: str | None) -> None:
    result = from_cycle_report(report)
    assert (result.status, result.reason) == (status, reason)
    assert result.exit_code == (1 if status == "failure" else 0)


@pytest.mark.parametrize("spelling, expected", [
    ("success", ("success", None)), ("failed", ("failure", None)), ("busy", ("skipped", "busy")),
    ("disabled", ("skipped", "disabled")), ("quarantined", ("failure", "quarantined")), (None, ("success", None)),
])
def test_older_status_spellings_read_as_the_one_vocabulary(spelling: str | None, expected: tuple) -> None:
    assert normalize_status(spelling) == expected
    assert normalize_status(None, ok=False) == ("failure", None)


def test_the_user_sources_old_summary_reads_as_a_result() -> None:
    old = {"config": "emea-user-source", "status": "failed", "kind": "incremental", "cycle_id": None,
           "message": "Entra ID unreachable", "counts": {"users_created": 0}, "error": "timeout", "notifications": []}
    result = ProcedureResult.from_dict(old, procedure="user-source")
    assert result.status == "failure" and result.failed and result.cycle_id is None
    assert result.details == {"error": "timeout", "notifications": []}


def test_details_may_not_shadow_the_results_own_keys() -> None:
    with pytest.raises(ValueError, match="counts, ok"):
        ProcedureResult(procedure="x", config="c", status="success", details={"ok": True, "counts": {}})


# -- the flow's final state ------------------------------------------------------------------------

def test_the_final_state_and_the_runner_read_the_result() -> None:
    from flows._common import ProcedureFailed, final_state

    failed = ProcedureResult(procedure="sync", config="c", status="failure", message="c: 401")
    state = final_state(failed, name="Quarantined")
    assert state.is_failed() and state.name == "Quarantined" and state.message == "c: 401"
    error = state.result(raise_on_failure=False)
    assert isinstance(error, ProcedureFailed) and error.result is failed

    skipped = ProcedureResult(procedure="sync", config="c", status="skipped", reason="busy", message="busy")
    kept = final_state(skipped, name="Skipped", completed=True)           # the job is fine: Completed
    assert kept.is_completed() and kept.result() is skipped and skipped.exit_code == 1
    assert final_state(ProcedureResult(procedure="x", config="c", status="warning")).is_completed()

    def flow(**_: Any) -> Any:
        raise ProcedureFailed(failed, "c: the run failed")

    run = runner.call(flow)
    assert run.result is failed and run.failure == "c: the run failed"
    assert runner.call(lambda: {"config": "c", "status": "busy"}).result.reason == "busy"
