"""The engine's log lines in the Prefect run logs.

The engine logs with the standard ``logging`` module, under "tenantsync" (it never imports
Prefect). Prefect sends a logger's records to the run logs when the logger is named in its
PREFECT_LOGGING_EXTRA_LOGGERS setting (app/runner.py and flows/ui.py set it to "tenantsync"), but
leaves the logger's level alone: under the root logger's WARNING the INFO lines that tell a
cycle's story would be dropped. ``engine_logs`` sets the level to INFO, and attaches Prefect's
API log handler itself where the setting is missing (a worker started by hand), keeping only the
records written inside a flow or task run. Records written on the Graph client's own thread carry
the run with them (graph/loop.py passes the caller's context along).
"""

from __future__ import annotations

import logging

from prefect.context import FlowRunContext, TaskRunContext
from prefect.logging.handlers import APILogHandler

ENGINE_LOGGER = "tenantsync"


def _in_a_run(record: logging.LogRecord) -> bool:
    return bool(getattr(record, "flow_run_id", None)) or FlowRunContext.get() is not None \
        or TaskRunContext.get() is not None


def engine_logs(level: int = logging.INFO) -> logging.Logger:
    """Make the engine's records at ``level`` and above reach the run logs (idempotent)."""
    logger = logging.getLogger(ENGINE_LOGGER)
    if logger.level == logging.NOTSET:
        logger.setLevel(level)
    if not any(isinstance(h, APILogHandler) for h in logger.handlers):
        handler = APILogHandler()
        handler.addFilter(_in_a_run)
        logger.addHandler(handler)
    return logger
