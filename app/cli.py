"""The ``tenantsync`` commands (the console script; ``python -m app``).

Procedures (test-connection, setup, sync, provision, repair-upn, disable-sms, user-source, report,
demo) run their Prefect flow through app.runner and print a short summary, or the result's JSON
with ``--json``. Tools (emulator, expression, render) never import Prefect and answer at once.
Prefect and the flows are imported inside the commands only, so ``--help`` and the tools stay
fast, and a procedure starts in about a second when ``PREFECT_API_URL`` points at a running
server (otherwise Prefect starts a temporary server: ~20 s on a fresh ``PREFECT_HOME``).

deploy and delete-config run no flow: they use the server of PREFECT_API_URL directly when one
is set (deploy needs one), and the engine for the rest.

Exit status: 0 done; 1 the run failed (an error, failed provisioning events, quarantine, another
run holding the lock); 2 bad input (configuration, expression, arguments). Errors print one line
on stderr, no traceback (``--verbose`` shows Prefect's logs and tracebacks).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from .locks import unlock_config
from .render import err, out, rows_table
from .runner import as_result, fail, guarded, prefect_env, prepare, print_json, procedure, set_verbose

app = typer.Typer(
    name="tenantsync", no_args_is_help=True, add_completion=False, rich_markup_mode=None,
    pretty_exceptions_show_locals=False,      # locals may hold secrets
    help="Keeps identities in step between Microsoft Entra ID tenants (cross-tenant synchronization "
         "as Prefect pipelines). Procedures run as Prefect flows; 'emulator' and 'expression' do not.",
    context_settings={"help_option_names": ["-h", "--help"]})

MAX_ON_DEMAND = 5

JsonOpt = typer.Option(False, "--json", help="Print the machine-readable result (JSON) instead of a summary.")
ConfigArg = typer.Argument(..., metavar="CONFIG", help="Sync configuration: a YAML file (or a Prefect block name).",
                           show_default=False)


@app.callback()
def main(verbose: bool = typer.Option(False, "--verbose", "-v",
                                      help="Show Prefect's logs and full tracebacks.")) -> None:
    set_verbose(verbose)


# -- tools (no Prefect) ------------------------------------------------------------------------

@app.command()
def emulator(
    fixture: Path = typer.Option(..., "--fixture", help="Emulator fixture (JSON, docs/contracts.md).", exists=True,
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
        from tenantsync.emulator.server import run
        run(str(fixture), port, latency_ms, throttle, time_scale, faults,
            delta_token_ttl=delta_token_ttl)

    guarded(go, bad_input=(ValueError,))          # fixture, throttle profile or fault spec refused


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
        from tenantsync.expressions import compile_expression
        return compile_expression(expr).evaluate(data)

    value = guarded(go)          # ExpressionError: "error: column N: ..." and exit 2
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
    from tenantsync.expressions import format_value
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
        from tenantsync.usersource import render as render_template
        return render_template(template, user=user, config=str(config))

    value = guarded(go)
    if json_out:
        print(json.dumps({"template": template, "user": user, "value": jsonable(value)}, default=str,
                         ensure_ascii=False))
    else:
        print(value if isinstance(value, str) else show_value(value))


# -- procedures (Prefect flows) ----------------------------------------------------------------

@app.command("test-connection")
def test_connection(config: str = ConfigArg, json_out: bool = JsonOpt) -> None:
    """Check both connections of a configuration (credentials, policies, auto-redemption)."""
    procedure(config, "flows.connection", "test_connection", json_out, config=config)


@app.command()
def setup(config: str = ConfigArg,
          dry_run: bool = typer.Option(False, "--dry-run", help="List the Graph calls, write nothing."),
          json_out: bool = JsonOpt) -> None:
    """Prepare a configuration's tenants once: register (or find) the anchor extension in the target
    and list the application permissions each side needs, with those the credentials lack."""
    procedure(config, "flows.setup", "setup_config", json_out, config=config, dry_run=dry_run)


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
    procedure(config, "flows.sync", "sync_cycle", json_out,
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
    procedure(config, "flows.ondemand", "provision_on_demand", json_out,
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
    procedure(config, "flows.repair", "repair_upn", json_out, config=config,
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
    procedure(config, "flows.disable_sms", "disable_sms_flow", json_out, config=config,
              user_ids=list(user or []), dry_run=dry_run, csv_path=str(csv) if csv else None)


@app.command("user-source")
def user_source(config: str = ConfigArg, json_out: bool = JsonOpt) -> None:
    """Synchronize Entra ID users into an application's own user directory."""
    procedure(config, "flows.usersource", "user_source_sync", json_out, user_source=True,
              config=config)


