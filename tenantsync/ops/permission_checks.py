"""Test connection's permission and anchor checks (the rest is in connection_test.py).

- "Source permissions" / "Target permissions": the application permissions in each token's
  ``roles`` claim against tenantsync/permissions.py, naming each missing one and the fix. A token
  whose roles cannot be read (not a JWT) gives a warning, not a failure: Graph's 403s then say
  what is missing, and ``forbidden_action`` names the permission behind them.
- "Anchor extension": the anchor's directory extension is registered in the target tenant (or
  can be registered by setup / the first cycle).
Read-only like the rest of test connection: nothing is registered here.
"""

from __future__ import annotations

from typing import Any

from .. import permissions, remedies
from ..anchor import recorded_anchor
from ..errors import GraphError
from ..preflight import SideFacts, find_anchor, fixes, side_facts

PERMISSIONS_CODE = "InsufficientPermissions"     # ours; Graph answers Authorization_RequestDenied
ANCHOR_CODE = "AnchorExtensionNotRegistered"     # ours
NAMES = {"source": "Source permissions", "target": "Target permissions"}


def check_permissions(report: Any, cfg: Any, src: Any, tgt: Any, check: type) -> dict[str, SideFacts]:
    """Append one check per side; returns the facts for the later checks."""
    facts = side_facts(cfg, src, tgt)
    for side in ("source", "target"):
        f = facts[side]
        who = f"The {side} credential ({f.app_label}, tenant {f.tenant_id})"
        missing = permissions.missing(side, f.claims.roles)  # type: ignore[arg-type]
        if missing is None:
            report.checks.append(check(
                NAMES[side], "warning", message=f"{who}: its permissions could not be read from the "
                "token (not a JWT), so they were not checked; Graph's answers below say what is missing.",
                recommended_action=f"Grant the application permissions listed by {remedies.setup(cfg.name)} "
                f"(or `python -m tenantsync.permissions`) for the {side} side."))
        elif missing:
            report.checks.append(check(
                NAMES[side], "failed", PERMISSIONS_CODE, f"{who} lacks {', '.join(missing)}.",
                "; ".join(fixes(facts, {side: missing})) + f". Then run {remedies.setup(cfg.name)} "
                "to check.", blocking=True))
        else:
            report.checks.append(check(NAMES[side], "passed", message=f"{who} holds every application "
                                       f"permission the {side} side needs."))
    return facts


def check_anchor(report: Any, cfg: Any, tgt: Any, facts: dict[str, SideFacts], store: Any, check: type) -> None:
    name = "Anchor extension"
    recorded = recorded_anchor(cfg, store) if store is not None else None
    try:
        found, app = find_anchor(cfg, tgt, facts["target"], [])
    except GraphError as exc:
        report.checks.append(check(name, "failed", exc.code or f"HTTP{exc.status}", exc.message,
                                   forbidden_action(exc, "GET", "/applications", "target"), blocking=True))
        return
    if found.action == "found":
        note = "" if not recorded or recorded == found.attribute else \
            f" (the state store still names {recorded}: run {remedies.setup(cfg.name)})"
        report.checks.append(check(name, "passed" if not note else "warning", message=(
            f"{found.message}: cycles write the source anchor there{note}.")))
        return
    target = facts["target"]
    roles = target.claims.roles
    lacks = [] if roles is None else [r.permission for r in permissions.requirements("target", ["setup"])
                                      if r.write and not r.satisfied_by(roles)]
    if cfg.settings.anchor_attribute or not target.app_id or app is None or lacks:
        why = (f"settings.anchor_attribute {cfg.settings.anchor_attribute} is not registered"
               if cfg.settings.anchor_attribute else
               f"the target's application is unknown: set connections.{target.connection}.auth.client_id"
               if not target.app_id else
               f"application {target.app_id} cannot be read in the target tenant" if app is None else
               f"the target connection lacks {', '.join(lacks)} to register it")
        report.checks.append(check(
            name, "failed", ANCHOR_CODE, f"The anchor extension is not registered in the target "
            f"tenant and cannot be: {why}.", f"Fix that, then run {remedies.setup(cfg.name)}"
            + (f" ({'; '.join(fixes(facts, {'target': lacks}))})" if lacks else "") + ".", blocking=True))
        return
    report.checks.append(check(
        name, "warning", ANCHOR_CODE, f"{found.attribute} is not registered yet; the target connection "
        "can register it.", f"Run {remedies.setup(cfg.name)}; the first cycle would do it too."))


def forbidden_action(exc: GraphError, method: str, path: str, side: str) -> str:
    """A 403 named by the permission its route needs (else the generic advice)."""
    hint = permissions.forbidden_hint(method, path, side) if exc.status == 403 else ""  # type: ignore[arg-type]
    if hint:
        return f"{hint} Grant it (Application) in that tenant and admin-consent, then retry."
    return ""


__all__ = ["check_anchor", "check_permissions", "forbidden_action"]
