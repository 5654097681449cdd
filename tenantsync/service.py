"""Builds what a cycle needs from a configuration: Graph clients per side and the state store.

The command line, the Prefect tasks and the tests all open cycles through here, so a dry run is
always enforced by a read-only Graph client, whoever asks for it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from .anchor import recorded_anchor
from .config import SyncConfig
from .cycle import Cycle, CycleOptions, entra_cycle
from .errors import GraphError
from .graph.api import GraphApi
from .preflight import prepare_cycle, record_credential_failure, wait_for_quarantine
from .store import Store


@contextmanager
def graph_apis(cfg: SyncConfig, *, dry_run: bool = False) -> Iterator[tuple[GraphApi, GraphApi]]:
    """(source, target) GraphApi pair; the target is read-only in a dry run, and so is the source always."""
    if cfg.target.connection is None:
        raise ValueError(f"{cfg.name}: the target is an application directory; use the user-source flow")
    source = GraphApi(cfg.connection(cfg.source.connection), read_only=True)
    target = GraphApi(cfg.connection(cfg.target.connection), read_only=dry_run)
    try:
        yield source, target
    finally:
        source.close()
        target.close()


@contextmanager
def source_writer(cfg: SyncConfig, *, dry_run: bool = False, api: Any = None) -> Iterator[Any]:
    """The source tenant's client for the one procedure that writes there (``tenantsync
    disable-sms``, the documented SMS sign-in repair); read-only in a dry run. Cycles never get
    one: their source client is read-only. A client passed in is used as it is and left open."""
    if api is not None:
        yield api
        return
    made = GraphApi(cfg.connection(cfg.source.connection), read_only=dry_run)
    try:
        yield made
    finally:
        made.close()


@contextmanager
def read_only_apis(cfg: SyncConfig, source_api: Any = None, target_api: Any = None
                   ) -> Iterator[tuple[Any, Any]]:
    """(source, target) for procedures that only read (test connection, repair's listing); clients
    passed in are used as they are and left open, the ones made here are closed."""
    opened: list[GraphApi] = []
    try:
        if source_api is None:
            source_api = GraphApi(cfg.connection(cfg.source.connection), read_only=True)
            opened.append(source_api)
        if target_api is None:
            if cfg.target.connection is None:
                raise ValueError(f"{cfg.name}: the target is an application directory, not a tenant")
            target_api = GraphApi(cfg.connection(cfg.target.connection), read_only=True)
            opened.append(target_api)
        yield source_api, target_api
    finally:
        for api in opened:
            api.close()


@contextmanager
def open_cycle(cfg: SyncConfig, options: CycleOptions | None = None, *,
               notify: Callable[[str, str], None] | None = None, store: Store | None = None,
               on_setup: Callable[[str], None] | None = None) -> Iterator[Cycle]:
    """A Cycle ready to begin, after the preflight (preflight.prepare_cycle): a token lacking a
    permission the cycle needs, or an anchor extension that is not (and cannot be) registered,
    raises SetupRequired before anything is written, not even a cycle record. The first cycle of
    a configuration registers the anchor itself and tells ``on_setup`` (and the log) so."""
    options = options or CycleOptions()
    store = store or Store.for_url(cfg.state_url)
    store.refuse_if_deleted(cfg.name)          # tenantsync delete-config: nothing runs, not even setup
    with graph_apis(cfg, dry_run=options.dry_run) as (source, target):
        if recorded_anchor(cfg, store) is None:   # setup talks to Graph: not before a quarantined job's turn
            wait_for_quarantine(cfg, store, options, notify)
        try:
            ready = prepare_cycle(cfg, source, target, store, dry_run=options.dry_run,
                                  on_demand=bool(options.user_ids), on_note=on_setup)
        except GraphError as exc:     # the tenant itself failed (e.g. a refused token), as at begin()
            record_credential_failure(cfg, store, options, exc, notify)
            raise
        yield entra_cycle(cfg, source_api=source, target_api=target, store=store, options=options, notify=notify,
                          anchor_attribute=ready.anchor_attribute)
