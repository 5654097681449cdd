"""Prefect flows of tenantsync: one per documented procedure, each thin.

    flows.sync:sync_cycle                 initial / incremental cycle (restart, dry run, deletion approval)
    flows.ondemand:provision_on_demand    up to 5 users, rate-limited across runs
    flows.repair:repair_upn               pending-acceptance UPN repair
    flows.disable_sms:disable_sms_flow    SMS sign-in repair (turns it off in the source tenant)
    flows.connection:test_connection      the documented test-connection checks
    flows.setup:setup_config              anchor extension and permissions, once per configuration
    flows.usersource:user_source_sync     Entra ID -> application user directory
    flows.reports:export_reports          CSV + HTML exports
    flows.delete_config:delete_config_flow  delete a configuration (deployments paused, state archived)

flows.deploy (not a flow) makes every configuration's deployments: `tenantsync deploy`.

Every flow takes ``config`` (a YAML file path or a SyncConfigBlock name) and returns a
``tenantsync.results.ProcedureResult`` (``.as_dict()``: its JSON form). Its final state is read from
that result (``_common.final_state``): a run that failed (quarantine, failed check, ...) ends in a
Failed state whose exception, ``ProcedureFailed``, carries the same result as ``.result``; a few
failed results end Completed because the job itself is fine (failed users retried in later cycles:
CompletedWithFailures; a run skipped while the job waits: Skipped).
"""

from . import _budget
from ._common import ProcedureFailed
from ._logs import engine_logs

engine_logs()           # the engine's INFO lines in the run logs (flows/_logs.py)
_budget.install()       # one target, one budget: the write gate shared by the workers (flows/_budget.py)

__all__ = ["ProcedureFailed"]
