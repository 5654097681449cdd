"""Operations an administrator runs when something is wrong (quarantine, provision on demand, test
connection, UPN repair: docs/entra-behaviour.md), plain Python.

- ``setup.run_setup(cfg)``: register (or find) the anchor extension, list the permissions per side.
- ``connection_test.test_connection(cfg)``: the checks of the portal's Test connection.
- ``ondemand.provision(cfg, ids)``: provision up to five users on demand, step by step.
- ``repair.run_repair(cfg, provision=...)``: the pending-acceptance UPN repair.
- ``notify.SmtpNotifier``: the quarantine notification e-mail.

The deletion threshold, staged deletions and quarantine live in the engine (cycle.py,
quarantine.py, stages/guard.py); the Prefect flows call these functions.
"""
