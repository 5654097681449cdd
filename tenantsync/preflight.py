"""Before anything is written: the credentials' permissions and the anchor extension.

Used by ``tenantsync setup`` (ops/setup.py), by every cycle that writes (service.open_cycle) and by
test connection. The permissions come from each token's ``roles`` claim (graph/token_claims.py)
against tenantsync/permissions.py; an opaque token's roles are unknown, which is not a refusal.

The anchor extension is found or registered on the target connection's own application, whose
appId is ``auth.client_id`` or the token's ``appid`` claim:

- ``GET /applications(appId='{appId}')`` (application-get), then
  ``GET /applications/{id}/extensionProperties`` (application-list-extensionproperty);
- when the name is not there, ``POST /applications/{id}/extensionProperties`` with
  ``{"name", "dataType": "String", "targetObjects": ["User"]}`` (application-post-extensionproperty),
  which Application.ReadWrite.OwnedBy allows on an application the app owns;
- when the appId is unknown, an existing ``extension_<32 hex>_<name>`` is looked for with
  ``POST /directoryObjects/getAvailableExtensionProperties`` (a read), else setup asks for
  ``auth.client_id``.

The resolved full name is recorded in the state store (store/setup.py); nothing invented is
ever sent to Graph.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from . import permissions, remedies
from .anchor import EXTENSION_RE, app_id_of, extension_name, recorded_anchor
from .errors import GraphError, SetupRequired
from .graph.token_claims import UNKNOWN, TokenClaims

log = logging.getLogger("tenantsync.setup")

Action = Literal["found", "registered", "recorded", "would register", "unresolved"]


@dataclass(frozen=True)
class SideFacts:
    """One connection as its credential describes itself."""

    side: str
    connection: str
    tenant_id: str
    claims: TokenClaims
    client_id: str | None

    @property
    def app_id(self) -> str | None:
        return self.client_id or self.claims.app_id

    @property
    def app_label(self) -> str:
        return f"application {self.app_id}" if self.app_id else f"the {self.side} connection's application"


def side_facts(cfg: Any, source_api: Any, target_api: Any) -> dict[str, SideFacts]:
    out = {}
    for side, name, api in (("source", cfg.source.connection, source_api),
                            ("target", cfg.target.connection, target_api)):
        conn = cfg.connection(name)
        claims = api.token_claims() if hasattr(api, "token_claims") else UNKNOWN
        out[side] = SideFacts(side, name, conn.tenant_id, claims, conn.auth.client_id)
    return out


def missing_for(facts: Mapping[str, SideFacts], operations: list[str], *, writes: bool = True
                ) -> dict[str, list[str]]:
    """The permissions each side's token lacks for ``operations`` (sides with unknown roles and
    sides lacking nothing are left out)."""
    found = permissions.missing_by_side({s: f.claims.roles for s, f in facts.items()}, operations,
                                        writes=writes)
    return {s: m for s, m in found.items() if m}


def missing_text(facts: Mapping[str, SideFacts], missing: Mapping[str, list[str]]) -> str:
    """"the source connection 'emea' (tenant ...) lacks A, B; the target ... lacks C"."""
    parts = [f"the {side} connection '{facts[side].connection}' (tenant {facts[side].tenant_id}) "
             f"lacks {', '.join(perms)}" for side, perms in missing.items() if perms]
    return "; ".join(parts)


def fixes(facts: Mapping[str, SideFacts], missing: Mapping[str, list[str]]) -> list[str]:
    return [permissions.fix_text(p, facts[side].app_label, f"tenant {facts[side].tenant_id}")
            for side, perms in missing.items() for p in perms]


def refuse_missing(cfg: Any, facts: Mapping[str, SideFacts], missing: Mapping[str, list[str]],
                   what: str = "a sync cycle") -> SetupRequired:
    return SetupRequired(
        f"{cfg.name}: {what} cannot start: {missing_text(facts, missing)}. Fix: "
        f"{'; '.join(fixes(facts, missing))}. Then run {remedies.setup(cfg.name)} to check.",
        missing=dict(missing))


# -- the anchor extension ----------------------------------------------------------------------

@dataclass
class AnchorResult:
    action: Action
    attribute: str | None = None
    app_id: str | None = None
    application_id: str | None = None      # the application's object id
    message: str = ""
    calls: list[str] = field(default_factory=list)   # "GET ...", "POST ... (not sent: dry run)"
    problem: SetupRequired | None = None
    candidates: list[str] = field(default_factory=list)   # several registered names fit: ambiguous

    @property
    def resolved(self) -> bool:
        return self.attribute is not None and self.action in ("found", "registered")


class _Target:
    """The few Graph calls of the anchor setup, each logged in ``calls``."""

    def __init__(self, api: Any, calls: list[str]):
        self.api, self.calls = api, calls

    def get(self, path: str) -> dict[str, Any] | None:
        self.calls.append(f"GET {path}")
        try:
            return self.api.get_json(path)
        except GraphError as exc:
            if exc.status == 404:
                return None
            raise

    def post(self, path: str, body: dict[str, Any], *, send: bool = True) -> dict[str, Any] | None:
        self.calls.append(f"POST {path} {body}" + ("" if send else " (not sent: dry run)"))
        return self.api.request("POST", path, body) if send else None


def _user_extension(ext: Mapping[str, Any]) -> bool:
    return "User" in (ext.get("targetObjects") or [])


def find_anchor(cfg: Any, target_api: Any, facts: SideFacts, calls: list[str]
                ) -> tuple[AnchorResult, dict[str, Any] | None]:
    """Read-only: the anchor if registered (action "found"), else "unresolved" with the
    application it would be registered on (when found)."""
    g = _Target(target_api, calls)
    explicit = cfg.settings.anchor_attribute
    short = cfg.settings.anchor_extension
    app_id = app_id_of(explicit) if explicit else facts.app_id
    want = explicit or (extension_name(app_id, short) if app_id else None)
    app: dict[str, Any] | None = None
    if app_id:
        try:
            app = g.get(f"/applications(appId='{app_id}')")
            if app:
                exts = (g.get(f"/applications/{app['id']}/extensionProperties") or {}).get("value", [])
                if any(e.get("name") == want and _user_extension(e) for e in exts):
                    return AnchorResult("found", want, app_id, app["id"],
                                        f"{want} is already registered on application {app_id}", calls), app
                return AnchorResult("unresolved", want, app_id, app["id"], "", calls), app
        except GraphError as exc:
            if exc.status != 403:
                raise        # 403: no Application.* permission; look through the tenant's extensions
    # The app is not known (or not readable): a registered extension with that name.
    try:
        listed = (g.post("/directoryObjects/getAvailableExtensionProperties", {}) or {}).get("value", [])
    except GraphError as exc:
        if exc.status != 403:
            raise
        listed = []
    names = sorted({e["name"] for e in listed if _user_extension(e) and (
        e.get("name") == want if want else _short_of(e.get("name", "")) == short)})
    if len(names) == 1:
        return AnchorResult("found", names[0], app_id_of(names[0]), None,
                            f"{names[0]} is already registered in the target tenant", calls), app
    return AnchorResult("unresolved", want, app_id, app.get("id") if app else None, "", calls,
                        candidates=names), app


def _short_of(name: str) -> str | None:
    m = EXTENSION_RE.fullmatch(name)
    return m.group(2) if m else None


def ensure_anchor(cfg: Any, target_api: Any, facts: SideFacts, *, register: bool, send: bool = True
                  ) -> AnchorResult:
    """Find the anchor extension, else register it (``register``; ``send=False`` only lists the
    call). Never raises for a missing right: the result's ``problem`` says what to do."""
    calls: list[str] = []
    found, app = find_anchor(cfg, target_api, facts, calls)
    if found.action == "found":
        return found
    tenant, short, conn = facts.tenant_id, cfg.settings.anchor_extension, facts.connection
    if cfg.settings.anchor_attribute:
        found.problem = SetupRequired(
            f"{cfg.name}: settings.anchor_attribute {cfg.settings.anchor_attribute} is not a directory "
            f"extension registered for users in the target tenant {tenant}: register it, or remove "
            f"settings.anchor_attribute and run {remedies.setup(cfg.name)}")
        return found
    if not facts.app_id and found.candidates:
        found.problem = SetupRequired(
            f"{cfg.name}: several directory extensions named '{short}' are registered in the target "
            f"tenant {tenant} ({', '.join(found.candidates)}): set settings.anchor_attribute to the one "
            f"to use, or connections.{conn}.auth.client_id to the application that holds it")
        return found
    if not facts.app_id:
        found.problem = SetupRequired(
            f"{cfg.name}: no directory extension '{short}' is registered in the target tenant {tenant}, "
            f"and the target's application is unknown (its token has no appid claim): set "
            f"connections.{conn}.auth.client_id to the application's appId (Application (client) ID), "
            f"then run {remedies.setup(cfg.name)}")
        return found
    if app is None:
        found.problem = SetupRequired(
            f"{cfg.name}: no application with appId {facts.app_id} can be read in the target tenant "
            f"{tenant} (connections.{conn}.auth.client_id or the token's appid): check the appId and "
            f"grant Application.ReadWrite.OwnedBy, then run {remedies.setup(cfg.name)}")
        return found
    roles = facts.claims.roles
    need = [] if roles is None else list(dict.fromkeys(
        r.permission for r in permissions.requirements("target", ["setup"])
        if r.write and not r.satisfied_by(roles)))
    can = not need
    if not register or not can:
        why = (f"the target connection lacks {', '.join(need)}" if need and not can
               else "a dry run registers nothing")
        found.problem = SetupRequired(
            f"{cfg.name}: the anchor extension {found.attribute} is not registered yet and {why}: "
            f"run {remedies.setup(cfg.name)}"
            + (f" after granting {', '.join(need)} (Application) to {facts.app_label} in tenant "
               f"{tenant} and admin-consenting" if need and not can else ""),
            missing={"target": need} if need else None)
        return found
    body = {"name": short, "dataType": "String", "targetObjects": ["User"]}
    path = f"/applications/{app['id']}/extensionProperties"
    try:
        made = _Target(target_api, calls).post(path, body, send=send)
    except GraphError as exc:
        if exc.status in (400, 409):      # registered meanwhile (another configuration's first cycle)?
            again, _ = find_anchor(cfg, target_api, facts, calls)
            if again.action == "found":
                return again
        if exc.status != 403:
            raise
        found.problem = SetupRequired(
            f"{cfg.name}: registering {found.attribute} was refused ({exc.code}): "
            f"{permissions.forbidden_hint('POST', path, 'target')} The app must also own its "
            f"application object. Then run {remedies.setup(cfg.name)}",
            missing={"target": ["Application.ReadWrite.OwnedBy"]})
        return found
    if not send:
        return AnchorResult("would register", found.attribute, facts.app_id, app["id"],
                            f"would register {found.attribute} on application {facts.app_id}", calls)
    name = (made or {}).get("name") or found.attribute
    return AnchorResult("registered", name, facts.app_id, app["id"],
                        f"registered {name} on application {facts.app_id}", calls)