@app.command()
def report(
    config: str = ConfigArg,
    out_dir: Path = typer.Option(..., "--out", metavar="DIR", help="Where to write the CSV and HTML reports."),
    json_out: bool = JsonOpt,
) -> None:
    """Export the CSV reports and the HTML summary of a configuration."""
    procedure(config, "flows.reports", "export_reports", json_out,
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
        text = guarded(lambda: d.render_prefect_yaml(d.load_configurations(configs), base=Path.cwd(),
                                                      work_pool=work_pool))
        if str(prefect_yaml) == "-":
            print(text, end="")
        else:
            prefect_yaml.write_text(text, encoding="utf-8")
            err().print(f"wrote {prefect_yaml} ({text.count(chr(10) + '- name: ')} deployments)", markup=False)
        return
    result = guarded(lambda: d.deploy(configs, work_pool=work_pool), bad_input=(d.NoServer,))
    if json_out:
        print_json(result)
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
    delete_application: bool = typer.Option(
        False, "--delete-application",
        help="provisioner entra: delete the sync application (enterprise app) too; by default only its "
             "synchronization job is deleted and the application is kept."),
    json_out: bool = JsonOpt,
) -> None:
    """Delete a configuration as Entra does: pause its deployments, archive its state (never dropped),
    keep its reports and leave every synced user as it is in the target. Later syncs are refused.
    With provisioner entra its synchronization job is deleted (the sync application is kept)."""
    import sys

    prefect_env()
    from flows import delete_config as dc

    if restore:
        result = guarded(lambda: dc.restore(config))
    else:
        cfg, plan, names, note = guarded(lambda: dc.plan(config, archive_dir=str(archive_dir) if archive_dir else None))
        if delete_application and cfg.provisioner == "entra":
            from tenantsync.entra_service.verbs import describe_deletion
            plan.delete_application = True
            plan.service = describe_deletion(cfg, None, delete_application=True)
        for line in plan.lines(names, note):
            (err() if json_out else out()).print(line, markup=False)
        if not yes and not plan.already:
            if not sys.stdin.isatty():
                fail("deleting a configuration needs a confirmation: run again with --yes (nothing was done)", 2)
            if not typer.confirm(f"Delete configuration {cfg.name}?", default=False):
                err().print("nothing was done", markup=False)
                raise typer.Exit(1)
        result = guarded(lambda: dc.execute(cfg, plan))
    done = as_result({**result, "status": "success"}, "delete-config")
    if json_out:
        print_json(done.as_dict())
    else:
        out().print(done.message, markup=False)
        if result.get("service"):            # provisioner entra: the job (and application)
            out().print(result["service"], markup=False)


def _job_verb(config: str, verb: str, json_out: bool) -> None:
    """pause / resume: the synchronization job's verb (provisioner entra); no flow run."""
    prefect_env()

    def go() -> dict[str, Any]:
        from flows._common import resolve_config
        from tenantsync.errors import ConfigError

        cfg = resolve_config(config)
        if cfg.provisioner != "entra":
            raise ConfigError(f"{verb} drives Microsoft's provisioning service (provisioner: entra); "
                              f"{cfg.name} runs on tenantsync's engine: its schedule is its Prefect deployments "
                              "(pause or resume them in the Prefect UI: Deployments → … → Pause)",
                              key="provisioner", value=cfg.provisioner)
        from tenantsync.entra_service import verbs
        done = verbs.pause_job(cfg) if verb == "pause" else verbs.resume_job(cfg)
        return done.as_dict()

    result = guarded(go)
    if json_out:
        print_json(result)
    else:
        out().print(result["message"], markup=False)


@app.command()
def pause(config: str = ConfigArg, json_out: bool = JsonOpt) -> None:
    """Pause a configuration run by Microsoft's provisioning service (provisioner: entra): its
    synchronization job stops after the current cycle and keeps its progress."""
    _job_verb(config, "pause", json_out)


@app.command()
def resume(config: str = ConfigArg, json_out: bool = JsonOpt) -> None:
    """Resume (start) a configuration run by Microsoft's provisioning service (provisioner: entra):
    its job carries on from where it was paused; a quarantine is cleared."""
    _job_verb(config, "resume", json_out)


@app.command()
def unlock(config: str = ConfigArg, json_out: bool = JsonOpt) -> None:
    """Free the cycle lock of a configuration whose holder died. Rarely needed: a dead holder's lock
    frees itself (at once on its own host, when its 60 s lease expires elsewhere). Refused while the
    holder lives: on this host while its process runs, elsewhere while it renews its lease."""
    result = guarded(lambda: unlock_config(config))
    if json_out:
        print_json(result)
    else:
        out().print(result["message"], markup=False)


@app.command()
def demo(json_out: bool = JsonOpt,
         keep: bool = typer.Option(False, "--keep",
                                   help="Leave the emulator running at the end (Ctrl+C to stop).")) -> None:
    """Everything above on the sample tenants, against the embedded Graph emulator."""
    def go() -> Any:
        from .demo import run_demo
        prepare(start=False)            # the demo starts it from this thread (its first step); it dies with us
        return run_demo(console=err() if json_out else out(), keep=keep)

    result = guarded(go)
    if json_out:
        print_json(result.as_dict())
    if result.failed:
        raise typer.Exit(result.exit_code)


def run() -> None:  # python -m app
    app(prog_name="tenantsync")


if __name__ == "__main__":  # pragma: no cover
    run()
