"""``python -m tenantsync``: the same command line as the ``tenantsync`` console script."""

from tenantsync.cli import run

run()
