"""The one way a procedure runs from the command line and from the demo.

Prefect is set up and started as every procedure needs it (``prepare``), the flow is called in
this process (``call``: a run that failed raises ProcedureFailed, which carries the same
ProcedureResult as a success), the result is shown with the one renderer (app.render) or printed
as JSON, and the exit status is read from it (``result.exit_code``; 2 for bad input, refused
before Prefect starts). Errors print one line on stderr, no traceback (``--verbose`` shows them).

Prefect and the flows are imported here only when a procedure runs, so ``--help`` and the tools
that are no procedure stay fast and never start Prefect.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import typer

from tenantsync.results import ProcedureResult

from .progress import shown
from .render import err, failure_line, render

REPO = Path(__file__).resolve().parent.parent
_state = {"verbose": False}


def set_verbose(verbose: bool) -> None:
    _state["verbose"] = verbose


# -- failures ----------------------------------------------------------------------------------

def fail(message: str, code: int = 1) -> NoReturn:
    err().print(f"error: {message}", markup=False)
    raise typer.Exit(code)


def _exit_code(exc: BaseException) -> int:
    from tenantsync.errors import ConfigError, ExpressionError
    return 2 if isinstance(exc, (ConfigError, ExpressionError)) else 1


def guarded(fn: Callable[[], Any], *, bad_input: tuple[type[BaseException], ...] = ()) -> Any:
    """Run fn; a tenantsync error (or any other) becomes one line on stderr and an exit status.
    Exceptions of the ``bad_input`` types are the caller's input refused: exit status 2."""
    from tenantsync.errors import TenantSyncError
    try:
        return fn()
    except bad_input as exc:
        if _state["verbose"]:
            err().print_exception()
        fail(str(exc) or type(exc).__name__, 2)
    except typer.Exit:
        raise
    except KeyboardInterrupt:
        err().print("interrupted", markup=False)
        raise typer.Exit(130) from None
    except TenantSyncError as exc:
        if _state["verbose"]:
            err().print_exception()
        fail(str(exc), _exit_code(exc))
    except Exception as exc:
        if _state["verbose"]:
            err().print_exception()
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        fail(f"{type(exc).__name__}: {text}" if text else type(exc).__name__)


# -- Prefect -----------------------------------------------------------------------------------

