"""Advice that names a command line names the Prefect UI's route too, so an
administrator who only uses the UI can follow it (tenantsync/remedies.py)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tenantsync.errors import QuarantinedError, SetupRequired
from tenantsync.quarantine import WHAT_TO_DO, JobKeeper, what_to_do
from tenantsync.stages.guard import apply_deletion_threshold

from .test_permissions import lacking  # noqa: F401  (the fixture: tokens without every permission)

REPO = Path(__file__).resolve().parents[2]
UI = "in the Prefect UI: "
COMMAND = re.compile(r"--allow-deletes|--restart\b|tenantsync (setup|test-connection|sync) CONFIG")


def test_every_quarantine_advice_names_the_command_and_the_ui_route():
    for reason, text in WHAT_TO_DO.items():
        assert "tenantsync sync CONFIG --restart" in text and UI in text, reason
        assert "Deployments → sync-cycle/CONFIG-initial → Run → Quick run" in text, reason
    conn = what_to_do("EncounteredQuarantineException", "emea-to-hq")
    assert "tenantsync test-connection CONFIG" in conn
    assert "Deployments → test-connection/emea-to-hq → Run → Quick run" in conn


def test_too_many_deletes_advice_says_how_to_approve_in_the_ui():
    text = what_to_do("TooManyDeletes", "emea-to-hq")
    assert "approve them (tenantsync sync CONFIG --allow-deletes" in text      # the command line, as before
    assert "Resume the paused run and tick approve" in text
    assert "Deployments → sync-cycle/emea-to-hq-incremental → Run → Custom run → allow_deletes: true" in text
    assert what_to_do("no such reason", "x") == what_to_do("default", "x")


def test_the_threshold_message_names_both_ways_to_approve():
    from tenantsync.model import Action

    actions = [Action("delete", f"s{i}", f"t{i}", display_name=f"User {i}", reason="Left the scope.") for i in range(4)]
    decision = apply_deletion_threshold(actions, threshold=3, allow_deletes=False)
    assert decision.quarantine_reason == "TooManyDeletes" and len(decision.staged) == 4
    assert "tenantsync sync CONFIG --allow-deletes" in decision.message
    assert "in the Prefect UI: Resume the paused run and tick approve" in decision.message


def test_a_quarantined_job_says_how_to_restart_from_the_ui(ops):
    keeper = JobKeeper(ops.store, ops.cfg)
    keeper.enter_quarantine("EncounteredQuarantineException", "401")
    with pytest.raises(QuarantinedError) as skipped:
        keeper.check_due()
    text = str(skipped.value)
    assert "run with --restart to retry now" in text
    assert f"Deployments → sync-cycle/{ops.cfg.name}-initial → Run → Quick run" in text
    [note] = [n for n in ops.store.notifications(ops.cfg.name) if n["kind"] == "quarantine"]
    assert f"test-connection/{ops.cfg.name} → Run → Quick run" in note["body"]     # the e-mail too


def test_a_refused_cycle_names_the_setup_deployment(lacking):  # noqa: F811
    from tenantsync.cycle import CycleOptions, drive
    from tenantsync.service import open_cycle

    with pytest.raises(SetupRequired) as refused:
        with open_cycle(lacking.cfg, CycleOptions(), store=lacking.store) as cycle:
            drive(cycle)
    text = str(refused.value)
    assert "Then run `tenantsync setup CONFIG`" in text
    assert f"in the Prefect UI: Deployments → setup/{lacking.cfg.name} → Run → Quick run" in text


def _statements_naming_a_command(path: Path):
    src = path.read_text(encoding="utf-8")
    tree = ast.parse(src)
    docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                  if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and ast.get_docstring(n, clean=False)}
    compound = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.If, ast.For, ast.While, ast.With, ast.Try)
    for node in ast.walk(tree):
        if not isinstance(node, ast.stmt) or isinstance(node, compound):
            continue
        texts = [n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)
                 and id(n) not in docstrings and COMMAND.search(n.value)]
        if texts and not any("the command line's" in t for t in texts):      # an equivalence, not advice
            yield node.lineno, ast.get_source_segment(src, node) or ""


def test_no_advice_in_the_procedures_names_only_the_command_line():
    files = [*(REPO / "flows").glob("*.py"), *(REPO / "tenantsync" / "ops").glob("*.py"),
             *(REPO / p for p in ("tenantsync/quarantine.py", "tenantsync/stages/guard.py", "tenantsync/preflight.py",
                                  "tenantsync/anchor.py", "tenantsync/config.py", "app/render.py"))]
    only_cli = [f"{path.relative_to(REPO)}:{line}" for path in files for line, text in _statements_naming_a_command(path)
                if "Prefect UI" not in text and "remedies." not in text]
    assert not only_cli, "advice naming only the command line (add tenantsync.remedies' route): " + ", ".join(only_cli)
