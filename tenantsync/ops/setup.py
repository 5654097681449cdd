"""``tenantsync setup CONFIG``: what a configuration needs in its two tenants, made ready once.

- Registers the anchor extension on the target connection's own application, or finds it there
  (idempotent: a second run says it is there), and records its full name in the state store;
  cycles read it there (preflight.py has the Graph calls and their pages).
- Lists the application permissions each side needs (tenantsync/permissions.py) and, where the
  token's ``roles`` claim can be read, those the current credentials lack, with the fix.

``dry_run``: the reads are made, the registration is only listed (the calls it would make), and
nothing is written to Graph or to the state store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .. import permissions
from ..config import SyncConfig
from ..entra_service.setup import ServiceSetupReport
from ..errors import ConfigError
from ..preflight import AnchorResult, ensure_anchor, fixes, missing_for, record, side_facts
from ..service import read_only_apis
from ..store import Store

STATUS_GRANTED, STATUS_MISSING, STATUS_UNKNOWN = "granted", "missing", "unknown"


@dataclass
class SetupReport:
    config: str
    source_tenant: str
    target_tenant: str
    dry_run: bool
    anchor: AnchorResult
    rows: list[dict[str, Any]] = field(default_factory=list)      # one per (side, permission)
    missing: dict[str, list[str] | None] = field(default_factory=dict)   # None: roles unknown
    fixes: list[str] = field(default_factory=list)

    @property
    def blocking_missing(self) -> dict[str, list[str]]:
        """Missing permissions a cycle or the setup itself needs (test-connection-only ones are
        shown, not blocking)."""
        out: dict[str, list[str]] = {}
        for r in self.rows:
            if r["status"] == STATUS_MISSING and set(r["neededBy"]) & {"sync", "on-demand", "setup"}:
                out.setdefault(r["side"], []).append(r["permission"])
        return out

    @property
    def ok(self) -> bool:
        return self.anchor.problem is None and not self.blocking_missing

    @property
    def message(self) -> str:
        if self.anchor.problem is not None:
            return self.anchor.problem.message
        anchor = self.anchor.message + ("" if self.anchor.action != "found" else " (nothing to do)")
        blocking = self.blocking_missing
        if blocking:
            lacks = "; ".join(f"the {s} connection lacks {', '.join(p)}" for s, p in blocking.items())
            return f"{self.config}: {anchor}; but {lacks}"
        unknown = [s for s, m in self.missing.items() if m is None]
        tail = (f"; permissions of the {' and '.join(unknown)} connection{'s' if len(unknown) > 1 else ''} "
                "could not be read from the token (not a JWT): Graph will say what is missing"
                if unknown else "")
        return f"{self.config}: {anchor}{tail}"

    def as_dict(self) -> dict[str, Any]:
        a = self.anchor
        return {"config": self.config, "sourceTenant": self.source_tenant, "targetTenant": self.target_tenant,
                "dry_run": self.dry_run, "ok": self.ok, "status": "success" if self.ok else "failure",
                "message": self.message,
                "anchor": {"action": a.action, "attribute": a.attribute, "appId": a.app_id,
                           "applicationId": a.application_id, "message": a.message,
                           "problem": a.problem.message if a.problem else None},
                "permissions": self.rows, "missing": self.missing, "fixes": self.fixes,
                "calls": list(a.calls)}


def run_setup(cfg: SyncConfig, *, dry_run: bool = False, source_api: Any = None, target_api: Any = None,
              store: Store | None = None) -> SetupReport | ServiceSetupReport:
    """Find or register the anchor extension and check both sides' permissions.

    Graph clients passed in are used as they are (the target one must be writable unless
    ``dry_run``); the ones made here are read-only for the source, and for the target in a dry run.
    ``provisioner: entra``: the configuration is created in Microsoft's provisioning service
    instead (tenantsync/entra_service/setup.py; a source client passed in must be writable).
    """
    if cfg.provisioner == "entra":
        from ..entra_service.setup import run_service_setup
        return run_service_setup(cfg, dry_run=dry_run, source_api=source_api, store=store)
    if cfg.target.connection is None:
        raise ConfigError("the target is an application directory: setup prepares an Entra target "
                          "tenant (a user-source configuration needs none)", key="target")
    from ..graph.api import GraphApi

    opened: list[Any] = []
    if target_api is None:
        target_api = GraphApi(cfg.connection(cfg.target.connection), read_only=dry_run)
        opened.append(target_api)
    try:
        with read_only_apis(cfg, source_api, target_api) as (src, tgt):
            facts = side_facts(cfg, src, tgt)
            anchor = ensure_anchor(cfg, tgt, facts["target"], register=True, send=not dry_run)
    finally:
        for api in opened:
            api.close()
    if anchor.resolved and not dry_run:
        record(cfg, store or Store.for_url(cfg.state_url), anchor)
    report = SetupReport(cfg.name, facts["source"].tenant_id, facts["target"].tenant_id, dry_run, anchor)
    report.rows = permission_rows(facts)
    report.missing = {s: permissions.missing(s, f.claims.roles) for s, f in facts.items()}  # type: ignore[arg-type]
    report.fixes = fixes(facts, missing_for(facts, ["sync", "on-demand", "setup", "test-connection"]))
    return report


def permission_rows(facts: Any) -> list[dict[str, Any]]:
    """One row per (side, permission to grant): what it is for, who needs it, its status."""
    order = permissions.ORDER
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for r in permissions.REQUIREMENTS:
        roles = facts[r.side].claims.roles
        key = (r.side, r.permission)
        row = rows.setdefault(key, {"side": r.side, "permission": r.permission, "neededBy": [],
                                    "for": [], "pages": [], "status": STATUS_GRANTED if roles is not None
                                    else STATUS_UNKNOWN})
        row["neededBy"] = sorted(set(row["neededBy"]) | r.operations, key=order.__getitem__)
        row["for"].append(r.purpose)
        row["pages"].append(r.page)
        if roles is not None and not r.satisfied_by(roles):
            row["status"] = STATUS_MISSING
    return list(rows.values())


__all__ = ["SetupReport", "permission_rows", "run_setup"]
