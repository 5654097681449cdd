"""Test connection (docs/entra-behaviour.md#test-connection): what an administrator checks before, or
after, a failed cycle.

Checks run in the order an administrator would fix them; each says what failed, the code Entra
(or Graph) reports for it and what to do. A check that cannot be evaluated because an earlier,
blocking one failed is not run and is listed in ``ConnectionReport.not_checked``.

The permission checks come first (from the tokens' roles claim, no Graph call) and the anchor
extension's check after the credentials (ops/permission_checks.py); a Graph 403 is reported with
the permission its route needs (tenantsync/permissions.py). The external user leave settings come
last (ops/leave_settings.py): a warning at most, never blocking.

Read-only: both Graph clients refuse writes, and nothing here writes the state store, so a test
connection never quarantines a job. With ``provisioner: entra`` the service's validateCredentials
replaces the permission and anchor checks (tenantsync/entra_service/connection.py), followed by
the same ``policy_checks``.

Licence rule (our decision: "Configure cross-tenant synchronization" says only that the
automatic-redemption checkbox is disabled in a tenant without Microsoft Entra ID P1/P2;
docs/entra-behaviour.md#licences-and-roles): automatic redemption has to be allowed in
*both* tenants, so *both* need an enabled P1 or P2 service plan in ``/organization``'s
``assignedPlans`` (service plan AAD_PREMIUM or AAD_PREMIUM_P2, or service ``AADPremiumService``).
A tenant without one fails the blocking check ``PremiumLicenseRequired`` (our code: Entra shows a
disabled checkbox, not a code). The check comes before automatic redemption: it is its cause.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from .. import remedies
from ..config import SyncConfig
from ..errors import GraphError
from ..service import read_only_apis
from ..uimarkdown import cell, table
from .leave_settings import NAME as LEAVE_SETTINGS
from .leave_settings import check_leave_settings
from .permission_checks import check_anchor, check_permissions, forbidden_action

CheckStatus = Literal["passed", "failed", "warning"]

B2B_POLICY_CODE = "AzureDirectoryB2BManagementPolicyCheckFailure"
B2B_POLICY_MESSAGE = ("You appear to have entered invalid credentials. Please confirm you are using "
                      "the correct information for an administrative account.")
B2B_POLICY_DETAILS = "Policy permitting auto-redemption of invitations not configured."
FORBIDDEN_CODE = "AzureActiveDirectoryForbidden"
FORBIDDEN_MESSAGE = ("Guest invitations not allowed for your company. Contact your company "
                     "administrator for more details.")
SYNC_NOT_ALLOWED = "CrossTenantSyncNotAllowed"          # ours: Entra's wording is not documented
PREMIUM_CODE = "PremiumLicenseRequired"                 # ours: Entra greys out a checkbox
UPN_SUFFIX_CODE = "UpnSuffixNotVerified"                # ours

# Service plans of Microsoft Entra ID P1 and P2 (servicePlanId) and their service name.
PREMIUM_PLAN_IDS = frozenset({"41781fb2-bc02-4b7c-bd55-b576c07bb09d",     # AAD_PREMIUM (P1)
                              "eec0eb4f-6444-4f95-aba0-50c24d67f998"})    # AAD_PREMIUM_P2
PREMIUM_SERVICES = frozenset({"AADPremiumService"})

CHECK_NAMES = ("Source permissions", "Target permissions", "Source credentials", "Target credentials",
               "Anchor extension", "Inbound identity synchronization", "Premium licences",
               "Automatic redemption", "Guest invitations", "UPN suffixes", LEAVE_SETTINGS)
AFTER_CREDENTIALS = CHECK_NAMES[4:]


@dataclass
class Check:
    name: str
    status: CheckStatus
    code: str = ""
    message: str = ""
    recommended_action: str = ""
    blocking: bool = False
    details: str = ""

    @property
    def failed(self) -> bool:
        return self.status == "failed"


@dataclass
class ConnectionReport:
    config: str
    source_tenant: str
    target_tenant: str
    checks: list[Check] = field(default_factory=list)
    not_checked: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No blocking check failed (warnings do not count)."""
        return not any(c.failed and c.blocking for c in self.checks) and not self.not_checked

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def check(self, name: str) -> Check | None:
        return next((c for c in self.checks if c.name == name), None)

    @property
    def first_failure(self) -> Check | None:
        return next((c for c in self.checks if c.failed), None)

    def as_dict(self) -> dict[str, Any]:
        return {"config": self.config, "sourceTenant": self.source_tenant,
                "targetTenant": self.target_tenant, "ok": self.ok,
                "checks": [asdict(c) for c in self.checks], "notChecked": list(self.not_checked)}

    def render_text(self) -> str:
        lines = [f"Test connection: {self.config} (source {self.source_tenant} -> target {self.target_tenant})"]
        for c in self.checks:
            mark = {"passed": "PASS", "failed": "FAIL", "warning": "WARN"}[c.status]
            lines.append(f"  [{mark}] {c.name}" + (f" ({c.code})" if c.code else "") + f": {c.message}")
            if c.details:
                lines.append(f"         Details: {c.details}")
            if c.status != "passed" and c.recommended_action:
                lines.append(f"         What to do: {c.recommended_action}")
        for name in self.not_checked:
            lines.append(f"  [SKIP] {name}: not checked (fix the failures above first)")
        lines.append("Result: " + ("OK" if self.ok else "FAILED"))
        return "\n".join(lines)

    def render_markdown(self) -> str:
        """A narrow table (check, status, code), then the messages and what to do as lists, which wrap
        in the Prefect UI (tenantsync/uimarkdown.py)."""
        out = [f"# Test connection: `{self.config}`", "",
               f"Source tenant `{self.source_tenant}` → target tenant `{self.target_tenant}`: "
               + ("**OK**" if self.ok else "**FAILED**"), ""]
        out += table(("Check", "Status", "Code"),
                     [(c.name, c.status + (" (blocking)" if c.blocking and c.failed else ""), c.code)
                      for c in self.checks] + [(n, "not checked", "") for n in self.not_checked])
        todo = [c for c in self.checks if c.status != "passed"]
        if todo or self.not_checked:
            out += ["", "## What to do", ""]
        for c in todo:
            state = c.status + (", blocking" if c.blocking and c.failed else "")
            out.append(f"- **{c.name}** ({state}{', ' + c.code if c.code else ''}): {cell(c.message)}")
            out += [f"  - Details: {cell(c.details)}"] if c.details else []
            out += [f"  - What to do: {cell(c.recommended_action)}"] if c.recommended_action else []
        out += [f"- **{n}**: not checked; fix the failures above first." for n in self.not_checked]
        passed = [c for c in self.checks if c.status == "passed"]
        if passed:
            out += ["", "## Passed", ""] + [f"- **{c.name}**: {cell(c.message)}" for c in passed]
        return "\n".join(out) + "\n"


