"""The ``tenantsync`` command line (DESIGN.md, "Command line").

Procedures (test-connection, sync, provision, repair-upn, disable-sms, user-source, report, demo) run their
Prefect flow and print a short summary, or the flow's JSON result with ``--json``. Tools (emulator,
expression, render) never import Prefect and answer at once. Prefect and the flows are imported
inside the commands only, so ``--help`` and the tools stay fast, and a procedure starts in about a
second when ``PREFECT_API_URL`` points at a running server (otherwise Prefect starts a temporary
server: ~20 s on a fresh ``PREFECT_HOME``).

deploy and delete-config run no flow: they use the server of PREFECT_API_URL directly when one
is set (deploy needs one), and the engine for the rest.

Exit status: 0 done; 1 the run failed (an error, failed provisioning events, quarantine); 2 bad
input (configuration, expression, arguments). Errors print one line on stderr, no traceback
(``--verbose`` shows Prefect's logs and tracebacks).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NoReturn

import typer

from tenantsync.cli_render import (
    err,
    out,
    render_connection,
    render_cycle,
    render_disable_sms,
    render_provision,
    render_repair,
    render_reports,
    render_setup,
    render_user_source,
    rows_table,
)

app = typer.Typer(
    name="tenantsync", no_args_is_help=True, add_completion=False, rich_markup_mode=None,
    pretty_exceptions_show_locals=False,      # locals may hold secrets
    help="Keeps identities in step between Microsoft Entra ID tenants (cross-tenant synchronization "
         "as Prefect pipelines). Procedures run as Prefect flows; 'emulator' and 'expression' do not.",
    context_settings={"help_option_names": ["-h", "--help"]})

REPO = Path(__file__).resolve().parent.parent
MAX_ON_DEMAND = 5
_state = {"verbose": False}

JsonOpt = typer.Option(False, "--json", help="Print the machine-readable result (JSON) instead of a summary.")
ConfigArg = typer.Argument(..., metavar="CONFIG", help="Sync configuration: a YAML file (or a Prefect block name).",
                           show_default=False)




@app.callback()
def main(verbose: bool = typer.Option(False, "--verbose", "-v",
                                      help="Show Prefect's logs and full tracebacks.")) -> None:
    _state["verbose"] = verbose


# -- failures ----------------------------------------------------------------------------------

def fail(message: str, code: int = 1) -> NoReturn:
    err().print(f"error: {message}", markup=False)
    raise typer.Exit(code)


def _exit_code(exc: BaseException) -> int:
    from .errors import ConfigError, ExpressionError
    return 2 if isinstance(exc, (ConfigError, ExpressionError)) else 1


def _guarded(fn: Callable[[], Any], *, bad_input: tuple[type[BaseException], ...] = ()) -> Any:
    """Run fn; a tenantsync error (or any other) becomes one line on stderr and an exit status.
    Exceptions of the ``bad_input`` types are the caller's input refused: exit status 2."""
    from .errors import TenantSyncError
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
    """Settings every procedure needs before Prefect is imported (graph-and-prefect-notes B7)."""
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


def run_flow(module: str, name: str, /, **params: Any) -> tuple[Any, str | None]:
    """Import flows.<module> lazily and call its flow in this process.

    Returns (result, failure message or None): a flow that ran and failed raises ProcedureFailed,
    which carries the same JSON-able result as a success."""
    prefect_env()
    if not os.environ.get("PREFECT_API_URL"):
        err().print("Starting a temporary Prefect server (about 20 s the first time; set PREFECT_API_URL "
                    "to use a running one)...", markup=False, style="dim")
    import importlib

    from flows import ProcedureFailed
    from flows._server import start_temporary_server
    flow = getattr(importlib.import_module(module), name)
    start_temporary_server()            # dies with this process, also on SIGKILL
    try:
        return flow(**params), None
    except ProcedureFailed as exc:
        return exc.result, exc.message