def prefect_env() -> None:
    """Settings every procedure needs, set before Prefect is imported (it reads them then): the
    repository's PREFECT_HOME, a start-up timeout long enough for a first temporary server, no
    analytics, and a quiet console unless ``--verbose``."""
    env = os.environ
    if not env.get("PREFECT_HOME"):
        home = REPO / ".prefect-home" if (REPO / "pyproject.toml").exists() else Path.cwd() / ".prefect-home"
        env["PREFECT_HOME"] = str(home)
    try:
        timeout = float(env.get("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "0"))
    except ValueError:
        timeout = 0
    if timeout < 120:
        env["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "120"
    env["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    env.setdefault("DO_NOT_TRACK", "1")
    if not _state["verbose"]:
        # Quiet the console only: run logs still reach the Prefect API (and the UI).
        env.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")
    engine_loggers(env)


def engine_loggers(env: Any) -> None:
    """The engine's log lines ("tenantsync" loggers) in the run logs, as Prefect's own (flows/_logs.py);
    outside a run (deploy, delete-config) they are not sent, and no warning says so."""
    names = [n.strip() for n in env.get("PREFECT_LOGGING_EXTRA_LOGGERS", "").split(",") if n.strip()]
    if "tenantsync" not in names:
        env["PREFECT_LOGGING_EXTRA_LOGGERS"] = ",".join([*names, "tenantsync"])
    env.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")


def announce() -> None:
    if not os.environ.get("PREFECT_API_URL"):
        err().print("Starting a temporary Prefect server (about 20 s the first time; set PREFECT_API_URL "
                    "to use a running one)...", markup=False, style="dim")


def prepare(*, start: bool = True) -> None:
    """Prefect's settings, and its temporary server when PREFECT_API_URL names none: started now
    (``start``) or tied to this thread for Prefect to start later; either way it dies with us."""
    prefect_env()
    from flows._server import start_temporary_server
    start_temporary_server(start=start)


@dataclass(frozen=True)
class Run:
    """A procedure's result, and the one-line message of its final state when the run failed."""

    result: ProcedureResult
    failure: str | None = None


def as_result(value: Any, procedure: str = "") -> ProcedureResult:
    """A flow's return value as a ProcedureResult (a flow of an older release returned a dict)."""
    if isinstance(value, ProcedureResult):
        return value
    if isinstance(value, Mapping):
        return ProcedureResult.from_dict(value, procedure=procedure)
    return ProcedureResult(procedure=procedure, config="", status="success",
                           details={} if value is None else {"result": value})


def call(flow: Callable[..., Any], /, **params: Any) -> Run:
    """Call a flow in this process (Prefect prepared); a failed run is a result too."""
    from flows import ProcedureFailed

    name = str(getattr(flow, "name", "") or getattr(flow, "__name__", ""))
    try:
        return Run(as_result(flow(**params), name))
    except ProcedureFailed as exc:
        return Run(as_result(exc.result, name), exc.message)


def run_flow(module: str, name: str, /, **params: Any) -> Run:
    """Import flows.<module> lazily, start Prefect and call its flow."""
    import importlib

    prefect_env()
    announce()
    flow = getattr(importlib.import_module(module), name)
    prepare()
    return call(flow, **params)


# -- procedures --------------------------------------------------------------------------------

def check_config(config: str, *, user_source: bool = False, credentials: bool = True) -> None:
    """Validate a configuration file before Prefect starts (bad input changes nothing, and fails fast):
    also the state location and, for commands that reach Graph (``credentials``), that the used
    connections' credentials are there. A refusal is one line: ``FILE:LINE: key: ...``."""
    from tenantsync.errors import ConfigError
    from tenantsync.yamlfile import one_line

    if not looks_like_file(config):
        return          # a Prefect block name: the flow loads it
    path = Path(config)
    try:
        if user_source:
            from tenantsync.usersource import load_user_source_config
            load_user_source_config(path, credentials=credentials)
        else:
            from tenantsync.config import load_config
            load_config(path, credentials=credentials)
    except ConfigError as exc:
        raise ConfigError(one_line(exc.message), file=exc.file or config, line=exc.line or 1,
                          key=one_line(exc.key or "(file)", 120), value=exc.value,
                          allowed=one_line(exc.allowed) if exc.allowed else None) from None


def looks_like_file(config: str) -> bool:
    path = Path(config)
    return path.exists() or path.suffix.lower() in (".yaml", ".yml") or os.sep in config or "/" in config


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str, ensure_ascii=False))


def procedure(config_path: str | None, module: str, name: str, json_out: bool, /, *,
              user_source: bool = False, **params: Any) -> None:
    """Run a procedure's flow, show its result (a summary, or JSON with ``--json``) and exit with
    the result's status: 0 done, 1 failed (one ``error:`` line says what), 2 bad input."""
    def go() -> Run:
        if config_path is not None:
            check_config(config_path, user_source=user_source, credentials=module != "flows.reports")
        return run_flow(module, name, **params)

    started = time.monotonic()
    with shown(err(), quiet=json_out or _state["verbose"]):       # the progress bar (app/progress.py)
        run = guarded(go)
    show(run.result, json_out, started)
    finish(run)


def show(result: ProcedureResult, json_out: bool, started: float | None = None) -> None:
    if json_out:
        print_json(result.as_dict())
        return
    render(result)
    if started is not None:
        err().print(f"done in {time.monotonic() - started:.1f} s", style="dim", markup=False)


def finish(run: Run) -> None:
    """Exit with the result's status, saying in one line why when the run failed."""
    if run.result.failed:
        err().print(f"error: {failure_line(run.result, run.failure)}", markup=False)
        raise typer.Exit(run.result.exit_code)