# -- the checks ---------------------------------------------------------------------------------

def test_connection(cfg: SyncConfig, *, source_api: Any = None, target_api: Any = None,
                    store: Any = None) -> ConnectionReport:
    """Run every check against the configuration's two tenants; never writes anything. ``store``
    (optional, read only) lets the anchor check compare with what setup recorded."""
    if cfg.provisioner == "entra":           # Microsoft's service: validateCredentials + these policies
        from ..entra_service.connection import test_service_connection
        return test_service_connection(cfg, source_api=source_api, target_api=target_api, store=store)
    source_tid = cfg.connection(cfg.source.connection).tenant_id
    if cfg.target.connection is None:
        raise ValueError(f"{cfg.name}: the target is an application directory; test-connection "
                         "checks two Entra tenants")
    target_tid = cfg.connection(cfg.target.connection).tenant_id
    report = ConnectionReport(cfg.name, source_tid, target_tid)
    with read_only_apis(cfg, source_api, target_api) as (src, tgt):
        _run_checks(report, cfg, src, tgt, store)
    return report


test_connection.__test__ = False  # type: ignore[attr-defined]   # not a pytest test


def _run_checks(report: ConnectionReport, cfg: SyncConfig, src: Any, tgt: Any, store: Any) -> None:
    facts = check_permissions(report, cfg, src, tgt, Check)      # from the tokens: no Graph call
    s_org = credentials(report, "Source credentials", "source", src)
    t_org = credentials(report, "Target credentials", "target", tgt)
    if s_org is None or t_org is None:
        report.not_checked.extend(AFTER_CREDENTIALS)
        return
    check_anchor(report, cfg, tgt, facts, store, Check)
    policy_checks(report, src, tgt, s_org, t_org)


