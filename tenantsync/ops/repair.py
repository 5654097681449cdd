"""Pending-acceptance UPN repair (cross-tenant-synchronization-overview, FAQ;
docs/entra-behaviour.md#pending-acceptance-upn-edge-case).

A B2B user invited by hand that never redeemed is not matched by alternativeSecurityIds: CTS
treats the source user as an add, the invitation manager finds the pending user by mail and the
UPN update is dropped, so the target keeps a UPN made from an old address. The documented fix is
to provision those users on demand. ``run_repair`` finds the target's PendingAcceptance users,
works out which source user each corresponds to (the stored link, the durable anchor extension,
or the mail address), provisions those on demand in groups of at most five through the caller's
``provision`` callable (so the caller's rate limit applies), and reads the target again to report
each user before and after.

Nothing here writes a file: the command line and the flow write ``pending-acceptance.csv`` and
the before/after report with ``tenantsync.reports``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ..config import SyncConfig
from ..connectors.entra_source import odata_quote
from ..cycle import CycleReport
from ..errors import GraphError, TenantSyncError
from ..graph.urls import path, relative
from ..model import Action
from ..service import read_only_apis
from ..store import Store
from ..uimarkdown import cell, table
from .ondemand import MAX_USERS

PENDING_FILTER = "externalUserState eq 'PendingAcceptance'"
PENDING_SELECT = ("id", "displayName", "userPrincipalName", "mail", "createdDateTime", "externalUserState")
PENDING_COLUMNS = ("DisplayName", "UserPrincipalName", "id", "mail", "createdDateTime")
REPAIR_COLUMNS = ("DisplayName", "id", "mail", "oldUpn", "newUpn", "outcome", "why", "sourceId", "matchedBy")

Outcome = Literal["repaired", "already correct", "not repaired"]


def _pending_users(api: Any, extra: Sequence[str] = ()) -> Iterator[dict[str, Any]]:
    select = list(dict.fromkeys([*PENDING_SELECT, *extra]))
    for page in api.iter_pages("users", select=select, filter=PENDING_FILTER):
        yield from page


def pending_row(u: dict[str, Any]) -> dict[str, Any]:
    return {"DisplayName": u.get("displayName") or "", "UserPrincipalName": u.get("userPrincipalName") or "",
            "id": u.get("id") or "", "mail": u.get("mail") or "",
            "createdDateTime": u.get("createdDateTime") or ""}


def pending_acceptance(target_api: Any) -> list[dict[str, Any]]:
    """The target's B2B users whose invitation is still PendingAcceptance, as pending-acceptance.csv rows."""
    return [pending_row(u) for u in _pending_users(target_api)]


@dataclass
class RepairResult:
    config: str
    pending: list[dict[str, Any]] = field(default_factory=list)     # pending-acceptance.csv rows
    rows: list[dict[str, Any]] = field(default_factory=list)        # before/after, one per pending user
    reports: list[CycleReport] = field(default_factory=list)        # one per on-demand call

    def count(self, outcome: Outcome) -> int:
        return sum(1 for r in self.rows if r["outcome"] == outcome)

    @property
    def repaired(self) -> int:
        return self.count("repaired")

    @property
    def failed(self) -> bool:
        """An error (not merely "not in scope" or "no source match") kept a user from being repaired."""
        return any(r["outcome"] == "not repaired" and r["why"].startswith("error") for r in self.rows)

    def summary(self) -> str:
        return (f"{self.config}: {len(self.pending)} pending-acceptance users; {self.repaired} repaired, "
                f"{self.count('already correct')} already correct, {self.count('not repaired')} not repaired.")

    def render_text(self) -> str:
        lines = [self.summary()]
        for r in self.rows:
            upn = r["oldUpn"] if r["oldUpn"] == r["newUpn"] else f"{r['oldUpn']} -> {r['newUpn']}"
            lines.append(f"  {r['DisplayName']} ({r['id']}): {r['outcome']}: {upn}"
                         + (f" ({r['why']})" if r["why"] else ""))
        return "\n".join(lines)

    def render_markdown(self) -> str:
        """A narrow table, each user's UPN before/after and reason in a list under it (they wrap:
        tenantsync/uimarkdown.py); every column is in upn-repair.csv and the table artifact."""
        out = [f"# Pending-acceptance UPN repair: `{self.config}`", "", self.summary(), ""]
        out += table(("Display name", "Outcome", "id"), [(r["DisplayName"], r["outcome"], r["id"]) for r in self.rows])
        out += ["", "UPN before → after:", ""] if self.rows else []
        for r in self.rows:
            old, new = r["oldUpn"], r["newUpn"]
            upn = f"`{old}`" + (f" → `{new}`" if new and new != old else "")
            out.append(f"- **{cell(r['DisplayName'])}** ({cell(r['mail'])}): {upn}"
                       + (f"; {cell(r['why'])}" if r["why"] else ""))
        return "\n".join(out) + "\n"


