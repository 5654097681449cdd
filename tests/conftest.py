"""Suite-wide settings: Prefect never touches ~/.prefect, and never phones home."""

import os
import tempfile

# Always a temporary home, even under `make test` (the Makefile exports the demo's .prefect-home):
# tests never write into the database of the demo or of `make ui` (.prefect-ui). xdist workers
# inherit TENANTSYNC_TEST_PREFECT_HOME, so the session shares one.
os.environ.setdefault("TENANTSYNC_TEST_PREFECT_HOME", tempfile.mkdtemp(prefix="tenantsync-prefect-"))
os.environ["PREFECT_HOME"] = os.environ["TENANTSYNC_TEST_PREFECT_HOME"]
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
os.environ.setdefault("DO_NOT_TRACK", "1")