def policy_checks(report: ConnectionReport, src: Any, tgt: Any, s_org: dict[str, Any],
                  t_org: dict[str, Any]) -> None:
    """The tenants' policies, licences and domains (both provisioners run them after the credentials)."""
    steps: list[Callable[[], None]] = [
        lambda: _inbound_sync(report, tgt),
        lambda: _premium(report, s_org, t_org),
        lambda: _auto_redemption(report, src, tgt),
        lambda: _guest_invitations(report, tgt),
        lambda: _upn_suffixes(report, src, tgt),
        lambda: check_leave_settings(report, tgt, Check),     # ops/leave_settings.py: never blocking
    ]
    for step in steps:
        step()


def credentials(report: ConnectionReport, name: str, side: str, api: Any) -> dict[str, Any] | None:
    """A token is accepted and can read the directory (organization, then one user)."""
    tenant = report.source_tenant if side == "source" else report.target_tenant
    path = "/organization"
    try:
        org = api.get_json(path)
        path = "/users"
        api.get_json(path, {"$top": 1, "$select": "id"})
    except GraphError as exc:
        report.checks.append(Check(name, "failed", exc.code or f"HTTP{exc.status}", exc.message,
                                   forbidden_action(exc, "GET", path, side) or _credential_action(exc, side),
                                   blocking=True))
        return None
    orgs = org.get("value") or [org]
    found = orgs[0] if orgs else {}
    if found.get("id") and found["id"] != tenant:
        report.checks.append(Check(
            name, "failed", "TenantMismatch",
            f"The {side} credential signs in to tenant {found['id']}, not {tenant}.",
            f"Use a credential of tenant {tenant} for the {side} connection, or correct its tenant_id.",
            blocking=True))
        return None
    report.checks.append(Check(name, "passed", message=f"Signed in to the {side} tenant "
                               f"'{found.get('displayName') or tenant}'."))
    return found


def _credential_action(exc: GraphError, side: str) -> str:
    if exc.status == 401:
        return (f"The {side} credential was refused: check the token, client id and secret or "
                f"certificate of the {side} connection (and that it has not expired).")
    if exc.status == 403:
        return (f"The {side} credential lacks permission: grant and admin-consent the application "
                f"permissions {remedies.setup()} lists for the {side} side.")
    return f"The {side} tenant could not be reached through Graph: check graph_url and the network, then retry."


def _policy_error(report: ConnectionReport, name: str, exc: GraphError, action: str,
                  path: str = "", side: str = "target") -> None:
    hint = forbidden_action(exc, "GET", path, side) if path else ""
    report.checks.append(Check(name, "failed", exc.code or f"HTTP{exc.status}", exc.message,
                               f"{hint} {action}".strip() if hint else action, blocking=True))


def _inbound_sync(report: ConnectionReport, tgt: Any) -> None:
    name = "Inbound identity synchronization"
    path = f"/policies/crossTenantAccessPolicy/partners/{report.source_tenant}/identitySynchronization"
    action = (f"In the target tenant, add the source tenant {report.source_tenant} to the cross-tenant "
              "access settings and allow users to sync into it (PUT "
              f"/policies/crossTenantAccessPolicy/partners/{report.source_tenant}/identitySynchronization "
              "with userSyncInbound.isSyncAllowed = true).")
    try:
        policy = tgt.get_json(path)
    except GraphError as exc:
        if exc.status == 404:
            report.checks.append(Check(name, "failed", SYNC_NOT_ALLOWED,
                                       "The target tenant has no identity synchronization policy for "
                                       f"the source tenant {report.source_tenant} ({exc.code}).",
                                       action, blocking=True))
        else:
            _policy_error(report, name, exc, action, path)
        return
    if (policy.get("userSyncInbound") or {}).get("isSyncAllowed") is True:
        report.checks.append(Check(name, "passed", message="The target tenant allows users to be "
                                   f"synchronized from the source tenant {report.source_tenant}."))
    else:
        report.checks.append(Check(name, "failed", SYNC_NOT_ALLOWED,
                                   "The target tenant does not allow users to be synchronized from the "
                                   f"source tenant {report.source_tenant} (userSyncInbound.isSyncAllowed "
                                   "is not true).", action, blocking=True))