def check_config(config: str, *, user_source: bool = False, credentials: bool = True) -> None:
    """Validate a configuration file before Prefect starts (bad input changes nothing, and fails fast):
    also the state location and, for commands that reach Graph (``credentials``), that the used
    connections' credentials are there. A refusal is one line: ``FILE:LINE: key: ...``."""
    from .errors import ConfigError
    from .yamlfile import one_line

    path = Path(config)
    looks_like_file = path.exists() or path.suffix.lower() in (".yaml", ".yml") or os.sep in config or "/" in config
    if not looks_like_file:
        return          # a Prefect block name: the flow loads it
    try:
        if user_source:
            from .usersource import load_user_source_config
            load_user_source_config(path, credentials=credentials)
        else:
            from .config import load_config
            load_config(path, credentials=credentials)
    except ConfigError as exc:
        raise ConfigError(one_line(exc.message), file=exc.file or config, line=exc.line or 1,
                          key=one_line(exc.key or "(file)", 120), value=exc.value,
                          allowed=one_line(exc.allowed) if exc.allowed else None) from None


def procedure(config_path: str | None, module: str, name: str, render: Callable[[Mapping[str, Any]], None],
              json_out: bool, /, *, user_source: bool = False, **params: Any) -> None:
    def go() -> tuple[Any, str | None]:
        if config_path is not None:
            check_config(config_path, user_source=user_source, credentials=module != "flows.reports")
        return run_flow(module, name, **params)

    started = time.monotonic()
    result, failure = _guarded(go)
    if json_out:
        print(json.dumps(result, indent=2, default=str, ensure_ascii=False))
    else:
        render(result if isinstance(result, Mapping) else {"result": result})
        err().print(f"done in {time.monotonic() - started:.1f} s", style="dim", markup=False)
    if failure is not None or failed(result):
        err().print(f"error: {failure_message(result, failure)}", markup=False)
        raise typer.Exit(1)


def failure_message(result: Any, failure: str | None) -> str:
    """The one error line of a failed run: what failed and how many, and the job's status;
    never a bare "Job status: Active." (the job is fine when single users failed)."""
    if not isinstance(result, Mapping):
        return failure or "the run failed"
    name = str(result.get("config") or "")
    failed_n = int((result.get("counts") or {}).get("failure", 0) or 0)
    job = result.get("job") or {}
    status = f"job status {job['code']}" if job.get("code") else ""
    q = job.get("quarantine") or {}
    if q:
        status += f" ({q.get('reason')}, next attempt {q.get('nextAttempt')})"
    if failed_n:
        what = result.get("failures") or {}
        parts = ["; ".join(", ".join(f"{k} {v:,}" for k, v in list(what.get(side, {}).items())[:4])
                           for side in ("by_action", "by_error") if what.get(side))]
        detail = f"{parts[0]}; see provisioning-log.csv" if parts[0] else "see provisioning-log.csv"
        noun = "provisioning event" + ("s" if failed_n != 1 else "")
        return (f"{name + ': ' if name else ''}{failed_n:,} {noun} failed ({detail})"
                + (f"; {status}" if status else ""))
    message = failure or str(result.get("message") or "")
    if not message or message.startswith("Job status:"):
        message = f"{name + ': ' if name else ''}the run failed" + (f"; {status}" if status else "")
    return message


def failed(result: Any) -> bool:
    """The flows' results say failure with ok=False, a failure status, failures or quarantine."""
    if not isinstance(result, Mapping):
        return False
    if result.get("ok") is False or str(result.get("status", "")).lower() in ("failure", "failed", "error",
                                                                              "quarantined", "busy"):
        return True
    if (result.get("counts") or {}).get("failure", 0):
        return True
    return str((result.get("job") or {}).get("code", "")) in ("Quarantine", "Disabled")


# -- rendering ---------------------------------------------------------------------------------

