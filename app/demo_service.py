"""The demo's second provisioner: EMEA → HQ by Microsoft's provisioning service (``provisioner: entra``).

The service's configuration (data/configs/emea-to-hq-entra.yaml) runs on its own emulator, started
from the same sample tenants, so that both provisioners start from the same HQ: setup (the
documented Graph sequence: sync application, job, secrets, assignments, schema), the initial cycle
started and followed to its end, then provision on demand of one user after a change. The
emulator hosts the service (its synchronization API runs tenantsync's engine on the job's
schedule). A short table then sets both initial cycles side by side: users created, Graph
requests and writes (the emulators' counters: the service's own calls included), wall time, and
how the users they left in HQ differ.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parent.parent
CONFIG = REPO / "data" / "configs" / "emea-to-hq-entra.yaml"
GRAPH_URL = "${TENANTSYNC_GRAPH_URL:-http://127.0.0.1:8765/v1.0}"
EMEA_TENANT = "2cee517d-601a-44f9-82ff-f26697be201f"      # data/samples (README there)
HQ = "7242482c-0038-4818-b3af-70b2766b9f27"
ANCHOR = re.compile(r"^extension_[0-9a-f]{32}_tenantsyncSourceAnchor$")
# What is compared of a user both provisioned: the mapped properties and the B2B state.
COMPARED = ("displayName", "givenName", "surname", "userType", "accountEnabled", "mail", "userPrincipalName",
            "jobTitle", "department", "companyName", "country", "city", "employeeId", "mobilePhone",
            "officeLocation", "postalCode", "state", "streetAddress", "usageLocation", "creationType",
            "externalUserState")


def write_config(state_dir: Path, graph_url: str) -> Path:
    """A copy of the sample entra configuration: its state in ``state_dir``, its connections on the
    service's emulator (``graph_url``), not on the engine's."""
    state_dir.mkdir(parents=True, exist_ok=True)
    text = CONFIG.read_text(encoding="utf-8").replace(GRAPH_URL, graph_url)
    line = f"state: sqlite:///{(state_dir / 'emea-to-hq-entra.db').as_posix()}"
    text, n = re.subn(r"(?m)^state:.*$", line, text)
    if not n:
        text += f"\n{line}\n"
    path = state_dir / "emea-to-hq-entra.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def counters(stats: Mapping[str, Any]) -> dict[str, int]:
    return {"requests": int(stats.get("total_requests", 0)), "calls": int(stats.get("total_requests", 0))
            + int(stats.get("batch_items", 0)), "writes": int(stats.get("writes", 0))}


def spent(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, int]:
    a, b = counters(before), counters(after)
    return {k: b[k] - a[k] for k in a}


def provisioned(dump: Mapping[str, Any], source_tenant: str) -> tuple[str, dict[str, dict[str, Any]]]:
    """(anchor extension name, {source object id: HQ user}) of the users a provisioner linked to
    ``source_tenant``'s users: their anchor holds ``<source tenant>/<source object id>``."""
    found: dict[str, dict[str, Any]] = {}
    names: Counter[str] = Counter()
    for user in dump.get("users", []):
        for key, value in user.items():
            if ANCHOR.match(key) and str(value).startswith(f"{source_tenant}/"):
                found[str(value).partition("/")[2]] = user
                names[key] += 1
    return (names.most_common(1)[0][0] if names else ""), found


def differences(engine: Mapping[str, Any], service: Mapping[str, Any], source_tenant: str) -> dict[str, Any]:
    """How the users the two provisioners left in HQ differ (the same source users, by anchor)."""
    e_anchor, e_users = provisioned(engine, source_tenant)
    s_anchor, s_users = provisioned(service, source_tenant)
    both = set(e_users) & set(s_users)
    props: Counter[str] = Counter()
    for sid in both:
        for key in COMPARED:
            if e_users[sid].get(key) != s_users[sid].get(key):
                props[key] += 1
    return {"engine": len(e_users), "service": len(s_users), "both": len(both),
            "onlyEngine": len(set(e_users) - both), "onlyService": len(set(s_users) - both),
            "properties": dict(props), "anchors": {"engine": e_anchor, "service": s_anchor}}


def describe_differences(diff: Mapping[str, Any], *, anchors: bool = True) -> str:
    props = diff.get("properties") or {}
    same = ("the same mapped values" if not props else
            "mapped values differ: " + ", ".join(f"{k} ({n} users)" for k, n in sorted(props.items())))
    only = ""
    if diff.get("onlyEngine") or diff.get("onlyService"):
        only = f"; only the engine's: {diff['onlyEngine']}, only the service's: {diff['onlyService']}"
    text = f"{diff.get('both', 0)} users provisioned by both, {same}{only}"
    names = diff.get("anchors") or {}
    if not anchors:
        return f"{text}; each anchors them in its own application's extension"
    return (f"{text}; anchor extension: engine {names.get('engine') or '-'}, service "
            f"{names.get('service') or '-'} (each its own application's)")


