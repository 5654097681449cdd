"""The temporary Prefect server of a command line dies with the command line.

With no PREFECT_API_URL, Prefect 3 starts a temporary server as a child process
(``prefect.server.api.server.SubprocessASGIServer``: ``subprocess.Popen([python, -m, uvicorn,
...])``) and stops it from an ``atexit`` handler. A process killed with SIGKILL runs no atexit
handler, so the server was orphaned and kept running.

Here the child asks the kernel for SIGTERM when its parent dies (``prctl(PR_SET_PDEATHSIG)``,
prctl(2)), set between fork and exec. The kernel sends it when the *thread* that forked exits, so
the server is started here from the main thread before any flow runs; Prefect's clients then reuse
that one instance (``SubprocessASGIServer()`` is one instance per port, None being the default).
Where prctl does not exist (not Linux), Prefect's own behaviour is kept.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys
from typing import Any

PR_SET_PDEATHSIG = 1            # <linux/prctl.h>


def _prctl() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.prctl
    except (OSError, AttributeError):
        return None


class _DieWithParent:
    """Stands in for the ``subprocess`` module inside prefect.server.api.server: its Popen sets
    the death signal in the child; everything else is the real module."""

    def __init__(self, prctl: Any):
        parent = os.getpid()

        def in_child() -> None:         # after fork, before exec: no imports, no locks
            prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
            if os.getppid() != parent:  # the parent died before prctl: go at once
                os._exit(1)

        class Popen(subprocess.Popen):  # type: ignore[type-arg]
            def __init__(self, *args: Any, **kwargs: Any):
                kwargs.setdefault("preexec_fn", in_child)
                super().__init__(*args, **kwargs)

        self.Popen = Popen

    def __getattr__(self, name: str) -> Any:
        return getattr(subprocess, name)


def start_temporary_server(*, start: bool = True) -> str | None:
    """Start Prefect's temporary server (if no API URL is set) tied to this process; its API URL,
    or None when a server is configured or ephemeral mode is off. ``start=False`` only ties the
    server Prefect will start later (from this thread, which must outlive it)."""
    from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_ALLOW_EPHEMERAL_MODE

    if PREFECT_API_URL.value() or not PREFECT_SERVER_ALLOW_EPHEMERAL_MODE.value():
        return None
    import prefect.server.api.server as server_module

    prctl = _prctl()
    if prctl is not None and not isinstance(server_module.subprocess, _DieWithParent):
        server_module.subprocess = _DieWithParent(prctl)  # type: ignore[assignment]
    server = server_module.SubprocessASGIServer()
    if not start:
        return None
    server.start()
    return server.api_url