@app.command()
def emulator(
    fixture: Path = typer.Option(..., "--fixture", help="Emulator fixture (JSON, DESIGN.md).", exists=True,
                                 dir_okay=False, show_default=False),
    port: int = typer.Option(8765, "--port", help="Port on 127.0.0.1 (0: any free port)."),
    latency_ms: int = typer.Option(0, "--latency-ms", help="Added latency per request, in milliseconds."),
    throttle: str | None = typer.Option(None, "--throttle", help="Throttling profile, e.g. 'graph'."),
    time_scale: float = typer.Option(1.0, "--time-scale",
                                     help="Speed-up of the emulator's clock (Retry-After, budgets)."),
    faults: str | None = typer.Option(None, "--faults", help="Fault injection spec (JSON text or a file)."),
    delta_token_ttl: float | None = typer.Option(
        None, "--delta-token-ttl", metavar="SECONDS",
        help="Delta links older than this answer 410 Gone, as expired ones do (default: never)."),
) -> None:
    """Run the Graph emulator on 127.0.0.1 with the given tenants (until Ctrl+C)."""
    def go() -> None:
        from .emulator.server import run
        run(str(fixture), port, latency_ms, throttle, time_scale, faults,
            delta_token_ttl=delta_token_ttl)

    _guarded(go, bad_input=(ValueError,))          # fixture, throttle profile or fault spec refused


@app.command()
def expression(
    expr: str = typer.Argument(..., metavar="EXPR",
                               help="A mapping expression, e.g. 'Join(\", \", [surname], [givenName])'."),
    user: str | None = typer.Option(None, "--user", metavar="FILE.json",
                                       help="The source user: a JSON file of Graph properties (or inline JSON)."),
    json_out: bool = JsonOpt,
) -> None:
    """Evaluate a mapping expression against a user (the expression builder)."""
    data = load_user(user) if user else {}

    def go() -> Any:
        from .expressions import compile_expression
        return compile_expression(expr).evaluate(data)

    value = _guarded(go)          # ExpressionError: "error: column N: ..." and exit 2
    if json_out:
        print(json.dumps({"expression": expr, "value": jsonable(value), "text": show_value(value)},
                         ensure_ascii=False, default=str))
    else:
        print(show_value(value))


def load_user(spec: str) -> dict[str, Any]:
    text = spec
    if not spec.lstrip().startswith("{"):
        try:
            text = Path(spec).read_text(encoding="utf-8")
        except OSError as exc:
            fail(f"{spec}: cannot read the user file ({exc.strerror})", 2)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        fail(f"{spec}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})", 2)
    if not isinstance(data, dict):
        fail(f"{spec}: the user must be a JSON object of Graph properties", 2)
    return data


def show_value(value: Any) -> str:
    """The value as the expression builder shows it (null, [IgnoreFlow], dates as Entra writes them)."""
    from .expressions import format_value
    return str(format_value(value))


def jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except TypeError:
        return show_value(value)


@app.command()
def render(
    template: str = typer.Argument(..., metavar="TEMPLATE", help="A user-source custom attribute template."),
    user: str = typer.Option(..., "--user", metavar="UPN", help="The user (userPrincipalName or object id)."),
    config: Path = typer.Option(..., "--config", metavar="CONFIG", help="The user-source configuration file."),
    json_out: bool = JsonOpt,
) -> None:
    """Render a user-source custom attribute template for one user."""
    def go() -> Any:
        from .usersource import render as render_template
        return render_template(template, user=user, config=str(config))

    value = _guarded(go)
    if json_out:
        print(json.dumps({"template": template, "user": user, "value": jsonable(value)}, default=str,
                         ensure_ascii=False))
    else:
        print(value if isinstance(value, str) else show_value(value))


# -- procedures (Prefect flows) ----------------------------------------------------------------

