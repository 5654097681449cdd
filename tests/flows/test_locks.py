"""A `tenantsync sync` killed with SIGKILL mid-cycle: its temporary Prefect server dies with it, its
configuration lock does not outlive it, and a rerun with no manual unlock converges to what a clean
run gives. Real processes (the command line as a subprocess), the sample tenants on an in-process
emulator whose latency makes the cycle last long enough to be killed while it writes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from app.demo import FIXTURE, HQ_TENANT, TOKENS, write_configs
from tenantsync.emulator import EmulatorServer
from tenantsync.store import Store
from tenantsync.store.locks import LEASE_S, holder

pytestmark = [pytest.mark.prefect, pytest.mark.xdist_group("prefect")]

FIELDS = ("userPrincipalName", "mail", "displayName", "givenName", "surname", "accountEnabled", "userType",
          "department", "jobTitle")


def _children(pid: int) -> list[int]:
    """Processes whose parent is pid (proc(5): /proc/PID/stat field 4)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, IndexError):
                pass
    return found


def _running(pid: int) -> bool:
    """Alive and not a zombie (a zombie is dead; only its exit status waits to be read)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _cli(config: Path, server: EmulatorServer, tmp_path: Path, *extra: str) -> subprocess.Popen[str]:
    env = {**os.environ, **TOKENS, "TENANTSYNC_GRAPH_URL": server.url, "PREFECT_HOME": str(tmp_path / "prefect")}
    env.pop("PREFECT_API_URL", None)       # the temporary server, started by the command line
    return subprocess.Popen([sys.executable, "-m", "app", "sync", str(config), "--json", *extra],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _target(server: EmulatorServer) -> list[tuple[Any, ...]]:
    return sorted(tuple(str(u.get(f)) for f in FIELDS) for u in server.dump(HQ_TENANT)["users"])


def test_kill_9_mid_cycle_frees_lock_and_server_and_the_rerun_converges(tmp_path: Path) -> None:
    clean = EmulatorServer(FIXTURE, port=0)
    killed = EmulatorServer(FIXTURE, port=0, latency_ms=1500)
    try:
        # a clean run, for comparison
        configs = write_configs(tmp_path / "clean")
        run = _cli(configs["emea-to-hq"], clean, tmp_path)
        out, err = run.communicate(timeout=300)
        assert run.returncode == 0, err
        want = _target(clean)

        configs = write_configs(tmp_path / "killed")
        config = configs["emea-to-hq"]
        run = _cli(config, killed, tmp_path)
        deadline = time.monotonic() + 240
        while killed.stats()["writes"] < 40:                  # well into the invitations (107 users)
            assert run.poll() is None, run.communicate()[1]
            assert time.monotonic() < deadline, "the cycle never began writing"
            time.sleep(0.2)
        servers = _children(run.pid)          # the temporary Prefect server (uvicorn)
        assert servers, "no temporary Prefect server under the command line"
        run.send_signal(signal.SIGKILL)
        run.communicate()
        written = killed.stats()["writes"]

        deadline = time.monotonic() + 10
        while any(_running(p) for p in servers) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(_running(p) for p in servers), f"orphaned Prefect server(s): {servers}"

        url = f"sqlite:///{(tmp_path / 'killed' / 'emea-to-hq.db').as_posix()}"
        with Store(url) as store:
            left = holder(store.writer, "emea-to-hq")
        assert left is not None and left.pid == run.pid          # the dead process's lease is still there

        started = time.monotonic()
        rerun = _cli(config, killed, tmp_path)
        out, err = rerun.communicate(timeout=300)
        assert rerun.returncode == 0, err
        assert "another cycle" not in err
        assert time.monotonic() - started < LEASE_S + 120      # no wait for the lease; Prefect's start aside
        result = json.loads(out)
        assert result["counts"]["failure"] == 0
        assert killed.stats()["writes"] > written
        assert _target(killed) == want                         # no duplicate, no missing user
        with Store(url) as store:
            assert holder(store.writer, "emea-to-hq") is None  # released at the end
    finally:
        killed.stop()
        clean.stop()


@pytest.mark.usefixtures("prefect_harness")
def test_a_run_paused_for_approval_keeps_its_lock_and_others_are_refused(make_config, reports_dir, world):
    import threading

    from flows.sync import sync_cycle
    from tenantsync.store.locks import LockBusy, hold

    from .flowkit import run
    from .test_sync_flow import _resume_when_paused, _stage_five_deletions

    cfg, store, _ = _stage_five_deletions(make_config, world)
    seen: dict[str, Any] = {}

    def while_paused() -> None:
        found: list = []
        from prefect import get_client
        from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType
        from prefect.client.schemas.objects import StateType

        paused = FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED])))
        deadline = time.monotonic() + 60
        with get_client(sync_client=True) as client:
            while not client.read_flow_runs(flow_run_filter=paused) and time.monotonic() < deadline:
                time.sleep(0.3)
        seen["holder"] = holder(store.writer, "emea-to-hq")
        try:
            with hold(store.writer, "emea-to-hq", wait_s=0.5, poll_s=0.1):
                seen["overlap"] = True
        except LockBusy as exc:
            seen["refused"] = str(exc)
        _resume_when_paused(False, found)
        seen["resumed"] = bool(found)

    helper = threading.Thread(target=while_paused, daemon=True)
    helper.start()
    state, result = run(sync_cycle, config=str(cfg), ignore_quarantine=True, approval_timeout_s=60,
                        reports_dir=str(reports_dir))
    helper.join(10)
    assert seen.get("resumed") and "overlap" not in seen, seen
    assert seen["holder"].pid == os.getpid() and seen["holder"].what == "paused for deletion approval"
    assert seen["refused"].startswith("another cycle of emea-to-hq is running on host ")
    assert "(paused for deletion approval); waited " in seen["refused"]
    assert result["staged"] == 5
    assert holder(store.writer, "emea-to-hq") is None           # released when the run ended
