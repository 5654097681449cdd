"""``tenantsync demo`` (``make demo``): every procedure on the sample tenants, in one process.

Starts the Graph emulator with ``data/samples/tenants.json`` on a free port (its own process),
points copies of the sample configurations at it with fresh state (``data/state/demo-<stamp>/``),
then runs through the Prefect flows (one Prefect start, app.runner): setup of both configurations (the anchor
extension registered on HQ's application, the permissions listed); test connection EMEA → HQ and US → HQ;
the pending-acceptance UPN repair (Zoë, invited into HQ by hand in 2019 under her old name); the
initial cycles EMEA → HQ and US → HQ; changes to EMEA users through Graph (rename, department
change, removal from the assigned group, disable, delete); incremental cycles; provision on demand
of a user changed after the incremental cycle; the reports (``data/reports/demo-<stamp>/``); then
EMEA → HQ by Microsoft's provisioning service (``provisioner: entra``, app/demo_service.py) on a
second emulator with the same sample tenants: setup, the initial cycle followed to its end, provision
on demand, and both initial cycles side by side; and a summary table. Nothing outside those two
folders is written; the emulators stop at the end.
"""

from __future__ import annotations

import os
import re
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from tenantsync.results import ProcedureResult

from . import demo_service, runner

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO / "data" / "samples" / "tenants.json"
CONFIGS = {"emea-to-hq": REPO / "data" / "configs" / "emea-to-hq.yaml",
           "us-to-hq": REPO / "data" / "configs" / "us-to-hq.yaml"}
TOKENS = {"EMEA_TOKEN": "emea-token", "US_TOKEN": "us-token", "HQ_TOKEN": "hq-token"}

# Pinned ids of data/samples (see data/samples/README.md).
EMEA_TENANT = "2cee517d-601a-44f9-82ff-f26697be201f"
HQ_TENANT = "7242482c-0038-4818-b3af-70b2766b9f27"
EMEA_ASSIGNED_GROUP = "15dd8750-8a60-4194-afda-cad956a8afdd"
ZOE_SOURCE = "2c61be39-a49f-4975-a086-bbe7b399a465"     # pending-acceptance B2B user in HQ, wrong UPN
SPECIAL = {ZOE_SOURCE, "c8b43df2-1635-4723-802f-fe941d9aa529", "5aa7b012-d3c0-4688-80e3-f9389efcd284",
           "cafb8ab6-5688-4d63-b5d1-4eab6c1c582e",
           "4a3777af-6ca2-4702-b3a1-e497157708f7", "d43b950b-b3b2-41f9-9aca-f42173d76cf0"}


@dataclass
class StepResult:
    title: str
    ok: bool
    seconds: float
    outcome: str
    result: Any = None


@dataclass
class Demo:
    console: Console
    state_dir: Path
    reports_dir: Path
    configs: dict[str, Path] = field(default_factory=dict)
    steps: list[StepResult] = field(default_factory=list)
    emulator: Any = None

    def step(self, title: str, fn: Callable[[], Any], describe: Callable[[Any], str] | None = None) -> Any:
        """Run one step, print its outcome line; its result as a dict (a procedure's JSON form), or
        None when it raised."""
        self.console.print(f"[bold cyan]→[/] {title}")
        t0 = time.monotonic()
        try:
            done = fn()
        except Exception as exc:
            secs = time.monotonic() - t0
            if os.environ.get("TENANTSYNC_DEMO_TRACEBACK"):
                traceback.print_exc()
            text = f"{type(exc).__name__}: {exc}".splitlines()[0]
            self.steps.append(StepResult(title, False, secs, text))
            self.console.print(f"  [red]✗ {escape(text)}[/] ({secs:.1f} s)")
            return None
        secs = time.monotonic() - t0
        ok = not done.failed if isinstance(done, ProcedureResult) else not (
            isinstance(done, Mapping) and done.get("ok") is False)
        result = done.as_dict() if isinstance(done, ProcedureResult) else done
        outcome = (describe or outcome_of)(result)
        self.steps.append(StepResult(title, ok, secs, outcome, result))
        mark = "[green]✓[/]" if ok else "[yellow]![/]"
        self.console.print(f"  {mark} {escape(outcome)} ({secs:.1f} s)")
        return result


def escape(text: str) -> str:
    from rich.markup import escape as _e
    return _e(text)


