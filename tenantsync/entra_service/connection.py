"""Test connection with ``provisioner: entra``: the service's own check, then today's policy checks.

The portal's "Test Connection" of a cross-tenant sync application calls validateCredentials
(synchronization-synchronizationjob-validatecredentials): with the job's saved credentials once the
configuration exists (``useSavedCredentials: true``), else with CompanyId = the target tenant and
AuthenticationType SyncPolicy against the Azure2Azure template. Before and after it, the same checks
as the engine's test connection (tenantsync/ops/connection_test.py): credentials of both
connections, the inbound synchronization policy, licences, automatic redemption, guest invitations,
UPN suffixes, leave settings. The anchor extension is the engine's and is not checked.

Writes nothing: validateCredentials is a POST that changes nothing (the source client here is
writable for that call only); the policy checks read through read-only clients.
"""

from __future__ import annotations

from typing import Any

from .. import remedies
from ..config import SyncConfig
from ..errors import DryRunViolation, GraphError
from ..ops.connection_test import Check, ConnectionReport, credentials, policy_checks
from ..service import read_only_apis
from . import DOCS, PERMISSIONS, explain, find_sp_id, recorded_ids, service_jobs

NAME = "Provisioning service credentials"
PERMISSIONS_NAME = "Service permissions"
NOT_CONFIGURED = "NotConfigured"          # ours: no sync application or job yet
NEEDED = ("Synchronization.ReadWrite.All", "Application.ReadWrite.All", "AppRoleAssignment.ReadWrite.All",
          "AuditLog.Read.All")


def test_service_connection(cfg: SyncConfig, *, source_api: Any = None, target_api: Any = None,
                            store: Any = None) -> ConnectionReport:
    """The report of ops/connection_test.py (same checks, names and shape), for the service.

    ``source_api``: a writable client of the source tenant (validateCredentials is a POST).
    """
    source_tid = cfg.connection(cfg.source.connection).tenant_id
    target_tid = cfg.connection(cfg.target.connection or "").tenant_id
    report = ConnectionReport(cfg.name, source_tid, target_tid)
    with service_jobs(cfg, api=source_api) as jobs, read_only_apis(cfg, jobs.api, target_api) as (src, tgt):
        _permissions(report, jobs.api)
        s_org = credentials(report, "Source credentials", "source", src)
        t_org = credentials(report, "Target credentials", "target", tgt)
        if s_org is None or t_org is None:
            report.not_checked.extend([NAME, "Inbound identity synchronization", "Premium licences",
                                       "Automatic redemption", "Guest invitations", "UPN suffixes"])
            return report
        _validate(report, cfg, jobs, store)
        policy_checks(report, src, tgt, s_org, t_org)
    return report


test_service_connection.__test__ = False  # type: ignore[attr-defined]   # not a pytest test


def _permissions(report: ConnectionReport, api: Any) -> None:
    """The source token's application permissions against the service's calls (no Graph call)."""
    claims = getattr(api, "token_claims", None)
    roles = claims().roles if callable(claims) else None
    if roles is None:
        report.checks.append(Check(PERMISSIONS_NAME, "warning", message="The source credential's permissions "
                                   "could not be read from the token (not a JWT); Graph's answers below say "
                                   "what is missing.", recommended_action="Grant " + ", ".join(NEEDED)
                                   + " to the source connection's application."))
        return
    have = set(roles) | {r.replace(".ReadWrite.", ".Read.", 1) for r in roles}
    missing = [p for p in NEEDED if p not in have]
    if not missing:
        report.checks.append(Check(PERMISSIONS_NAME, "passed", message="The source credential holds "
                                   "every permission the provisioning service's API needs."))
        return
    blocking = "Synchronization.ReadWrite.All" in missing
    report.checks.append(Check(
        PERMISSIONS_NAME, "failed" if blocking else "warning", "InsufficientPermissions",
        f"The source credential lacks {', '.join(missing)}.",
        "Grant " + ", ".join(missing) + " (application permissions, admin consent) to the source "
        f"connection's application in the source tenant ({DOCS}{PERMISSIONS['job'][1]}).", blocking=blocking))


def _validate(report: ConnectionReport, cfg: SyncConfig, jobs: Any, store: Any) -> None:
    ids = recorded_ids(cfg, store)
    sp_id = ids.sp_id
    try:
        sp_id = find_sp_id(cfg, jobs, ids)
        if sp_id is None:
            report.checks.append(Check(
                NAME, "failed", NOT_CONFIGURED,
                f"The source tenant has no cross-tenant sync application named {cfg.name!r}.",
                f"Run {remedies.setup(cfg.name)} to create it, or give service_principal_id in the file.",
                blocking=True))
            return
        job_id = ids.job_id or next((j["id"] for j in jobs.jobs(sp_id)), None)
        if job_id is not None:
            jobs.validate_credentials(sp_id, {}, job_id=job_id, use_saved=True)
            how = f"the saved credentials of job {job_id}"
        else:
            jobs.validate_credentials(sp_id, {"CompanyId": report.target_tenant,
                                              "AuthenticationType": "SyncPolicy"})
            how = f"CompanyId {report.target_tenant} (no job yet: run {remedies.setup(cfg.name)})"
    except DryRunViolation:
        report.checks.append(Check(NAME, "failed", "ReadOnlyClient", "validateCredentials needs a writable "
                                   "source client (it writes nothing).", "Pass a writable source client.",
                                   blocking=True))
        return
    except GraphError as err:
        report.checks.append(_refused(cfg, err, sp_id))
        return
    report.checks.append(Check(NAME, "passed", message=f"The provisioning service accepted {how}."))


def _refused(cfg: SyncConfig, err: GraphError, sp_id: str | None) -> Check:
    if err.status in (401, 403, 404):
        return Check(NAME, "failed", err.code or f"HTTP{err.status}", err.message,
                     explain(err, "job", cfg, sp_id).message,
                     blocking=True)
    return Check(NAME, "failed", err.code or f"HTTP{err.status}", err.message,
                 f"In the target tenant {cfg.connection(cfg.target.connection or '').tenant_id}, allow user "
                 "synchronization from the source tenant (cross-tenant access settings: inbound cross-tenant "
                 "sync) and automatic redemption in both tenants; the checks below say which is missing.",
                 blocking=True)


__all__ = ["NAME", "test_service_connection"]
