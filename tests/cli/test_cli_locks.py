"""`tenantsync unlock` and the one error line of a failed or refused run, as an operator sees them.

The unlock tests and the rendering tests need no Prefect (the flow is replaced by its result); the
last test runs a real refused `tenantsync sync` through Prefect's temporary server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from app import runner
from app.cli import app
from app.demo import FIXTURE, TOKENS, write_configs
from tenantsync.results import ProcedureResult
from tenantsync.store import Store
from tenantsync.store.locks import HOST, holder, try_acquire

OTHER = "worker-2.example/4242/99"


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for k, v in TOKENS.items():
        monkeypatch.setenv(k, v)
    return write_configs(tmp_path / "state")["emea-to-hq"]


def _store(config: Path) -> Store:
    return Store(f"sqlite:///{(config.parent / 'emea-to-hq.db').as_posix()}")


def _dead_holder() -> str:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return f"{HOST}/{p.pid}/1"


def test_unlock_without_state_says_not_locked_and_creates_nothing(config: Path) -> None:
    result = CliRunner().invoke(app, ["unlock", str(config)])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "emea-to-hq is not locked"
    assert not (config.parent / "emea-to-hq.db").exists()


def test_unlock_frees_a_dead_holders_lock(config: Path) -> None:
    dead = _dead_holder()
    with _store(config) as store:
        assert try_acquire(store.writer, "emea-to-hq", "sync cycle", who=dead) is None
    result = CliRunner().invoke(app, ["unlock", str(config)])
    assert result.exit_code == 0, result.output
    pid = dead.split("/")[1]
    assert result.stdout.startswith(f"unlocked emea-to-hq: removed the lock of host {HOST} pid {pid} since ")
    assert result.stdout.strip().endswith("(its process is gone)")
    with _store(config) as store:
        assert holder(store.writer, "emea-to-hq") is None


@pytest.mark.parametrize("who", ["self", "other-host"])
def test_unlock_refuses_while_the_holder_lives(config: Path, who: str) -> None:
    who_id = None if who == "self" else OTHER
    with _store(config) as store:
        assert try_acquire(store.writer, "emea-to-hq", "sync cycle", who=who_id) is None
    result = CliRunner().invoke(app, ["unlock", str(config)])
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: sync cycle of emea-to-hq is running on host ")
    if who == "self":
        assert f"host {HOST} pid {os.getpid()} since " in lines[0] and "(its process is alive)" in lines[0]
    else:
        assert "host worker-2.example pid 4242 since " in lines[0] and "its lease is renewed" in lines[0]
    assert "nothing was unlocked" in lines[0]
    with _store(config) as store:
        assert holder(store.writer, "emea-to-hq") is not None


def _sync_with(result: ProcedureResult, config: Path, monkeypatch: pytest.MonkeyPatch,
               failure: str | None = None) -> Any:
    monkeypatch.setattr(runner, "run_flow", lambda *a, **k: runner.Run(result, failure))
    return CliRunner().invoke(app, ["sync", str(config)])


def test_an_initial_cycle_with_failures_says_what_failed_and_how_many(config: Path, monkeypatch) -> None:
    result = ProcedureResult(
        procedure="sync", config="emea-to-hq", kind="initial", cycle_id="c1", status="failure",
        message="Job status: Active.", counts={"create": 2373, "update": 0, "success": 2373, "failure": 2800},
        job={"code": "Active"}, details={"failures": {"by_action": {"create": 2700, "update": 100},
                                                      "by_error": {"ServiceUnavailable": 2000, "GatewayTimeout": 800}}})
    run = _sync_with(result, config, monkeypatch)
    assert run.exit_code == 1
    errors = [line for line in run.stderr.splitlines() if line.startswith("error")]
    assert errors == ["error: emea-to-hq: 2,800 provisioning events failed (create 2,700, update 100; "
                      "ServiceUnavailable 2,000, GatewayTimeout 800; see provisioning-log.csv); job status Active"]
    assert "Job status:" not in run.stderr


def test_a_quarantined_cycle_names_the_reason(config: Path, monkeypatch) -> None:
    result = ProcedureResult(
        procedure="sync", config="emea-to-hq", kind="incremental", status="failure", reason="quarantined",
        counts={"failure": 1}, details={"failures": {"by_action": {"update": 1}, "by_error": {"Forbidden": 1}}},
        job={"code": "Quarantine", "quarantine": {"reason": "EncounteredQuarantineException",
                                                  "nextAttempt": "2026-01-01T10:00:00Z"}})
    run = _sync_with(result, config, monkeypatch, failure="emea-to-hq incremental cycle: failure 1. Job status: ...")
    assert run.exit_code == 1
    assert run.stderr.strip().splitlines()[-1] == (
        "error: emea-to-hq: 1 provisioning event failed (update 1; Forbidden 1; see provisioning-log.csv); job "
        "status Quarantine (EncounteredQuarantineException, next attempt 2026-01-01T10:00:00Z)")


@pytest.mark.prefect
@pytest.mark.xdist_group("prefect")
def test_a_refused_concurrent_run_prints_only_our_line(config: Path, tmp_path: Path) -> None:
    from tenantsync.emulator import EmulatorServer

    with _store(config) as store:
        assert try_acquire(store.writer, "emea-to-hq", "paused for deletion approval", who=OTHER) is None
    server = EmulatorServer(FIXTURE, port=0)
    try:
        env = {**os.environ, "TENANTSYNC_GRAPH_URL": server.url, "TENANTSYNC_LOCK_WAIT_S": "2",
               "PREFECT_HOME": str(tmp_path / "prefect")}
        env.pop("PREFECT_API_URL", None)
        env.pop("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", None)
        run = subprocess.run([sys.executable, "-m", "app", "sync", str(config)], env=env,
                             capture_output=True, text=True, timeout=300)
        writes = server.stats()["writes"]
    finally:
        server.stop()
    assert run.returncode == 1, run.stderr
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert lines[0].startswith("Starting a temporary Prefect server") and lines[1].startswith("done in ")
    assert len(lines) == 3, run.stderr
    assert lines[2].startswith("error: another cycle of emea-to-hq is running on host worker-2.example pid 4242 "
                               "since ")
    assert lines[2].endswith(" UTC (paused for deletion approval); waited 2 s")
    assert writes == 0                                       # nothing was written to the target
