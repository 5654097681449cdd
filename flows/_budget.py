"""One target, one budget: a Prefect rate limit per target tenant and application.

Graph gives one application in one tenant 3,000 writes per 150 s (throttling-limits), however many
workers write there. Every flow-run process that imports ``flows`` installs ``factory`` into the
engine (tenantsync/graph/shared_budget.py): a Graph client that writes into tenant T with
application A then passes each $batch through ``rate_limit("graph-writes-T-A", occupy=writes)``,
a global concurrency limit of the Prefect server with ``limit`` 3,000 slots that decay at
``RATE_SHARE`` × 20 per second: Graph's token bucket, kept on the server every worker talks to.
Configurations with the same target and application share it; other targets have their own.

Without a Prefect server (``PREFECT_API_URL`` unset: the command line's temporary server is this
process's alone) there is no one to share with, and no gate: each cycle's adaptive limiter does it.
``TENANTSYNC_BUDGET_TIME_SCALE`` divides the window like the emulator's ``--time-scale`` (benchmarks).
"""

from __future__ import annotations

import os
from functools import lru_cache

from tenantsync.graph import shared_budget
from tenantsync.graph.shared_budget import WriteGate, budget_key

WRITES, WINDOW_S = 3000, 150.0      # throttling-limits: writes per app per tenant
RATE_SHARE = 0.97                   # of Graph's refill rate: the clients' polling needs a margin
SCALE_ENV = "TENANTSYNC_BUDGET_TIME_SCALE"


def api_url() -> str | None:
    from prefect.settings import PREFECT_API_URL
    return os.environ.get("PREFECT_API_URL") or PREFECT_API_URL.value() or None


def time_scale() -> float:
    return float(os.environ.get(SCALE_ENV) or 1.0)


@lru_cache(maxsize=64)
def ensure_limit(name: str, limit: int = WRITES, per_second: float | None = None) -> str:
    """Create the global concurrency limit ``name`` unless it exists (a missing limit would
    silently limit nothing); returns the name."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

    decay = per_second if per_second is not None else WRITES / WINDOW_S * RATE_SHARE * time_scale()
    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(name)
            return name
        except ObjectNotFound:
            pass
        try:
            client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(
                name=name, limit=limit, slot_decay_per_second=decay, active=True))
        except ObjectAlreadyExists:      # another worker made it meanwhile
            pass
    return name


def gate(name: str) -> WriteGate:
    """Blocks until ``n`` writes fit in the rate limit ``name`` (strict: a missing one raises)."""
    from prefect.concurrency.sync import rate_limit

    def wait(n: int) -> None:
        rate_limit(name, occupy=max(1, n), strict=True)

    return wait


def factory(tenant_id: str, app_id: str) -> WriteGate | None:
    """shared_budget's factory: the gate of (tenant, application) on the Prefect server, if any."""
    if not api_url():
        return None
    return gate(ensure_limit(budget_key(tenant_id, app_id)))


def install() -> None:
    shared_budget.install(factory)