def _by_mail(src: Any, mails: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    """Source users whose mail (or, failing that, UPN) is each address; one $batch item per address."""
    mails = list(dict.fromkeys(m for m in mails if m))
    # The address goes into the URL encoded (graph.urls): a raw "+", "&" or "#" would change the query.
    reqs = [{"method": "GET", "url": relative("/users", {
                "$filter": f"mail eq {odata_quote(m)} or userPrincipalName eq {odata_quote(m)}",
                "$select": "id,userPrincipalName,mail,displayName"})}
            for m in mails]
    out: dict[str, list[dict[str, Any]]] = {}
    for m, r in zip(mails, src.batch(reqs) if reqs else []):
        out[m] = list((r.get("body") or {}).get("value", [])) if r["status"] == 200 else []
    return out


def correspond(cfg: SyncConfig, pending: Sequence[dict[str, Any]], *, links: dict[str, Any],
               source_api: Any, anchor_attribute: str | None = None) -> dict[str, tuple[str | None, str, str]]:
    """pending target id -> (source id or None, matched by, why not) : link, anchor, then mail.
    ``anchor_attribute``: the anchor extension's registered name (None: not set up yet, no anchors)."""
    source_tid = cfg.connection(cfg.source.connection).tenant_id
    anchor_attr = anchor_attribute or ""
    by_target = {link.target_id: sid for sid, link in links.items()}
    found: dict[str, tuple[str | None, str, str]] = {}
    by_mail_wanted: dict[str, str] = {}
    for u in pending:
        tid = u["id"]
        if tid in by_target:
            found[tid] = (by_target[tid], "link", "")
            continue
        anchor = (u.get(anchor_attr) if anchor_attr else "") or ""
        if anchor:
            tenant, _, sid = anchor.partition("/")
            if tenant == source_tid and sid:
                found[tid] = (sid, "anchor", "")
            else:
                found[tid] = (None, "anchor", f"no source match: anchored to another source tenant ({tenant})")
            continue
        if u.get("mail"):
            by_mail_wanted[tid] = u["mail"].lower()
        else:
            found[tid] = (None, "none", "no source match: the pending user has no mail address")
    hits = _by_mail(source_api, by_mail_wanted.values())
    for tid, mail in by_mail_wanted.items():
        users = hits.get(mail, [])
        if len(users) == 1:
            found[tid] = (users[0]["id"], "mail", "")
        elif not users:
            found[tid] = (None, "none", f"no source match: no source user has the mail address {mail}")
        else:
            found[tid] = (None, "mail", f"no source match: {len(users)} source users have the mail address "
                                        f"{mail}: ambiguous")
    return found


def _outcome(a: Action | None, pending_id: str, old: str, new: str) -> tuple[Outcome, str]:
    if a is None:
        return "not repaired", "error: the on-demand run returned no result for this user"
    scope = next((s for s in a.steps if s.type == "scoping"), None)
    if a.status == "failure":
        return "not repaired", f"error {a.error_code}: {a.reason}".strip()
    if a.error_code == "SourceObjectNotFound":
        return "not repaired", f"no source match: {a.reason}"
    if scope is not None and scope.status != "success":
        rules = scope.details.get("ScopeEvaluationResult") or {}
        failing = next((r for r, ok in rules.items() if not ok), None)
        return "not repaired", (f"not in scope: {failing}" if failing else f"not in scope: {scope.description}") \
            + (f" ({scope.details['SkipReason']})" if scope.details.get("SkipReason") else "")
    if a.target_id and a.target_id != pending_id:
        return "not repaired", (f"the source user corresponds to another target user ({a.target_id}); "
                                "this pending user was left alone")
    if new != old:
        return "repaired", ""
    if a.kind == "other":
        return "already correct", ""
    if "userPrincipalName" in a.changes:
        return "not repaired", f"error: the UPN is still {new} after the update ({a.reason})"
    other = ", ".join(sorted(a.changes))
    return "already correct", f"UPN already correct; other attributes {'updated: ' + other if other else 'unchanged'}"


def _read_upns(tgt: Any, ids: Sequence[str]) -> dict[str, str]:
    replies = tgt.batch([{"method": "GET", "url": relative(path("users", i), {"$select": "id,userPrincipalName"})}
                         for i in ids]) if ids else []
    return {i: (r["body"] or {}).get("userPrincipalName", "") for i, r in zip(ids, replies) if r["status"] == 200}


def _anchor_name(cfg: SyncConfig, store: Store, src: Any, tgt: Any) -> str | None:
    """The anchor extension's registered name: recorded by setup, else looked up (read only);
    None when it is not registered yet (then no user carries an anchor)."""
    from ..anchor import recorded_anchor
    from ..preflight import find_anchor, side_facts

    name = recorded_anchor(cfg, store)
    if name:
        return name
    found, _ = find_anchor(cfg, tgt, side_facts(cfg, src, tgt)["target"], [])
    return found.attribute if found.action == "found" else None


def run_repair(cfg: SyncConfig, *, provision: Callable[[list[str]], CycleReport], store: Store | None = None,
               source_api: Any = None, target_api: Any = None) -> RepairResult:
    """Repair the UPNs of PendingAcceptance B2B users that correspond to source users.

    ``provision(ids)`` provisions up to five source users on demand (``ops.ondemand.provision``
    behind the caller's rate limit). Reads go through read-only Graph clients; the only writes are
    the on-demand runs'.
    """
    store = store or Store.for_url(cfg.state_url)
    result = RepairResult(cfg.name)
    with read_only_apis(cfg, source_api, target_api) as (src, tgt):
        anchor = _anchor_name(cfg, store, src, tgt)
        pending = list(_pending_users(tgt, [anchor] if anchor else []))
        result.pending = [pending_row(u) for u in pending]
        found = correspond(cfg, pending, links=store.links(cfg.name), source_api=src, anchor_attribute=anchor)
        to_run = list(dict.fromkeys(sid for sid, _, _ in found.values() if sid))
        actions: dict[str, Action] = {}
        errors: dict[str, str] = {}
        stopped: str | None = None
        for i in range(0, len(to_run), MAX_USERS):
            group = to_run[i:i + MAX_USERS]
            if stopped:
                errors.update({sid: stopped for sid in group})
                continue
            try:
                report = provision(group)
            except (GraphError, TenantSyncError) as exc:
                message = f"error {getattr(exc, 'code', type(exc).__name__)}: {getattr(exc, 'message', str(exc))}"
                errors.update({sid: message for sid in group})
                if isinstance(exc, GraphError) and not exc.stops_job:
                    continue
                stopped = message
                continue
            result.reports.append(report)
            actions.update({a.source_id: a for a in report.actions})
        after = _read_upns(tgt, [u["id"] for u in pending])
    for u in pending:
        sid, how, why = found[u["id"]]
        old = u.get("userPrincipalName") or ""
        new = after.get(u["id"], old)
        if sid is None:
            outcome: Outcome = "not repaired"
        elif sid in errors:
            outcome, why = "not repaired", errors[sid]
        else:
            outcome, why = _outcome(actions.get(sid), u["id"], old, new)
        result.rows.append({"DisplayName": u.get("displayName") or "", "id": u["id"], "mail": u.get("mail") or "",
                            "oldUpn": old, "newUpn": new, "outcome": outcome, "why": why,
                            "sourceId": sid or "", "matchedBy": how if sid else ""})
    return result


__all__ = ["PENDING_COLUMNS", "REPAIR_COLUMNS", "RepairResult", "correspond", "pending_acceptance",
           "pending_row", "run_repair"]