def side_by_side(engine: Mapping[str, Any], service: Mapping[str, Any], diff: Mapping[str, Any]) -> dict[str, Any]:
    """The comparison step's result: ``engine``/``service`` = {created, requests, calls, writes, seconds}."""
    rows = {"engine": dict(engine), "service": dict(service)}
    summary = (f"users created: engine {engine.get('created', '?')}, service {service.get('created', '?')}; "
               f"writes: {engine.get('writes', '?')} / {service.get('writes', '?')}; wall time: "
               f"{engine.get('seconds', 0):.1f} s / {service.get('seconds', 0):.1f} s; "
               f"{describe_differences(diff, anchors=False)}")
    return {"ok": bool(diff.get("both")) and not diff.get("onlyEngine") and not diff.get("onlyService"),
            **rows, "differences": dict(diff), "summary": summary}


def print_table(console: Console, result: Mapping[str, Any]) -> None:
    t = Table(title="EMEA → HQ initial cycle, side by side", title_justify="left")
    t.add_column("")
    t.add_column("engine (provisioner: engine)", justify="right")
    t.add_column("Microsoft's service (provisioner: entra)", justify="right")
    e, s = result.get("engine") or {}, result.get("service") or {}
    for label, key in (("users created", "created"), ("Graph requests", "requests"),
                       ("Graph calls ($batch items counted)", "calls"), ("writes", "writes")):
        t.add_row(label, f"{e.get(key, '-')}", f"{s.get(key, '-')}")
    t.add_row("wall time (s)", f"{e.get('seconds', 0):.1f}", f"{s.get('seconds', 0):.1f}")
    console.print(t)
    console.print("Differences: " + describe_differences(result.get("differences") or {}), markup=False)
    console.print("In the emulator both create users the same way (the emulated service runs tenantsync's engine). "
                  "Microsoft's service ties each user to its source by alternativeSecurityIdentifier instead of an "
                  "invitation, and needs Microsoft Entra ID P1 for each synced user: README, \"Choosing a provisioner\".", style="dim", markup=False)


def change_job_title(api: Any, user: Mapping[str, Any]) -> dict[str, Any]:
    """A change for provision on demand to carry (on the service's tenants)."""
    api.request("PATCH", f"/users/{user['id']}", {"jobTitle": "Identity Architect"})
    return {"ok": True, "summary": f"{user.get('displayName', '')} is now Identity Architect (the service's tenants)"}


def measure(demo: Any, emulator: Any) -> Any:
    """Call before a cycle step; the returned function, called after it, gives the step's figures
    (created, requests, calls, writes, seconds) and HQ's dump."""
    before = emulator.stats()

    def after(result: Mapping[str, Any] | None) -> dict[str, Any]:
        figures = spent(before, emulator.stats())
        counts = (result or {}).get("counts") or {}
        step = demo.steps[-1] if demo.steps else None
        return {"created": int(counts.get("create", 0)), **figures,
                "seconds": round(step.seconds, 1) if step else 0.0, "dump": emulator.dump(HQ)}

    return after


def run_service(demo: Any, engine: Mapping[str, Any] | None, flow: Any) -> None:
    """The service's steps on its own emulator (module docstring); ``engine``: the figures of the
    engine's EMEA → HQ initial cycle (``measure``), ``flow(fn, **params)`` a step's callable."""
    from flows.ondemand import provision_on_demand
    from flows.setup import setup_config
    from flows.sync import sync_cycle
    from tenantsync.config import load_config
    from tenantsync.emulator import EmulatorServer
    from tenantsync.graph import GraphApi

    from .demo import FIXTURE, describe_on_demand, pick_users
    from .render import render_provision

    emu = EmulatorServer(FIXTURE, port=0, in_process=False)
    emu.__enter__()
    try:
        demo.console.print(f"Microsoft's provisioning service: a second emulator on {emu.url}, the same "
                           "sample tenants (the service runs there)", style="dim")
        config = str(write_config(demo.state_dir, emu.url))
        demo.step("Setup EMEA → HQ for Microsoft's service (sync application, job, secrets, schema)",
                  flow(setup_config, config=config))
        seen = measure(demo, emu)
        initial = demo.step("Initial cycle EMEA → HQ by Microsoft's service (started, followed to its end)",
                            flow(sync_cycle, config=config, reports_dir=str(demo.reports_dir), approval_timeout_s=0))
        service = seen(initial)
        cfg = load_config(config)
        with GraphApi(cfg.connection(cfg.source.connection)) as source:
            who = pick_users(source)["rename"]
            demo.step("Change a job title through Graph (the service's tenants)", lambda: change_job_title(source, who))
        result = demo.step(f"Provision {who.get('displayName', '')} on demand by Microsoft's service",
                           flow(provision_on_demand, config=config, user_ids=[who["id"]]), describe_on_demand)
        if result:
            render_provision(result, demo.console)
        if engine is None or initial is None:
            return
        diff = differences(engine["dump"], service["dump"], EMEA_TENANT)
        compared = demo.step("Side by side: the engine and Microsoft's service (EMEA → HQ initial cycle)",
                             lambda: side_by_side(strip(engine), strip(service), diff))
        if compared:
            print_table(demo.console, compared)
    finally:
        emu.__exit__(None, None, None)


def strip(figures: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in figures.items() if k != "dump"}


__all__ = ["change_job_title", "differences", "measure", "print_table", "provisioned", "run_service", "side_by_side",
           "spent", "write_config"]
