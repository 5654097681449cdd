"""The pending-acceptance UPN repair when Microsoft's provisioning service provisions
(cross-tenant-synchronization-overview, FAQ: the fix "uses provisionOnDemand ... for each user").

tenantsync/ops/repair.py finds the target's PendingAcceptance users and the source user each
corresponds to, and reports each before and after; only its ``provision`` callable differs: here
each source user goes through the service's provisionOnDemand (tenantsync/entra_service/ondemand.py),
one request per user, inside the caller's rate window (``window(n)``: a context manager holding n
of the 5-per-10-seconds places; the Prefect layer's global limit).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from ..config import SyncConfig
from ..cycle import CycleReport
from ..ops.repair import RepairResult, run_repair
from ..store import Store
from .follow import JobRef
from .ondemand import provision, rule_id

Window = Callable[[int], AbstractContextManager[Any]]


def provisioner(ref: JobRef, cfg: SyncConfig, store: Store, *, window: Window | None = None
                ) -> Callable[[list[str]], CycleReport]:
    """``provision(ids)`` for run_repair: the service's provisionOnDemand, the rule read once."""
    rule: list[str] = []

    def run(ids: list[str]) -> CycleReport:
        if not rule:
            rule.append(rule_id(ref.jobs.schema(ref.sp_id, ref.job_id)))
        with (window(len(ids)) if window else nullcontext()):
            return provision(ref, cfg, ids, store=store, rule=rule[0])

    return run


def repair(ref: JobRef, cfg: SyncConfig, *, store: Store | None = None, window: Window | None = None,
           source_api: Any = None, target_api: Any = None) -> RepairResult:
    """The UPN repair, each pending user's source provisioned on demand by the service."""
    store = store or Store.for_url(cfg.state_url)
    return run_repair(cfg, provision=provisioner(ref, cfg, store, window=window), store=store,
                      source_api=source_api, target_api=target_api)


__all__ = ["provisioner", "repair"]