@app.command("test-connection")
def test_connection(config: str = ConfigArg, json_out: bool = JsonOpt) -> None:
    """Check both connections of a configuration (credentials, policies, auto-redemption)."""
    procedure(config, "flows.connection", "test_connection", render_connection, json_out, config=config)


@app.command()
def setup(config: str = ConfigArg,
          dry_run: bool = typer.Option(False, "--dry-run", help="List the Graph calls, write nothing."),
          json_out: bool = JsonOpt) -> None:
    """Prepare a configuration's tenants once: register (or find) the anchor extension in the target
    and list the application permissions each side needs, with those the credentials lack."""
    procedure(config, "flows.setup", "setup_config", render_setup, json_out, config=config, dry_run=dry_run)


@app.command()
def sync(
    config: str = ConfigArg,
    restart: bool = typer.Option(False, "--restart",
                                 help="Start a new initial cycle (clears watermarks, escrows, quarantine)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Plan and report, write nothing to the target."),
    allow_deletes: bool = typer.Option(False, "--allow-deletes", help="Apply deletions staged over the threshold."),
    wait_approval: int = typer.Option(0, "--wait-approval", metavar="SECONDS",
                                      help="Above the deletion threshold, wait this long for an approval in the "
                                           "Prefect UI (0: do not wait; the deletions stay staged and "
                                           "--allow-deletes applies them)."),
    json_out: bool = JsonOpt,
) -> None:
    """Run a sync cycle: initial when no state exists, else incremental."""
    procedure(config, "flows.sync", "sync_cycle", render_cycle, json_out,
              config=config, restart=restart, dry_run=dry_run, allow_deletes=allow_deletes,
              approval_timeout_s=max(wait_approval, 0))


@app.command()
def provision(
    config: str = ConfigArg,
    user: list[str] = typer.Option(..., "--user", metavar="ID", help=f"Source user object id (up to {MAX_ON_DEMAND})."),
    json_out: bool = JsonOpt,
) -> None:
    """Provision users on demand and show each step."""
    if len(user) > MAX_ON_DEMAND:
        fail(f"provision on demand takes at most {MAX_ON_DEMAND} users per run ({len(user)} given)", 2)
    procedure(config, "flows.ondemand", "provision_on_demand", render_provision, json_out,
              config=config, user_ids=list(user))


@app.command("repair-upn")
def repair_upn(
    config: str = ConfigArg,
    csv: Path | None = typer.Option(None, "--csv", metavar="FILE",
                                       help="Where to write pending-acceptance.csv (default: "
                                            "data/reports/<configuration>/); "
                                            "upn-repair.csv (before/after) goes beside it."),
    json_out: bool = JsonOpt,
) -> None:
    """Repair the UPNs of pending-acceptance B2B users in the target."""
    procedure(config, "flows.repair", "repair_upn", render_repair, json_out, config=config,
              csv_path=str(csv) if csv else None)


@app.command("disable-sms")
def disable_sms(
    config: str = ConfigArg,
    user: list[str] | None = typer.Option(None, "--user", metavar="ID",
                                          help="Only this source user (object id or UPN); repeat for more. "
                                               "Default: every user in the configuration's scope."),
    dry_run: bool = typer.Option(False, "--dry-run", help="List the users, write nothing to Graph."),
    csv: Path | None = typer.Option(None, "--csv", metavar="FILE",
                                       help="Where to write sms-sign-in.csv (default: data/reports/<configuration>/)."),
    json_out: bool = JsonOpt,
) -> None:
    """Turn SMS sign-in off for the in-scope users a cycle skips for it (the documented repair);
    needs UserAuthenticationMethod.ReadWrite.All on the source connection."""
    procedure(config, "flows.disable_sms", "disable_sms_flow", render_disable_sms, json_out, config=config,
              user_ids=list(user or []), dry_run=dry_run, csv_path=str(csv) if csv else None)


