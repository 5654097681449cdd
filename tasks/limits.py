"""Provision on demand's rate limit: 5 requests per 10 seconds across all runs (Entra's
provisioning documentation for provision on demand; docs/internals.md).

The rule is *never more than 5 in any 10-second window*. A decaying Prefect rate limit
(``limit=5, slot_decay_per_second=0.5``) cannot promise that: it refills one slot every 2 s, so a
6th request passes ~2-5 s after a burst of 5 (measured: 4.5 s), and up to 10 requests fit in one
10-second window. So the Prefect global concurrency limit ``tenantsync-provision-on-demand`` is used
as a sliding window instead: limit 5, no decay, and each provisionOnDemand request (one per user)
holds its slot for 10 seconds *after its body ends* (its last Graph call). Holding it 10 s from the
grant was not enough: the first request's Graph calls may come a moment after its grant while a
sixth's come at once after its own, so two calls could be 9.8 s apart. Any 6 requests now span at
least 10 seconds, in one run or across runs and processes; a one-user run takes its body + 10 s.

The limit is created (or corrected) idempotently before every acquisition, and acquired with
``strict=True``: a missing limit raises instead of silently letting everything through.
A crashed holder's slots come back when its lease expires (60 s, the server's minimum).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

from prefect import get_client, get_run_logger
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate, GlobalConcurrencyLimitUpdate
from prefect.concurrency.sync import concurrency
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound
from sqlalchemy import Engine

from tenantsync import progress
from tenantsync.store.locks import WAIT_S, Holder, Lease, LockBusy, hold

ON_DEMAND_LIMIT = "tenantsync-provision-on-demand"
ON_DEMAND_REQUESTS = 5                                                   # per window
ON_DEMAND_WINDOW_S = float(os.environ.get("TENANTSYNC_ON_DEMAND_WINDOW_S", "10"))   # tests may shorten it
LEASE_S = 60                                                             # server minimum
WHY = "provisionOnDemand allows 5 requests per 10 seconds"               # docs/entra-behaviour.md#provision-on-demand


def ensure_on_demand_limit() -> None:
    """Create the global concurrency limit, or put back its settings if someone changed them."""
    with get_client(sync_client=True) as client:
        try:
            found = client.read_global_concurrency_limit_by_name(ON_DEMAND_LIMIT)
        except ObjectNotFound:
            try:
                client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(
                    name=ON_DEMAND_LIMIT, limit=ON_DEMAND_REQUESTS, slot_decay_per_second=0.0))
            except ObjectAlreadyExists:     # another run created it meanwhile
                pass
            return
        if found.limit != ON_DEMAND_REQUESTS or found.slot_decay_per_second or not found.active:
            client.update_global_concurrency_limit(ON_DEMAND_LIMIT, GlobalConcurrencyLimitUpdate(
                limit=ON_DEMAND_REQUESTS, slot_decay_per_second=0.0, active=True))


@contextmanager
def on_demand_window(requests: int, *, timeout_s: float | None = 600) -> Iterator[None]:
    """Hold ``requests`` slots (one per user) for the body, then one more window (module docstring)."""
    if not 1 <= requests <= ON_DEMAND_REQUESTS:
        raise ValueError(f"provision on demand sends 1 to {ON_DEMAND_REQUESTS} requests per call, not {requests}")
    ensure_on_demand_limit()
    asked = time.monotonic()
    with concurrency(ON_DEMAND_LIMIT, occupy=requests, strict=True, timeout_seconds=timeout_s,
                     lease_duration=LEASE_S, raise_on_lease_renewal_failure=False):
        if (waited := time.monotonic() - asked) >= 0.5:
            get_run_logger().info("waited %.1f s: %s (other runs held the window)", waited, WHY)
        try:
            yield
        finally:
            # The window starts after the body's last request.
            get_run_logger().info("waiting %.1f s: %s (this run's %d request(s) hold their place until "
                                  "the window has passed)", ON_DEMAND_WINDOW_S, WHY, requests)
            progress.waiting(ON_DEMAND_WINDOW_S, WHY)
            time.sleep(ON_DEMAND_WINDOW_S)


# -- one cycle per configuration at a time ---------------------------------------------------------
# A lease in the configuration's own database (tenantsync/store/locks.py says why not a Prefect
# global concurrency limit: a slot outlives a process killed with SIGKILL).

CYCLE_LOCK_WAIT_S = WAIT_S
CycleBusy = LockBusy


def lock_engine(url: str, *, state_store: bool = True) -> Engine:
    """The engine that holds a configuration's lock: its state store, or a user source's
    directory database (which gets only the ts_locks table)."""
    if state_store:
        from tenantsync.store import Store
        return Store.for_url(url).writer
    from tenantsync.connectors.directory_target import DirectoryTarget
    return DirectoryTarget.for_url(url).engine


@contextmanager
def cycle_lock(config_name: str, url: str, *, wait_s: float = CYCLE_LOCK_WAIT_S,
               what: str = "sync cycle", state_store: bool = True) -> Iterator[Lease]:
    """Two cycles of one configuration must not overlap (scheduled, by hand, the command line,
    other workers): the lease dies with its holder, so a killed cycle never locks it for good."""
    def waiting(found: Holder) -> None:
        try:
            get_run_logger().info("waiting up to %.0f s: %s", wait_s, found.describe())
        except Exception:
            pass

    with hold(lock_engine(url, state_store=state_store), config_name, what=what, wait_s=wait_s, on_wait=waiting) as lease:
        yield lease
