"""Builds what a cycle needs from a configuration: Graph clients per side and the state store.

The command line, the Prefect tasks and the tests all open cycles through here, so a dry run is
always enforced by a read-only Graph client, whoever asks for it.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from typing import Iterator

from .config import SyncConfig
from .cycle import Cycle, CycleOptions
from .graph.api import GraphApi
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
def open_cycle(cfg: SyncConfig, options: CycleOptions | None = None, *,
               notify: Callable[[str, str], None] | None = None, store: Store | None = None) -> Iterator[Cycle]:
    options = options or CycleOptions()
    with graph_apis(cfg, dry_run=options.dry_run) as (source, target):
        yield Cycle(cfg, source_api=source, target_api=target, store=store or Store.for_url(cfg.state_url),
                    options=options, notify=notify)
