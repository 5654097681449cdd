"""Running the emulator: `run()` (the CLI's entry), `main(argv)`, and `EmulatorServer`.

EmulatorServer starts at construction (in a daemon thread, or as a `python -m tenantsync.emulator`
subprocess), on a port it binds itself (port=0: a free one, no race), and returns once the server
answers. Its methods call the control API over HTTP, so they work the same in both modes.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from tenantsync.emulator.app import build_app, create_emulator
from tenantsync.emulator.core import Emulator
from tenantsync.emulator.faults import FaultSpec
from tenantsync.emulator.protocol import dumps

DEFAULT_PORT = 8765


def _bind(host: str, port: int) -> socket.socket:
    # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY only on sockets that say they are TCP,
    # and without it every response (headers, then body) stalls ~40 ms on delayed ACKs.
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM,
                         socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    return sock


def _config(app: Any) -> uvicorn.Config:
    # lifespan off: nothing to start; h11 + asyncio: no optional dependency needed.
    return uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                          http="h11", loop="asyncio", timeout_graceful_shutdown=2,
                          timeout_keep_alive=30)


def run(fixture_path: str | Path | None, port: int = DEFAULT_PORT, latency_ms: int = 0,
        throttle: str | None = None, time_scale: float = 1.0,
        faults: str | None = None, *, host: str = "127.0.0.1", fd: int | None = None,
        delta_token_ttl: float | None = None) -> None:
    """Serve the emulator until interrupted (the `tenantsync emulator` command).

    fd: an already bound listening socket (EmulatorServer's subprocess mode).
    delta_token_ttl: seconds a delta link stays valid (None: forever); see delta.py.
    """
    emulator = create_emulator(fixture_path, throttle=throttle, time_scale=time_scale,
                               faults=faults, latency_ms=latency_ms,
                               delta_token_ttl=delta_token_ttl)
    sock = socket.socket(fileno=fd) if fd is not None else _bind(host, port)
    bound_host, bound_port = sock.getsockname()[:2]
    tenants = ", ".join(f"{t.display_name} ({len(t.users)} users)"
                        for t in emulator.directory.tenants.values()) or "none"
    print(f"tenantsync emulator on http://{bound_host}:{bound_port}/v1.0 - tenants: {tenants}",
          flush=True)
    SELF_BASE[emulator] = own_base(bound_host, bound_port)
    server = uvicorn.Server(_config(build_app(emulator)))
    # uvicorn raises SIGTERM again once it has shut down: exit through `finally` (the provisioning
    # service's threads and stores) instead of dying there.
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    try:
        server.run(sockets=[sock])
    finally:
        from tenantsync.emulator.sync_runner import stop_runner

        stop_runner(emulator)
        sock.close()


# Emulator -> where it reaches itself (sync_runner.py), for the servers started here.
SELF_BASE: weakref.WeakKeyDictionary[Emulator, str] = weakref.WeakKeyDictionary()


def own_base(host: str, port: int) -> str:
    """Where the emulator reaches itself (its provisioning service's Graph calls): the bound
    address, loopback for a wildcard one, so a client's Host header (a port mapping, a
    container name) never matters."""
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def main(argv: list[str] | None = None) -> int:
    """`python -m tenantsync.emulator --fixture FILE [--port N] ...`; returns the exit status."""
    parser = argparse.ArgumentParser(prog="tenantsync emulator",
                                     description="Microsoft Graph emulator for tenantsync")
    parser.add_argument("--fixture", required=True, help="fixture JSON file (see docs/contracts.md)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--latency-ms", type=int, default=0)
    parser.add_argument("--throttle", choices=["graph", "none"], default=None)
    parser.add_argument("--time-scale", type=float, default=1.0)
    parser.add_argument("--faults", default=None, help="e.g. rate=0.1,codes=429:503:504:drop,seed=7")
    parser.add_argument("--delta-token-ttl", type=float, default=None,
                        help="seconds a delta link stays valid, then 410 Gone (default: forever)")
    parser.add_argument("--fd", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        run(args.fixture, args.port, args.latency_ms, args.throttle, args.time_scale,
            args.faults, host=args.host, fd=args.fd, delta_token_ttl=args.delta_token_ttl)
    except (ValueError, OSError) as exc:
        print(f"tenantsync emulator: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


class EmulatorServer:
    """A running emulator (context manager). `.base` = http://127.0.0.1:PORT, `.url` = base/v1.0."""

    def __init__(self, fixture: dict | str | Path, *, port: int = 0, throttle: str | None = None,
                 time_scale: float = 1.0, faults: str | dict | FaultSpec | None = None,
                 latency_ms: int = 0, in_process: bool = True, host: str = "127.0.0.1",
                 startup_timeout: float = 60.0, delta_token_ttl: float | None = None) -> None:
        self.fixture = fixture
        self.delta_token_ttl = delta_token_ttl
        self.in_process = in_process
        self.host = host
        self._sock: socket.socket | None = _bind(host, port)
        self.port: int = self._sock.getsockname()[1]
        self._thread: threading.Thread | None = None
        self._server: uvicorn.Server | None = None
        self._proc: subprocess.Popen | None = None
        self._tmp: list[str] = []
        self._client: httpx.Client | None = None
        self.emulator: Emulator | None = None      # in-process servers only
        try:
            if in_process:
                self._start_thread(throttle, time_scale, faults, latency_ms, startup_timeout)
            else:
                self._start_process(throttle, time_scale, faults, latency_ms, startup_timeout)
        except BaseException:
            self.stop()
            raise
        self._client = httpx.Client(base_url=self.base, timeout=120.0)

    # -- lifecycle -------------------------------------------------------------------------
    @property
    def base(self) -> str:
        """http://HOST:PORT"""
        return f"http://{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """The Graph root to give msgraph-sdk (no trailing slash): http://HOST:PORT/v1.0"""
        return f"{self.base}/v1.0"

    def _start_thread(self, throttle: str | None, time_scale: float, faults: Any,
                      latency_ms: int, timeout: float) -> None:
        # Direct access to the state, for tests only: it belongs to the server thread.
        emulator = self.emulator = create_emulator(self.fixture, throttle=throttle, time_scale=time_scale,
                                                   faults=faults, latency_ms=latency_ms,
                                                   delta_token_ttl=self.delta_token_ttl)
        SELF_BASE[emulator] = own_base(self.host, self.port)
        server = self._server = uvicorn.Server(_config(build_app(emulator)))
        sock = self._bound()
        self._thread = threading.Thread(
            target=lambda: asyncio.run(server.serve(sockets=[sock])),
            name=f"tenantsync-emulator-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the emulator thread stopped during startup")
            if time.monotonic() > deadline:
                raise TimeoutError("the emulator did not start in time")
            time.sleep(0.005)

    def _start_process(self, throttle: str | None, time_scale: float, faults: Any,
                       latency_ms: int, timeout: float) -> None:
        fixture = self.fixture
        if isinstance(fixture, dict):
            # A private folder: the control API loads fixture files from the fixture's folder
            # only (control.py), and /tmp itself holds other users' files.
            folder = tempfile.mkdtemp(prefix="tenantsync-fixture-")
            path = os.path.join(folder, "fixture.json")
            with open(path, "wb") as fh:
                fh.write(dumps(fixture))
            self._tmp += [path, folder]
            fixture = path
            self.fixture = path            # reset() re-reads it; no 100k-user dict kept here
        if isinstance(faults, FaultSpec):
            faults = faults.text
        elif isinstance(faults, dict):
            faults = ",".join(f"{k}={':'.join(map(str, v)) if isinstance(v, (list, tuple)) else v}"
                              for k, v in faults.items())
        fd_num = self._bound().fileno()
        cmd = [sys.executable, "-m", "tenantsync.emulator", "--fixture", str(fixture),
               "--fd", str(fd_num), "--latency-ms", str(latency_ms),
               "--time-scale", str(time_scale)]
        if throttle:
            cmd += ["--throttle", throttle]
        if faults:
            cmd += ["--faults", faults]
        if self.delta_token_ttl is not None:
            cmd += ["--delta-token-ttl", str(self.delta_token_ttl)]
        log_fd, log_path = tempfile.mkstemp(prefix="tenantsync-emulator-", suffix=".log")
        self._tmp.append(log_path)
        self._proc = subprocess.Popen(cmd, pass_fds=[fd_num], stdout=log_fd, stderr=log_fd,
                                      stdin=subprocess.DEVNULL)
        os.close(log_fd)
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2.0) as probe:
            while True:
                if self._proc.poll() is not None:
                    raise RuntimeError("the emulator process exited during startup:\n"
                                       + Path(log_path).read_text(errors="replace")[-2000:])
                try:
                    if probe.get(f"{self.base}/_emulator/health").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError("the emulator process did not start in time")
                time.sleep(0.05)
        # The child owns the listening socket now; if it dies, connecting fails at once.
        self._bound().close()
        self._sock = None

    def _bound(self) -> socket.socket:
        """The listening socket (bound in __init__; handed to the child process or closed by stop())."""
        if self._sock is None:
            raise RuntimeError("the emulator's listening socket is closed")
        return self._sock

    def stop(self) -> None:
        """Stop the server and release the port (idempotent)."""
        if self._client is not None:
            self._client.close()
            self._client = None
        if self.emulator is not None:         # the provisioning service's job threads first
            from tenantsync.emulator.sync_runner import stop_runner

            stop_runner(self.emulator)
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=5)
            self._proc = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        for path in self._tmp:                  # files first, then their folder
            try:
                os.rmdir(path) if os.path.isdir(path) else os.unlink(path)
            except OSError:
                pass
        self._tmp = []

    def __enter__(self) -> EmulatorServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- control API -----------------------------------------------------------------------
    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        if self._client is None:
            raise RuntimeError("the emulator is stopped")
        resp = self._client.request(method, path, **kwargs)
        if resp.status_code >= 400:
            raise RuntimeError(f"emulator control {method} {path}: {resp.status_code} {resp.text}")
        return resp.json()

    def reset(self, fixture: dict | str | Path | None = None) -> dict:
        """Replace every tenant with `fixture` (default: the fixture the server started with)."""
        fixture = self.fixture if fixture is None else fixture
        content = dumps(fixture) if isinstance(fixture, dict) else Path(fixture).read_bytes()
        return self._call("POST", "/_emulator/reset", content=content,
                          headers={"Content-Type": "application/json"})

    def redeem(self, tenant_id: str, user_id: str) -> dict:
        """The guest `user_id` of `tenant_id` accepts its invitation."""
        return self._call("POST", f"/_emulator/tenants/{tenant_id}/users/{user_id}/redeem")

    def leave(self, tenant_id: str, user_id: str, *, mode: str = "hard") -> dict:
        """The B2B user leaves the organisation: removed for good (mode="soft": deleted items)."""
        return self._call("POST", f"/_emulator/tenants/{tenant_id}/users/{user_id}/leave",
                          params={"mode": mode})

    def expire_delta_tokens(self) -> dict:
        """Every delta link (and nextLink of a delta round) issued so far now answers 410 Gone."""
        return self._call("POST", "/_emulator/expire-delta-tokens")

    def set_faults(self, spec: str | dict | None) -> dict:
        """Fault injection settings ('' or None: off)."""
        return self._call("POST", "/_emulator/faults", json={"spec": spec or ""}
                          if not isinstance(spec, dict) else spec)

    def stats(self) -> dict:
        """Request counters (see emulator/stats.py)."""
        return self._call("GET", "/_emulator/stats")

    def reset_stats(self) -> dict:
        """Zero the counters."""
        return self._call("POST", "/_emulator/stats/reset")

    def dump(self, tenant_id: str) -> dict:
        """Everything the tenant holds: users, deletedItems, groups, invitations, departures."""
        return self._call("GET", f"/_emulator/tenants/{tenant_id}/dump")

    def patch_user(self, tenant_id: str, user_id: str, fields: dict) -> dict:
        """Set fixture-only fields (smsSignInState, phoneNumber) or user properties directly."""
        return self._call("PATCH", f"/_emulator/tenants/{tenant_id}/users/{user_id}", json=fields)