@app.command("user-source")
def user_source(config: str = ConfigArg, json_out: bool = JsonOpt) -> None:
    """Synchronize Entra ID users into an application's own user directory."""
    procedure(config, "flows.usersource", "user_source_sync", render_user_source, json_out, user_source=True,
              config=config)


@app.command()
def report(
    config: str = ConfigArg,
    out_dir: Path = typer.Option(..., "--out", metavar="DIR", help="Where to write the CSV and HTML reports."),
    json_out: bool = JsonOpt,
) -> None:
    """Export the CSV reports and the HTML summary of a configuration."""
    procedure(config, "flows.reports", "export_reports", render_reports, json_out,
              config=config, out_dir=str(out_dir))


@app.command()
def deploy(
    configs: list[str] | None = typer.Argument(None, metavar="[CONFIG ...]", show_default=False,
                                               help="Configuration files or block names (default: data/configs/*.yaml)."),
    work_pool: str = typer.Option("tenantsync-process", "--work-pool", help="Process work pool (created if missing)."),
    prefect_yaml: Path | None = typer.Option(None, "--prefect-yaml", metavar="FILE",
                                             help="Write the deployments to FILE for `prefect deploy --all` (paths "
                                                  "relative to here) instead of deploying ('-': print them)."),
    json_out: bool = JsonOpt,
) -> None:
    """Create or update each configuration's Prefect deployments on PREFECT_API_URL: the incremental
    cycle every settings.interval_minutes, the other procedures by hand, a daily report export."""
    prefect_env()
    from flows import deploy as d

    if prefect_yaml is not None:
        text = _guarded(lambda: d.render_prefect_yaml(d.load_configurations(configs), base=Path.cwd(),
                                                      work_pool=work_pool))
        if str(prefect_yaml) == "-":
            print(text, end="")
        else:
            prefect_yaml.write_text(text, encoding="utf-8")
            err().print(f"wrote {prefect_yaml} ({text.count(chr(10) + '- name: ')} deployments)", markup=False)
        return
    result = _guarded(lambda: d.deploy(configs, work_pool=work_pool), bad_input=(d.NoServer,))
    if json_out:
        print(json.dumps(result, indent=2, default=str, ensure_ascii=False))
        return
    con = out()
    con.print(rows_table(result["deployments"], columns=["deployment", "schedule", "action", "was", "paused"],
                         title="deployments"))
    for full in result["removed"]:
        con.print(f"removed {full} (no longer produced by its configuration)", markup=False)
    for s in result["skipped"]:
        con.print(f"skipped: {s['reason']}", markup=False)
    for entrypoint in result["not_available"]:
        con.print(f"not deployed: {entrypoint} (module not installed)", markup=False)
    con.print(result["message"], markup=False)


@app.command("delete-config")
def delete_config(
    config: str = ConfigArg,
    yes: bool = typer.Option(False, "--yes", "-y", help="Delete without asking."),
    restore: bool = typer.Option(False, "--restore", help="Undo a deletion: lift the mark (the state is as it "
                                                         "was at deletion) and resume the deployments."),
    archive_dir: Path | None = typer.Option(None, "--archive-dir", metavar="DIR",
                                            help="Where the archive store goes (default: 'archive' beside a "
                                                 "SQLite store, else data/state/archive)."),
    json_out: bool = JsonOpt,
) -> None:
    """Delete a configuration as Entra does: pause its deployments, archive its state (never dropped),
    keep its reports and leave every synced user as it is in the target. Later syncs are refused."""
    import sys

    prefect_env()
    from flows import delete_config as dc

    if restore:
        result = _guarded(lambda: dc.restore(config))
    else:
        cfg, plan, names, note = _guarded(lambda: dc.plan(config, archive_dir=str(archive_dir) if archive_dir else None))
        for line in plan.lines(names, note):
            (err() if json_out else out()).print(line, markup=False)
        if not yes and not plan.already:
            if not sys.stdin.isatty():
                fail("deleting a configuration needs a confirmation: run again with --yes (nothing was done)", 2)
            if not typer.confirm(f"Delete configuration {cfg.name}?", default=False):
                err().print("nothing was done", markup=False)
                raise typer.Exit(1)
        result = _guarded(lambda: dc.execute(cfg, plan))
    if json_out:
        print(json.dumps(result, indent=2, default=str, ensure_ascii=False))
    else:
        out().print(result["message"], markup=False)