def has_premium(org: dict[str, Any]) -> bool:
    """An enabled Microsoft Entra ID P1 or P2 plan among the organization's assignedPlans."""
    for plan in org.get("assignedPlans") or []:
        if (plan.get("capabilityStatus") or "Enabled") != "Enabled":
            continue
        if (plan.get("servicePlanId") or "").lower() in PREMIUM_PLAN_IDS or plan.get("service") in PREMIUM_SERVICES:
            return True
    return False


def _premium(report: ConnectionReport, s_org: dict[str, Any], t_org: dict[str, Any]) -> None:
    name = "Premium licences"
    missing = [side for side, org in (("source", s_org), ("target", t_org)) if not has_premium(org)]
    if not missing:
        report.checks.append(Check(name, "passed", message="Both tenants have Microsoft Entra ID P1/P2: "
                                   "automatic redemption can be configured."))
        return
    sides = " and ".join(f"the {s} tenant" for s in missing)
    report.checks.append(Check(
        name, "failed", PREMIUM_CODE,
        f"{sides[0].upper() + sides[1:]} has no Microsoft Entra ID P1 or P2 licence: automatic "
        "redemption of invitations is unavailable there, so cross-tenant synchronization cannot "
        "work.", f"Buy or activate Microsoft Entra ID P1 (or P2) in {sides}, then allow automatic "
        "redemption.", blocking=True))


def _auto_redemption(report: ConnectionReport, src: Any, tgt: Any) -> None:
    name = "Automatic redemption"
    problems: list[str] = []
    for side, api, partner, key in (("source", src, report.target_tenant, "outboundAllowed"),
                                    ("target", tgt, report.source_tenant, "inboundAllowed")):
        partner_path = f"/policies/crossTenantAccessPolicy/partners/{partner}"
        try:
            p = api.get_json(partner_path)
        except GraphError as exc:
            if exc.status != 404:
                _policy_error(report, name, exc, f"Grant Policy.Read.All to the {side} connection, then retry.",
                              partner_path, side)
                return
            p = {}
        if (p.get("automaticUserConsentSettings") or {}).get(key) is not True:
            direction = "outbound" if key == "outboundAllowed" else "inbound"
            problems.append(f"the {side} tenant does not allow {direction} automatic redemption for "
                            f"tenant {partner} (automaticUserConsentSettings.{key})")
    if not problems:
        report.checks.append(Check(name, "passed", message="Automatic redemption is allowed in both "
                                   "tenants (source outbound, target inbound)."))
        return
    report.checks.append(Check(
        name, "failed", B2B_POLICY_CODE, B2B_POLICY_MESSAGE,
        "Allow automatic redemption in both tenants: in the source tenant's cross-tenant access "
        "settings for the target (outbound: 'Automatically redeem invitations'), and in the target "
        "tenant's settings for the source (inbound). Found: " + "; ".join(problems) + ".",
        blocking=True, details=B2B_POLICY_DETAILS))


