"""One target, one budget: the write gate every worker's cycles share, per target tenant and application.

Graph gives one application in one tenant 3,000 writes per 150 s (throttling-limits), however many
workers write there. Importing ``flows`` calls ``install()``: a Graph client that writes into
tenant T with application A then passes each $batch through the gate of budget
``graph-writes-T-A`` (tenantsync/graph/shared_budget.py), a token bucket of 3,000 writes refilled at
``RATE_SHARE`` × 20 writes/s. Configurations with the same target and application share it; other
targets, or other applications, have their own. Where it lives: ``TENANTSYNC_BUDGET_URL``

- a SQLAlchemy URL (``make cluster`` sets ``sqlite:///.prefect-cluster/write-budget.db``; a
  PostgreSQL URL when the workers run on several machines): ``SqlBudget``, first come first
  served, one short transaction per $batch;
- ``prefect``: a global concurrency limit of the Prefect server used as a rate limit (``limit``
  3,000 slots decaying at the same rate; ``rate_limit(name, occupy=writes)``). Measured against
  the first (docs/internals.md, "One target, one budget"): split evenly, but clients poll and back
  off, so half the budget went unused; kept to compare;
- unset: no shared gate; each cycle's adaptive limiter learns its share alone (the command line).

``TENANTSYNC_BUDGET_TIME_SCALE`` divides the window like the emulator's ``--time-scale`` (benchmarks).
"""

from __future__ import annotations

import os
from functools import lru_cache

from tenantsync.graph import shared_budget
from tenantsync.graph.shared_budget import SqlBudget, WriteGate, budget_key

WRITES, WINDOW_S = 3000, 150.0      # throttling-limits: writes per app per tenant
RATE_SHARE = 0.97                   # of Graph's refill rate: a margin for the clocks and the network
URL_ENV, SCALE_ENV = "TENANTSYNC_BUDGET_URL", "TENANTSYNC_BUDGET_TIME_SCALE"


def per_second() -> float:
    return WRITES / WINDOW_S * RATE_SHARE * float(os.environ.get(SCALE_ENV) or 1.0)


@lru_cache(maxsize=8)
def sql_budget(url: str, rate: float) -> SqlBudget:
    return SqlBudget(url, per_second=rate, burst=WRITES)


@lru_cache(maxsize=64)
def ensure_limit(name: str, rate: float) -> str:
    """Create the Prefect global concurrency limit ``name`` unless it exists (a missing limit
    limits nothing); returns the name."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(name)
            return name
        except ObjectNotFound:
            pass
        try:
            client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(
                name=name, limit=WRITES, slot_decay_per_second=rate, active=True))
        except ObjectAlreadyExists:      # another worker made it meanwhile
            pass
    return name


def prefect_gate(name: str) -> WriteGate:
    """Blocks until ``n`` writes fit in the Prefect rate limit ``name`` (strict: a missing one raises)."""
    from prefect.concurrency.sync import rate_limit

    def wait(n: int) -> None:
        rate_limit(name, occupy=max(1, n), strict=True)

    return wait


def factory(tenant_id: str, app_id: str) -> WriteGate | None:
    """shared_budget's factory: the gate of (tenant, application) where TENANTSYNC_BUDGET_URL says."""
    url = os.environ.get(URL_ENV)
    if not url:
        return None
    key = budget_key(tenant_id, app_id)
    if url == "prefect":
        return prefect_gate(ensure_limit(key, per_second()))
    return sql_budget(url, per_second()).gate(key)


def install() -> None:
    shared_budget.install(factory)
