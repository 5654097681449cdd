"""Test connection: the documented checks of both sides of a configuration, in fixing order."""

from __future__ import annotations

from typing import Any

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from tenantsync.config import SyncConfig
from tenantsync.ops import connection_test
from tenantsync.results import ProcedureResult

from ._common import artifact_key, final_state, resolve_config, run_name


@task(name="check-connections", task_run_name="check-connections", cache_policy=NO_CACHE)
def check_connections(cfg: SyncConfig) -> connection_test.ConnectionReport:
    """Credentials, inbound sync policy, automatic redemption, invitations, licences, UPN suffixes.
    No retries: a failing check is the answer, not a hiccup."""
    return connection_test.test_connection(cfg)


@flow(name="test-connection", flow_run_name=run_name("test-connection"),
      description="Checks both connections of a configuration the way an administrator fixes them: "
                  "application permissions per side, credentials, the anchor extension (with provisioner "
                  "entra: the provisioning service's validateCredentials instead), inbound identity sync "
                  "allowed, automatic redemption, guest invitations, premium licences, UPN suffixes. "
                  "Fails when a blocking check fails.")
def test_connection(config: str) -> Any:
    """Check both connections of a configuration, as the portal's "Test Connection".

    Args:
        config: The configuration: a YAML file path (relative to the worker's directory) or the name
            of a SyncConfigBlock.
    """
    cfg = resolve_config(config)
    report = check_connections(cfg)
    # Short columns only (a table artifact's cells do not wrap): the messages and what to do are
    # lists in the test-connection-report artifact (tenantsync/uimarkdown.py).
    table = [{"check": c.name, "status": c.status, "code": c.code, "blocking": c.blocking} for c in report.checks]
    table += [{"check": n, "status": "not checked", "code": "", "blocking": False} for n in report.not_checked]
    create_table_artifact(key=artifact_key(cfg.name, "test-connection"), table=table,
                          description=f"{cfg.name}: test connection ({'OK' if report.ok else 'FAILED'}); "
                                      "messages and what to do: the test-connection-report artifact")
    create_markdown_artifact(key=artifact_key(cfg.name, "test-connection-report"), markdown=report.render_markdown(),
                             description=f"{cfg.name}: test connection")
    first = report.first_failure
    message = ("all blocking checks passed" if report.ok else
               f"{first.name}: {first.code + ' ' if first.code else ''}{first.message}" if first else "not every check ran")
    result = ProcedureResult.from_dict({**report.as_dict(), "status": "success" if report.ok else "failure",
                                        "message": f"{cfg.name}: {message}"}, procedure="test-connection")
    return final_state(result)
