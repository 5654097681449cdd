"""Where an administrator does what a piece of advice says: the command line and the Prefect UI.

Advice that names a command (``tenantsync setup CONFIG``, ``--restart``, ``--allow-deletes``) names
the Prefect UI's way to the same procedure too, for an administrator who never opens a terminal.
Every deployment is ``<flow>/<configuration>[-<suffix>]`` (flows/deploy.py, PROCEDURES): the UI runs
one from Deployments → the deployment → Run → Quick run (its default parameters) or Custom run
(parameters changed in the form); a cycle paused at the accidental-deletion threshold is resumed
from its run page (Resume) with the approve box of its form (docs/entra-behaviour.md#deletion-threshold:
the portal's "Allow deletes").

``CONFIG`` stands for the configuration as the command line takes it (a file path or a
SyncConfigBlock name); in a deployment name it stands for the configuration's name.
"""

from __future__ import annotations

CONFIG = "CONFIG"

# The deployments the advice points at (flow name, deployment suffix), as flows/deploy.py makes them.
SETUP = ("setup", "")
TEST_CONNECTION = ("test-connection", "")
INITIAL = ("sync-cycle", "initial")          # restart=True by default: the command line's --restart
INCREMENTAL = ("sync-cycle", "incremental")
APPROVE = "Resume the paused run and tick approve"      # the pause form (flows/sync.py, DeletionApproval)


def deployment(procedure: tuple[str, str], name: str = CONFIG) -> str:
    flow, suffix = procedure
    return f"{flow}/{name}-{suffix}" if suffix else f"{flow}/{name}"


def ui_run(procedure: tuple[str, str], name: str = CONFIG, custom: str = "") -> str:
    """'in the Prefect UI: Deployments → <deployment> → Run → Quick run' (or Custom run → <custom>)."""
    how = f"Custom run → {custom}" if custom else "Quick run"
    return f"in the Prefect UI: Deployments → {deployment(procedure, name)} → Run → {how}"


def setup(name: str = CONFIG) -> str:
    """The setup procedure: `tenantsync setup CONFIG`, or its deployment."""
    return f"`tenantsync setup CONFIG` (or {ui_run(SETUP, name)})"


def check_connection(name: str = CONFIG) -> str:
    """Test connection: `tenantsync test-connection CONFIG`, or its deployment."""
    return f"tenantsync test-connection CONFIG, or {ui_run(TEST_CONNECTION, name)}"


def restart(name: str = CONFIG) -> str:
    """A new initial cycle: watermarks, escrows and quarantine cleared, links kept."""
    return f"tenantsync sync CONFIG --restart, or {ui_run(INITIAL, name)}"


def allow_deletes(name: str = CONFIG) -> str:
    """ForceDeletes: apply the deletions staged above the threshold."""
    return (f"tenantsync sync CONFIG --allow-deletes; in the Prefect UI: {APPROVE}, or Deployments → "
            f"{deployment(INCREMENTAL, name)} → Run → Custom run → allow_deletes: true")


__all__ = ["APPROVE", "CONFIG", "allow_deletes", "check_connection", "deployment", "restart", "setup", "ui_run"]
