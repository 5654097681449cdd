"""The ``tenantsync`` command line and the demo: the application around the engine.

    app.cli       the typer commands (``tenantsync`` console script, ``python -m app``)
    app.runner    the one way a procedure runs: Prefect started, the flow called, its
                  ProcedureResult shown and turned into the exit status
    app.render    how results look in a terminal (rich tables)
    app.demo      ``tenantsync demo``: every procedure on the sample tenants

The engine (``tenantsync``) never imports this package, nor the Prefect layer (``flows``,
``tasks``, ``blocks``); this package imports both. tests/structure/ checks the boundary.
"""
