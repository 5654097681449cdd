"""The UI's Prefect database is its own: `make ui` keeps it in .prefect-ui, the demo and the command
line in .prefect-home, the tests in a temporary folder; a flow run of a test never writes into it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .flowkit import REPO, run

UI_DATABASE = REPO / ".prefect-ui"


def _files(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``folder`` with its size and modification time (nothing when absent)."""
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*") if p.is_file()} \
        if folder.exists() else {}


def test_make_ui_the_demo_and_the_tests_each_have_their_own_prefect_home(monkeypatch):
    from flows import ui

    assert ui.UI_HOME == UI_DATABASE
    monkeypatch.setenv("PREFECT_HOME", str(REPO / ".prefect-home"))          # what the Makefile exports
    assert ui.environment(4200, 8765)["PREFECT_HOME"] == str(UI_DATABASE)    # make ui: its own all the same
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_HOME"}
    demo = subprocess.run([sys.executable, "-c", "import os; from app import runner; runner.prefect_env(); "
                           "print(os.environ['PREFECT_HOME'])"], cwd=REPO, env=env, capture_output=True, text=True)
    assert demo.stdout.strip() == str(REPO / ".prefect-home"), demo.stderr    # the demo, the command line
    monkeypatch.undo()

    tests_home = Path(os.environ["PREFECT_HOME"]).resolve()
    assert REPO not in tests_home.parents, "the tests' Prefect home is inside the repository"
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    assert ".prefect-ui" in next(line for line in makefile.splitlines() if line.startswith("\trm -rf"))
    assert ".prefect-ui/" in (REPO / ".gitignore").read_text(encoding="utf-8").splitlines()


@pytest.mark.usefixtures("prefect_harness")
def test_a_flow_run_of_the_tests_leaves_the_ui_database_alone(make_config):
    from prefect.settings import get_current_settings

    from flows.connection import test_connection

    before = _files(UI_DATABASE)
    settings = get_current_settings()
    assert Path(settings.home).resolve() != UI_DATABASE
    assert ".prefect-ui" not in str(settings.server.database.connection_url or "")
    state, result = run(test_connection, config=str(make_config()))
    assert state.is_completed() and result["ok"] is True, state.message
    assert _files(UI_DATABASE) == before
