"""The progress bar of a long procedure, as an administrator sees it in a terminal (a pseudo-terminal
here): pages read, writes applied of planned, the write rate and an ETA; and nothing of it under
``--json`` or when the output goes to a pipe.

The tenant: 2,000 generated users (bench/generate.py) under the emulator's ``graph`` throttle,
time-scaled 20x (the write budget's 150 s window lasts 7.5 s). A 10,000-user tenant shows the same
bar but takes minutes, too slow for every test run: TENANTSYNC_PROGRESS_TEST_USERS=10000 runs it.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.prefect, pytest.mark.xdist_group("prefect")]

REPO = Path(__file__).resolve().parents[2]
USERS = int(os.environ.get("TENANTSYNC_PROGRESS_TEST_USERS", "2000"))     # 10000: the full-size check
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")


@pytest.fixture(scope="module")
def prefect_api() -> str:
    """The API of a Prefect server for the command lines started here: the one this process uses
    (a flow test's harness on this worker), else a temporary one started once."""
    from app.runner import prefect_env
    from flows._server import start_temporary_server

    prefect_env()
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value() or start_temporary_server()
    assert url
    return str(url)


@pytest.fixture(scope="module")
def big_tenant(tmp_path_factory: pytest.TempPathFactory):
    """(emulator, config file): 2,000 source users, an empty target, the graph throttle, 20x faster."""
    from bench.generate import main as generate
    from tenantsync.emulator import EmulatorServer

    work = tmp_path_factory.mktemp("big")
    fixture, config = work / "tenant.json", work / "bench.yaml"
    assert generate(["--users", str(USERS), "--seed", "1", "--out", str(fixture), "--config", str(config),
                     "--state", f"sqlite:///{work}/state.db"]) == 0
    with EmulatorServer(str(fixture), throttle="graph", time_scale=20.0, in_process=False) as server:
        yield server, config


def cli_env(prefect_api: str, graph_url: str) -> dict[str, str]:
    env = dict(os.environ, PREFECT_API_URL=prefect_api, TENANTSYNC_GRAPH_URL=graph_url,
               SOURCE_TOKEN="source-token", TARGET_TOKEN="target-token", TERM="xterm-256color")
    for name in ("COLUMNS", "LINES", "NO_COLOR", "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL"):
        env.pop(name, None)
    return env


def in_terminal(args: list[str], env: dict[str, str], cwd: Path, timeout_s: float = 600) -> tuple[int, str]:
    """Run the command line in a 120x40 pseudo-terminal; its exit status and everything it drew."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    proc = subprocess.Popen([sys.executable, "-m", "app", *args], stdin=follower, stdout=follower,
                            stderr=follower, cwd=cwd, env=env, start_new_session=True)
    os.close(follower)
    out = bytearray()
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 0.5)
            if ready:
                try:
                    data = os.read(leader, 65536)
                except OSError:         # the terminal closed: the command ended
                    break
                if not data:
                    break
                out += data
            elif proc.poll() is not None:
                break
        status = proc.wait(timeout=max(deadline - time.monotonic(), 1))
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(leader)
    return status, out.decode("utf-8", "replace")


def test_a_sync_in_a_terminal_shows_writes_applied_the_rate_and_an_eta(big_tenant, prefect_api, tmp_path):
    server, config = big_tenant
    started = time.monotonic()
    status, drawn = in_terminal(["sync", str(config)], cli_env(prefect_api, server.url), tmp_path)
    text = ANSI.sub("", drawn)
    assert status == 0, text[-3000:]
    assert time.monotonic() - started < 120 * max(USERS / 2000, 1)
    assert re.search(r"bench initial .*writes [\d,]+ of [\d,]+\+? .*writes/s .*ETA \d+:\d\d", text), text[-3000:]
    applied = [int(n.replace(",", "")) for n, _ in re.findall(r"writes ([\d,]+) of ([\d,]+)", text)]
    assert len(set(applied)) >= 4 and applied == sorted(applied), sorted(set(applied))     # it moves
    assert max(applied) > USERS * 0.95                                   # ~97 % of the users are in scope
    assert re.search(rf"{-(-USERS // 999)} page\(s\) read, {USERS:,} user\(s\)", text)
    assert re.search(r"ETA \d+:\d\d\+", text)           # while pages are read, the total still grows
    assert "actions and outcomes" in text                # then the result, as without a bar


def test_json_in_a_terminal_and_a_pipe_get_the_result_alone(samples, prefect_api, tmp_path):
    from typer.testing import CliRunner

    from app.cli import app

    emulator, configs = samples
    env = cli_env(prefect_api, emulator.url)
    status, drawn = in_terminal(["sync", str(configs["emea-to-hq"]), "--json"], env, tmp_path)
    assert status == 0, drawn
    result = json.loads(drawn)                           # nothing but the JSON result was printed
    assert result["kind"] == "initial" and "ETA" not in drawn

    piped = CliRunner().invoke(app, ["sync", str(configs["emea-to-hq"]), "--dry-run"])   # not a terminal
    assert piped.exit_code == 0, piped.output
    assert "actions and outcomes" in piped.stdout
    for shown in (piped.stdout, piped.stderr):
        assert "ETA" not in shown and "writes/s" not in shown and "\x1b[" not in shown
    assert re.search(r"(^|\n)done in [\d.]+ s\n$", piped.stderr), piped.stderr
