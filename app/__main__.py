"""``python -m app``: the same command line as the ``tenantsync`` console script."""

from app.cli import run

run()