@app.command()
def unlock(config: str = ConfigArg, json_out: bool = JsonOpt) -> None:
    """Free the cycle lock of a configuration whose holder died. Rarely needed: a dead holder's lock
    frees itself (at once on its own host, when its 60 s lease expires elsewhere). Refused while the
    holder lives: on this host while its process runs, elsewhere while it renews its lease."""
    def go() -> dict[str, Any]:
        from .store import locks
        name, engine = _lock_engine(config)
        if engine is None:
            return {"config": name, "unlocked": False, "message": f"{name} is not locked"}
        gone = locks.force_release(engine, name)         # LockBusy while the holder lives: exit 1
        if gone is None:
            return {"config": name, "unlocked": False, "message": f"{name} is not locked"}
        why = "its process is gone" if gone.host == locks.HOST else f"its lease expired at {gone.expires:%H:%M:%S} UTC"
        return {"config": name, "unlocked": True, "host": gone.host, "pid": gone.pid,
                "since": gone.acquired.isoformat(),
                "message": f"unlocked {name}: removed the lock of host {gone.host} pid {gone.pid} since "
                           f"{gone.acquired:%Y-%m-%d %H:%M:%S} UTC ({why})"}

    result = _guarded(go)
    if json_out:
        print(json.dumps(result, indent=2, default=str, ensure_ascii=False))
    else:
        out().print(result["message"], markup=False)


def _lock_engine(config: str) -> tuple[str, Any]:
    """(configuration name, the engine of the database holding its lock, or None when that
    database does not exist yet: then nothing can be locked, and nothing is created)."""
    from sqlalchemy.engine import make_url

    from .errors import ConfigError
    if Path(config).exists() or Path(config).suffix.lower() in (".yaml", ".yml") or "/" in config:
        from .config import load_config
        try:
            cfg: Any = load_config(Path(config))
        except ConfigError as first:
            from .usersource import load_user_source_config
            try:
                cfg = load_user_source_config(Path(config))
            except ConfigError:
                raise first from None
    else:                                     # a SyncConfigBlock: Prefect's API
        prefect_env()
        from flows._common import resolve_config
        cfg = resolve_config(config)
    url = getattr(cfg, "state_url", None) or getattr(cfg, "directory_url", None)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:") \
            and not parsed.database.startswith("file:") and not Path(parsed.database).expanduser().exists():
        return cfg.name, None
    if getattr(cfg, "state_url", None):
        from .store import Store
        return cfg.name, Store.for_url(url).writer
    from .connectors.directory_target import DirectoryTarget
    return cfg.name, DirectoryTarget.for_url(url).engine


@app.command()
def demo(json_out: bool = JsonOpt,
         keep: bool = typer.Option(False, "--keep",
                                   help="Leave the emulator running at the end (Ctrl+C to stop).")) -> None:
    """Everything above on the sample tenants, against the embedded Graph emulator."""
    def go() -> Any:
        prefect_env()
        from flows._server import start_temporary_server

        from .demo import run_demo
        start_temporary_server(start=False)     # the demo starts it from this thread; it dies with us
        return run_demo(console=err() if json_out else out(), keep=keep)

    result = _guarded(go)
    if json_out:
        print(json.dumps(result, indent=2, default=str, ensure_ascii=False))
    if isinstance(result, Mapping) and result.get("ok") is False:
        raise typer.Exit(1)


def run() -> None:  # python -m tenantsync
    app(prog_name="tenantsync")


if __name__ == "__main__":  # pragma: no cover
    run()