def outcome_of(result: Any) -> str:
    """One line for any flow result: counts, ok/failed, the message."""
    if not isinstance(result, Mapping):
        return "done" if result is None else str(result)[:160]
    parts: list[str] = []
    if result.get("kind"):
        parts.append(f"{result['kind']} cycle")
    counts = result.get("counts")
    if isinstance(counts, Mapping) and counts:
        parts.append(", ".join(f"{k} {v}" for k, v in counts.items() if v) or "nothing to do")
    said = next((str(result[k]).splitlines()[0] for k in ("message", "summary", "error") if result.get(k)), "")
    if said and not said.startswith("Job status: Active"):
        parts.append(said.removeprefix(f"{result.get('config')}: ") if result.get("config") else said)
    if not parts and "ok" in result:
        parts.append("ok" if result["ok"] else "FAILED")
    return "; ".join(parts) or ", ".join(f"{k}={v}" for k, v in list(result.items())[:4])


def write_configs(state_dir: Path) -> dict[str, Path]:
    """Copies of the sample configurations whose state store lives in ``state_dir``."""
    state_dir.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, src in CONFIGS.items():
        text = src.read_text(encoding="utf-8")
        line = f"state: sqlite:///{(state_dir / f'{name}.db').as_posix()}"
        text, n = re.subn(r"(?m)^state:.*$", line, text)
        if not n:
            text += f"\n{line}\n"
        dst = state_dir / f"{name}.yaml"
        dst.write_text(text, encoding="utf-8")
        out[name] = dst
    return out


def pick_users(api: Any) -> dict[str, dict[str, Any]]:
    """Five ordinary in-scope EMEA users to change, chosen the same way every run."""
    members = api.group_members(EMEA_ASSIGNED_GROUP, select=["id", "displayName", "givenName", "surname",
                                                             "userPrincipalName", "department",
                                                             "accountEnabled", "userType"])
    ordinary = sorted((m for m in members if m.get("id") not in SPECIAL and m.get("userType", "Member") == "Member"
                       and m.get("accountEnabled", True) is not False
                       and str(m.get("userPrincipalName", "")).endswith("@emea.contoso.com")),
                      key=lambda m: m["userPrincipalName"])
    if len(ordinary) < 5:
        raise RuntimeError(f"the sample assigned group has only {len(ordinary)} ordinary members")
    return dict(zip(("rename", "department", "unassign", "disable", "delete"), ordinary[:5], strict=True))


def change_source_users(api: Any) -> dict[str, Any]:
    """Rename, change a department, remove from the assigned group, disable, delete (through Graph)."""
    who = pick_users(api)
    r, d = who["rename"], who["department"]
    api.request("PATCH", f"/users/{r['id']}", {"surname": "Nakamura",
                                                "displayName": f"{r.get('givenName') or ''} Nakamura".strip()})
    dept = "Finance" if d.get("department") != "Finance" else "Legal"
    api.request("PATCH", f"/users/{d['id']}", {"department": dept})
    api.request("DELETE", f"/groups/{EMEA_ASSIGNED_GROUP}/members/{who['unassign']['id']}/$ref")
    api.request("PATCH", f"/users/{who['disable']['id']}", {"accountEnabled": False})
    api.request("DELETE", f"/users/{who['delete']['id']}")
    return {"ok": True, "changed": {k: v.get("displayName") for k, v in who.items()}, "users": who,
            "summary": (f"renamed {r.get('displayName')}, moved {d.get('displayName')} to {dept}, "
                        f"unassigned {who['unassign'].get('displayName')}, disabled "
                        f"{who['disable'].get('displayName')}, deleted {who['delete'].get('displayName')}")}


def hq_census(api: Any) -> dict[str, Any]:
    users = [u for page in api.iter_pages("users", select=["id", "userType", "externalUserState",
                                                            "userPrincipalName", "accountEnabled"])
             for u in page]
    ext = [u for u in users if "#EXT#" in str(u.get("userPrincipalName", ""))]
    disabled = sum(1 for u in ext if u.get("accountEnabled") is False)
    pending = sum(1 for u in users if u.get("externalUserState") == "PendingAcceptance")
    return {"ok": True, "users": len(users), "b2b": len(ext), "b2bDisabled": disabled, "pendingAcceptance": pending,
            "summary": f"HQ holds {len(users)} users: {len(ext)} B2B (#EXT#) accounts, {disabled} of them disabled; "
                       f"{pending} invitation(s) still pending acceptance"}