def _guest_invitations(report: ConnectionReport, tgt: Any) -> None:
    name = "Guest invitations"
    try:
        pol = tgt.get_json("/policies/authorizationPolicy")
    except GraphError as exc:
        _policy_error(report, name, exc, "Grant Policy.Read.All to the target connection, then retry.",
                      "/policies/authorizationPolicy")
        return
    if isinstance(pol.get("value"), list):          # older shape: a collection of one
        pol = pol["value"][0] if pol["value"] else {}
    allowed = pol.get("allowInvitesFrom")
    if allowed == "none":
        report.checks.append(Check(
            name, "failed", FORBIDDEN_CODE,
            "The target tenant allows no guest invitations (authorizationPolicy.allowInvitesFrom = "
            f"none): every user creation would fail with {FORBIDDEN_CODE} ('{FORBIDDEN_MESSAGE}').",
            "In the target tenant's External collaboration settings, allow guest invitations "
            "(allowInvitesFrom other than 'none').", blocking=True))
    else:
        report.checks.append(Check(name, "passed", message="The target tenant allows guest invitations "
                                   f"(allowInvitesFrom = {allowed or 'everyone'})."))


def _upn_suffixes(report: ConnectionReport, src: Any, tgt: Any) -> None:
    """Source users' UPN suffixes against the target's domains: a warning, never blocking.

    Uses the user-source readiness check (tenantsync.usersource.upn_suffix) when it is installed,
    so that test connection and the user-source flow never disagree; else a local equivalent.
    """
    name = "UPN suffixes"
    try:
        rows = _readiness(src, tgt)
    except GraphError as exc:
        report.checks.append(Check(name, "warning", exc.code or f"HTTP{exc.status}",
                                   f"UPN suffixes could not be read: {exc.message}",
                                   "Grant User.Read.All (source) and Domain.Read.All (target), then retry."))
        return
    listing = ", ".join(f"{s} ({n} user{'s' if n != 1 else ''}): {st}" for s, st, n, _ in rows)
    bad = [(s, st, w) for s, st, _, w in rows if st != "Verified"]
    if not bad:
        report.checks.append(Check(name, "passed", message="Every source UPN suffix is a verified "
                                   f"domain of the target: {listing or 'no source users'}."))
        return
    report.checks.append(Check(
        name, "warning", UPN_SUFFIX_CODE,
        f"Source UPN suffixes not verified in the target: {listing}.",
        "Not blocking for cross-tenant synchronization: B2B users get "
        "'<alias>_<suffix>#EXT#@<target initial domain>' UPNs anyway. Where the same people are also "
        "synchronized by UPN (user source, Entra Connect), add and verify these domains in the target "
        "tenant, or their UPNs fall back to <mailNickname>@<initial domain>.", blocking=False,
        details="; ".join(w or f"{s}: {st}" for s, st, w in bad)))


def _readiness(src: Any, tgt: Any) -> list[tuple[str, str, int, str | None]]:
    """(suffix, state, users, warning) per UPN suffix of the source's internal users."""
    try:
        from ..usersource.upn_suffix import readiness_from_graph
    except ImportError:  # pragma: no cover - the user-source module ships with the engine
        suffixes = source_upn_suffixes(src)
        states = suffix_states(suffixes, tgt.get_json("/domains").get("value", []))
        return [(s, states[s], suffixes[s], None) for s in sorted(suffixes)]
    return [(r.suffix, str(r.state), r.users, r.warning) for r in readiness_from_graph(src, tgt)]


def source_upn_suffixes(src: Any) -> Counter[str]:
    """Suffix -> number of internal source users with it (guests' #EXT# UPNs are not counted)."""
    found: Counter[str] = Counter()
    for page in src.iter_pages("users", select=["userPrincipalName"]):
        for u in page:
            upn = u.get("userPrincipalName") or ""
            if "@" in upn and "#EXT#" not in upn:
                found[upn.rpartition("@")[2].lower()] += 1
    return found


def suffix_states(suffixes: Any, domains: list[dict[str, Any]]) -> dict[str, str]:
    """Each suffix as Entra Connect's wizard marks it (how-to-connect-install-custom;
    docs/entra-behaviour.md#entra-connect-upn-suffixes): Verified, Not verified, Not added."""
    known = {(d.get("id") or "").lower(): bool(d.get("isVerified")) for d in domains}
    return {s: ("Verified" if known[s] else "Not verified") if s in known else "Not added" for s in suffixes}


__all__ = ["Check", "ConnectionReport", "credentials", "has_premium", "policy_checks", "source_upn_suffixes", "suffix_states",
           "test_connection"]
