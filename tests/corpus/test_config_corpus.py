"""Malformed configuration files through the real command line, as an operator would write them.

Each file of ``configs/`` begins with a comment saying what is wrong, ``# expect: LINE KEY: TEXT``
(the refusal's line, key and the start of its message) and optionally ``# command: ...``
(default ``sync FILE --dry-run``). The command must exit 2 with exactly one line on stderr,
``error: FILE:LINE: KEY: TEXT...``, print nothing on stdout, and leave no trace: no state
database or directory in the working directory or the one a URL names, no request to the Graph
emulator its URLs point at, and no Prefect start (the check runs before Prefect is imported, so
typer's CliRunner runs it in-process; ``run_flow`` is replaced by a recorder that fails the case).
The ``valid-*`` files are the controls: they pass the check and reach the flow, so the harness
can tell a refusal from a file that was never run.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app import runner
from app.cli import app
from app.demo import FIXTURE
from tenantsync.yamlfile import MAX_FILE_BYTES

CONFIGS = Path(__file__).parent / "configs"
FILES = sorted(CONFIGS.iterdir())
EXPECT = re.compile(rb"^# expect: (ok|(\d+) (\S+): (.*))$", re.M)
COMMAND = re.compile(rb"^# command: (.*)$", re.M)


def expectation(path: Path) -> tuple[str, list[str]]:
    head = path.read_bytes()[:4096]
    found = EXPECT.search(head)
    assert found, f"{path.name}: no '# expect:' line"
    command = COMMAND.search(head)
    words = (command.group(1).decode() if command else "sync --dry-run").split()
    return found.group(1).decode(), words


@pytest.fixture(scope="module")
def emulator():
    from tenantsync.emulator import EmulatorServer

    with EmulatorServer(FIXTURE, port=0) as server:
        yield server


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, emulator):
    """run(file, words) -> (result, flows started); cwd and ${CORPUS_TMP} are an empty folder."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("CORPUS_TMP", str(work))
    monkeypatch.setenv("TENANTSYNC_GRAPH_URL", emulator.url)
    for name, value in {"EMEA_TOKEN": "emea-token", "HQ_TOKEN": "hq-token", "HQ_SECRET": "s"}.items():
        monkeypatch.setenv(name, value)
    started: list[str] = []
    monkeypatch.setattr(runner, "run_flow",
                        lambda module, name, /, **params: (started.append(name), runner.Run(runner.as_result({})))[1])

    def go(path: Path, words: list[str]):
        before = emulator.stats()["total_requests"]
        command, *options = words
        result = CliRunner().invoke(app, [command, str(path), *options])
        assert emulator.stats()["total_requests"] == before, "a request reached Graph"
        return result, started

    return go


def assert_refused(result, started, path: Path, line: str, key: str, text: str) -> None:
    assert not started, f"{path.name} was accepted: the flow would have run"
    assert result.exit_code == 2, (result.exit_code, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {path}:{line}: {key}: {text}"), lines[0]


def test_the_corpus_is_big_enough() -> None:
    refusals = [p for p in FILES if expectation(p)[0] != "ok"]
    assert len(refusals) >= 30
    assert {w[0] for p in FILES for w in [expectation(p)[1]]} >= {"sync", "test-connection", "user-source"}


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_malformed_configuration_is_refused_in_one_line_and_leaves_no_trace(path: Path, run) -> None:
    expect, words = expectation(path)
    result, started = run(path, words)
    work = Path.cwd()
    if expect == "ok":                                  # the control reaches the flow
        assert result.exit_code == 0 and started, (result.exit_code, result.stderr)
        return
    line, key, text = EXPECT.search(f"# expect: {expect}".encode()).groups()[1:]
    assert_refused(result, started, path, line.decode(), key.decode(), text.decode())
    assert os.listdir(work) == []                       # no state db, no data/state, no directory


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(run, tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    with big.open("wb") as fh:                          # 60 MB, sparse: only stat() sees its size
        fh.truncate(60_000_000)
    assert MAX_FILE_BYTES < 60_000_000
    result, started = run(big, ["sync", "--dry-run"])
    assert_refused(result, started, big, "1", "(file)", "the file is 60.0 MB; a configuration may be at most 1 MB")
    assert os.listdir(Path.cwd()) == []


def test_a_missing_file_and_a_directory_are_refused(run, tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    result, started = run(missing, ["test-connection"])
    assert_refused(result, started, missing, "1", "(file)", "cannot read the file (No such file or directory)")
    folder = tmp_path / "folder.yaml"
    folder.mkdir()
    result, started = run(folder, ["sync", "--dry-run"])
    assert_refused(result, started, folder, "1", "(file)", "not a regular file")


def test_the_state_directory_a_url_names_is_not_created(run) -> None:
    result, _ = run(CONFIGS / "state-missing-directory.yaml", ["sync", "--dry-run"])
    assert result.exit_code == 2 and "no/such/dir does not exist" in result.stderr
    assert not (Path.cwd() / "no").exists()


def test_a_secret_in_a_refused_url_is_never_echoed(run) -> None:
    result, _ = run(CONFIGS / "graph-url-password.yaml", ["sync", "--dry-run"])
    assert result.exit_code == 2 and "hunter2" not in result.stderr + result.stdout