def run_demo(*, console: Console | None = None, keep: bool = False, root: Path | None = None) -> ProcedureResult:
    """The whole demo; its result fails when any step failed (``details``: the steps)."""
    console = console or Console()
    started = time.monotonic()
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    root = root or REPO
    demo = Demo(console, root / "data" / "state" / f"demo-{stamp}", root / "data" / "reports" / f"demo-{stamp}")
    demo.configs = write_configs(demo.state_dir)
    runner.prefect_env()
    for k, v in TOKENS.items():
        os.environ.setdefault(k, v)
    os.environ.setdefault("TENANTSYNC_SERVICE_POLL_S", "0.5")     # following the service's cycle

    from tenantsync.emulator import EmulatorServer

    console.print(f"[bold]tenantsync demo[/] — sample tenants from {FIXTURE.relative_to(REPO)}")
    emu = EmulatorServer(FIXTURE, port=0, in_process=False)   # its own process: the second core
    emu.__enter__()
    demo.emulator = emu
    try:
        os.environ["TENANTSYNC_GRAPH_URL"] = emu.url
        console.print(f"Graph emulator on {emu.url}; state in {_rel(demo.state_dir)}")
        _run_steps(demo)
    finally:
        if keep:
            console.print(f"Emulator still running on {emu.url} (Ctrl+C to stop).")
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
        emu.__exit__(None, None, None)
    total = time.monotonic() - started
    _summary(demo, total)
    passed = sum(s.ok for s in demo.steps)
    return ProcedureResult(
        procedure="demo", config=", ".join(CONFIGS), status="success" if passed == len(demo.steps) else "failure",
        message=f"{passed}/{len(demo.steps)} steps ok in {total:.0f} s",
        details={"seconds": round(total, 1), "state": str(demo.state_dir), "reports": str(demo.reports_dir),
                 "steps": [{"step": s.title, "ok": s.ok, "seconds": round(s.seconds, 1), "outcome": s.outcome,
                            "result": s.result} for s in demo.steps]})


def start_prefect() -> dict[str, Any]:
    """Reach the Prefect API once, so that the temporary server's start is not billed to a step."""
    from prefect import get_client

    with get_client(sync_client=True) as client:
        client.hello()
        url = str(client.api_url)
    return {"ok": True, "summary": f"Prefect API at {url}"}


def change_again(api: Any, user: Mapping[str, Any]) -> dict[str, Any]:
    """One more change after the incremental cycle, for provision on demand to carry at once."""
    api.request("PATCH", f"/users/{user['id']}", {"jobTitle": "Identity Architect"})
    return {"ok": True, "summary": f"{user.get('givenName', '')} Nakamura is now Identity Architect"}


def _run_steps(demo: Demo) -> None:
    from tenantsync.config import load_config
    from tenantsync.graph import GraphApi

    emea, us = str(demo.configs["emea-to-hq"]), str(demo.configs["us-to-hq"])
    out = str(demo.reports_dir)

    def cycle(config: str) -> Callable[[], Any]:
        # approval_timeout_s=0: deletions above the threshold stay staged instead of waiting for the UI
        return flow(sync_cycle, config=config, reports_dir=out, approval_timeout_s=0)

    def flow(fn: Callable[..., Any], /, **params: Any) -> Callable[[], ProcedureResult]:
        return lambda: runner.call(fn, **params).result

    t0 = time.monotonic()
    from flows.connection import test_connection
    from flows.ondemand import provision_on_demand
    from flows.repair import repair_upn
    from flows.reports import export_reports
    from flows.setup import setup_config
    from flows.sync import sync_cycle
    demo.console.print(f"Prefect flows loaded ({time.monotonic() - t0:.1f} s)", style="dim")
    title = ("Start Prefect (a temporary server: ~20 s the first time)" if not os.environ.get("PREFECT_API_URL")
             else "Reach the Prefect server")
    if demo.step(title, start_prefect) is None:
        return

    # Setup first, as against real tenants: the anchor extension is registered on HQ's application
    # once (the second configuration finds it there) and the permissions are listed.
    demo.step("Setup EMEA → HQ (anchor extension, permissions)", flow(setup_config, config=emea), describe_setup)
    demo.step("Setup US → HQ (finds the anchor extension)", flow(setup_config, config=us), describe_setup)
    demo.step("Test connection EMEA → HQ", flow(test_connection, config=emea))
    demo.step("Test connection US → HQ", flow(test_connection, config=us))
    # Zoë was invited into HQ by hand in 2019 under her old name and never redeemed: the
    # documented repair provisions her on demand so that her UPN follows her current source UPN.
    demo.step("Repair pending-acceptance UPNs in HQ (Zoë, invited by hand in 2019)",
              flow(repair_upn, config=emea, reports_dir=out), describe_repair)
    seen = demo_service.measure(demo, demo.emulator)
    engine = seen(demo.step("Initial cycle EMEA → HQ", cycle(emea)))    # for the side-by-side table
    demo.step("Initial cycle US → HQ", cycle(us))

    cfg = load_config(emea)
    source = GraphApi(cfg.connection(cfg.source.connection))
    target = GraphApi(cfg.connection(cfg.target.connection or "hq"), read_only=True)
    try:
        changed = demo.step("Change EMEA users through Graph", lambda: change_source_users(source))
        demo.step("Incremental cycle EMEA → HQ", cycle(emea))
        demo.step("Incremental cycle US → HQ (nothing changed)", cycle(us))
        if changed:
            who = changed["users"]["rename"]
            demo.step("Change a job title through Graph", lambda: change_again(source, who))
            result = demo.step(f"Provision {who.get('givenName', '')} Nakamura on demand (no wait for the next cycle)",
                               flow(provision_on_demand, config=emea, user_ids=[who["id"]]), describe_on_demand)
            if result:
                from .render import render_provision
                render_provision(result, demo.console)
        demo.step("HQ after the demo", lambda: hq_census(target))
    finally:
        source.close()
        target.close()
    for name, path in demo.configs.items():
        demo.step(f"Export reports {name}", flow(export_reports, config=str(path), out_dir=out), describe_reports)
    # The same configuration run by Microsoft's provisioning service (provisioner: entra), on
    # fresh sample tenants, then both initial cycles side by side (app/demo_service.py).
    demo_service.run_service(demo, engine, flow)


