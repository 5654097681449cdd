"""Which failures a task retries: transient Graph errors only (429, 5xx, timeouts, dropped
connections), never a bad request, a missing object or a refused credential."""

from __future__ import annotations

from typing import Any

from prefect.tasks import exponential_backoff

from tenantsync.errors import GraphError


def transient_graph_error(task: Any, task_run: Any, state: Any) -> bool:
    """retry_condition_fn: True only when the task failed with a retryable GraphError."""
    try:
        state.result()
    except GraphError as exc:
        return exc.retryable
    except BaseException:
        return False
    return False


# The Graph connector already retries each request (Retry-After, else backoff: up to 6 times, about
# 30 s); these retries are the second line, for a stage that still failed on a longer outage:
# after 5 s, then 10 s, each +-50 %.
GRAPH_RETRIES: dict[str, Any] = {
    "retries": 2,
    "retry_delay_seconds": exponential_backoff(backoff_factor=5),
    "retry_jitter_factor": 0.5,
    "retry_condition_fn": transient_graph_error,
}