def record(cfg: Any, store: Any, result: AnchorResult) -> None:
    store.save_setup_values(cfg.name, {"anchor_attribute": result.attribute,
                                       "anchor_app_id": result.app_id})


# -- a cycle's preflight ---------------------------------------------------------------------------

def wait_for_quarantine(cfg: Any, store: Any, options: Any, notify: Any = None) -> None:
    """A quarantined job does not talk to Graph before its next attempt, setup included (the same
    rule, and the same exemptions, as Cycle.begin)."""
    from .quarantine import JobKeeper

    JobKeeper(store, cfg, notify=notify).check_due(
        ignore=options.ignore_quarantine or options.restart or options.allow_deletes or bool(options.user_ids))


def record_credential_failure(cfg: Any, store: Any, options: Any, exc: GraphError, notify: Any = None) -> None:
    """A Graph failure of the tenant itself during the first cycle's setup (e.g. a refused token) is
    recorded like one at Cycle.begin: a failed cycle, and quarantine when the credential is refused."""
    from .quarantine import JobKeeper
    from .records import counts

    if options.user_ids:
        kind = "on-demand"
    else:
        kind = "initial" if options.restart or not store.watermarks(cfg.name).get("users") else "incremental"
    cycle_id = store.start_cycle(cfg.name, kind, dry_run=options.dry_run)
    jobs = JobKeeper(store, cfg, notify=notify)
    job = jobs.enter_quarantine("EncounteredQuarantineException", exc) if exc.stops_job else store.job(cfg.name)
    store.finish_cycle(cfg.name, cycle_id, counts=counts([]), status="failure", job=job, error=str(exc))