def describe_setup(result: Any) -> str:
    anchor = (result or {}).get("anchor") or {}
    missing = {s: m for s, m in ((result or {}).get("missing") or {}).items() if m}
    text = f"{anchor.get('action', '?')}: {anchor.get('attribute') or '-'}"
    return text + ("; missing " + "; ".join(f"{s}: {', '.join(m)}" for s, m in missing.items()) if missing else "")


def describe_repair(result: Any) -> str:
    rows = (result or {}).get("rows") or []
    fixed = [f"{r['DisplayName']}: {r['oldUpn']} → {r['newUpn']}" for r in rows if r.get("outcome") == "repaired"]
    summary = str(result.get("summary", "")).removeprefix(f"{result.get('config')}: ").rstrip(".")
    return "; ".join([summary] + fixed)


def describe_on_demand(result: Any) -> str:
    users = (result or {}).get("users") or []
    parts = []
    for u in users:
        act = u.get("action") or {}
        mods = ", ".join(f"{m['name']}: {m.get('old')!s} → {m.get('new')!s}" for m in u.get("modifiedProperties") or [])
        parts.append(f"{u.get('displayName')}: {(u.get('reply') or {}).get('result')} ({act.get('title', '')}"
                     + (f"; {mods}" if mods else "") + ")")
    return "; ".join(parts) or outcome_of(result)


def describe_reports(result: Any) -> str:
    files = (result or {}).get("files") or {}
    return f"{len(files)} files for {(result or {}).get('cycle_count', 0)} cycle(s)"


def _rel(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _summary(demo: Demo, total: float) -> None:
    con = demo.console
    t = Table(title=f"tenantsync demo: {sum(s.ok for s in demo.steps)}/{len(demo.steps)} steps ok "
                    f"in {total:.0f} s", title_justify="left")
    t.add_column("step")
    t.add_column("result", overflow="fold")
    t.add_column("s", justify="right")
    for s in demo.steps:
        t.add_row(("" if s.ok else "[red]✗[/] ") + escape(s.title), escape(s.outcome), f"{s.seconds:.1f}")
    con.print()
    con.print(t)
    if demo.reports_dir.exists():
        r = Table(title="Reports", title_justify="left", show_header=False)
        r.add_column("")
        r.add_column("")
        for cfg_dir in sorted(p for p in demo.reports_dir.iterdir() if p.is_dir()):
            for name in ("summary.html", "cycles.csv", "pending-acceptance.csv", "pending-deletions.csv",
                         "notifications.csv"):
                if (cfg_dir / name).exists():
                    r.add_row(cfg_dir.name, _rel(cfg_dir / name))
            logs = sorted(cfg_dir.glob("*/provisioning-log.csv"))
            if logs:
                r.add_row(cfg_dir.name, f"{_rel(cfg_dir)}/<cycleId>/provisioning-log.csv ({len(logs)} cycles)")
        con.print(r)
        con.print(f"Open {_rel(demo.reports_dir)}/<configuration>/summary.html in a browser.")
    con.print(f"State stores: {_rel(demo.state_dir)} (delete freely; `make clean` removes data/state and data/reports)")