@dataclass
class Preflight:
    anchor_attribute: str
    note: str = ""            # what the first cycle did (setup), for the cycle's log and summary


def prepare_cycle(cfg: Any, source_api: Any, target_api: Any, store: Any, *, dry_run: bool = False,
                  on_demand: bool = False, on_note: Callable[[str], None] | None = None) -> Preflight:
    """Refuse (SetupRequired, nothing written) when a token lacks what the cycle needs or the
    anchor cannot be resolved; the first cycle of a configuration does the setup itself."""
    facts = side_facts(cfg, source_api, target_api)
    missing = missing_for(facts, ["sync", "on-demand"] if on_demand else ["sync"], writes=not dry_run)
    if missing:
        raise refuse_missing(cfg, facts, missing, "a dry run" if dry_run else "a sync cycle")
    name = recorded_anchor(cfg, store)
    if name:
        return Preflight(name)
    result = ensure_anchor(cfg, target_api, facts["target"], register=not dry_run)
    if result.problem is not None:
        raise result.problem
    note = ""
    if not dry_run:
        record(cfg, store, result)
        note = (f"first cycle of {cfg.name}: tenantsync setup ran: {result.message}; "
                f"the anchor is {result.attribute}")
        log.info("%s", note)
        if on_note:
            on_note(note)
    return Preflight(result.attribute or "", note)


__all__ = ["AnchorResult", "Preflight", "SideFacts", "ensure_anchor", "find_anchor", "missing_for",
           "missing_text", "prepare_cycle", "record", "record_credential_failure", "refuse_missing",
           "side_facts", "wait_for_quarantine"]
