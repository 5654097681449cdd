"""One user-source run: every user and group of an Entra tenant into an application directory.

```python
result = run_user_source("data/configs/user-source.yaml", notify=smtp_block.send)
result.status, result.counts["users_created"], result.details["notifications"]
```

Order: (disabled? say so and stop) -> claim the single enabled identity-provider slot -> take the
instance's run lock (another run holds it: skipped, reason busy) -> the stages of
``UserSourceCycle`` (cycle.py) driven by ``pipeline.drive``, the loop of the cross-tenant sync:
users round (/users/delta: the whole tenant the first time, then only changes) -> groups round
(/groups/delta with members@delta) -> send the invitation outbox -> notifications. Each page is
one transaction; the delta link is saved in the transaction of the last page of its round, so a
run stopped half-way reads the same changes again (every write is idempotent). A full round (the
first, or after the mappings changed, or after Graph answered resyncRequired) also removes from
the directory the objects the tenant no longer has.

Expired delta links (delta-query-overview: 410 Gone, or a 40X syncStateNotFound, after seven days
or a tenant migration) start that round again without a link. The objects it does not return are
removed only when the whole round has been read (``keep_only`` goes with its last page, which
decide releases): the same guarantee as the first run, whose read is the same complete view. A
round that fails half-way removes nothing. Without that reconciliation, objects deleted while the
link was expired would stay in the directory forever: no later delta round reports them. The
run's message says "users delta link expired (410 resyncRequired): full read".

Group membership comes from groups/delta with ``$select=...,members`` (members@delta); never
``$expand``, which the delta-query-overview page says delta does not support.

``notify`` is ``send(to, subject, body)``: invitations go to each new user, notifications to
``settings.notification_email``. Without it invitations stay queued in the outbox (sent by the
next run that has a sender) and notifications are stored and returned only.

The Prefect flow (flows/usersource.py) opens the run with ``open_user_source`` and drives the same
stages with its task wrappers.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..connectors.directory_target import DirectoryTarget, disable_instance
from ..errors import ConfigError
from ..pipeline import drive
from ..results import ProcedureResult
from .config import UserSourceConfig, load_user_source_config
from .cycle import UserSourceCycle
from .mapping import UserSource
from .outbox import Send
from .result import skipped

log = logging.getLogger("tenantsync.usersource")


def run_user_source(cfg_or_path: UserSourceConfig | str | Path, *, notify: Send | None = None,
                    api: Any = None) -> ProcedureResult:
    """Run one user-source cycle; returns its result (see module docstring).

    ``api``: a GraphApi (or compatible) for the source tenant; built from the configuration when
    None (and closed at the end). Raises ConfigError for an invalid configuration and when another
    identity-provider instance is enabled for the same directory; a tenant that cannot be reached,
    or that refuses the credentials (401) or a permission (403), is a failed run with an
    ``entra_unreachable`` notification naming what to fix, not an exception.
    """
    cfg = cfg_or_path if isinstance(cfg_or_path, UserSourceConfig) else load_user_source_config(cfg_or_path)
    with open_user_source(cfg, notify=notify, api=api) as run:
        return run if isinstance(run, ProcedureResult) else drive(run)


@contextmanager
def open_user_source(cfg: UserSourceConfig, *, notify: Send | None = None,
                     api: Any = None) -> Iterator[UserSourceCycle | ProcedureResult]:
    """The run's stages, to drive while the block runs (the instance's run lock is held); or the
    result of a run that does nothing (skipped: ``disabled`` or ``busy``). A failure outside Graph
    inside the block (the database, an interrupt) records the cycle as failed and propagates."""
    s = cfg.settings
    started = datetime.now(UTC)
    if not s.enabled:
        was_enabled = disable_instance(cfg.directory_url, cfg.name)
        message = (f"user source {cfg.name!r} (instance {s.instance_name!r}) is disabled "
                   "(settings.enabled: false): nothing was read or synced")
        if was_enabled:
            message += "; the instance is now marked disabled in the directory"
        log.info(message)
        yield skipped(cfg, started, "disabled", message)
        return

    source = UserSource(cfg)
    directory = DirectoryTarget.for_url(cfg.directory_url)
    directory.claim_instance(cfg.name, s.instance_name, tenant_id=cfg.source_connection.tenant_id,
                             error=lambda msg: ConfigError(msg, **cfg.where(("settings", "enabled"))))
    with directory.run_lock(cfg.name) as mine:
        if not mine:
            message = f"another run of user source {cfg.name!r} is in progress: this one did nothing"
            log.info(message)
            yield skipped(cfg, started, "busy", message)
            return
        stages = UserSourceCycle(cfg, source, directory, notify=notify, api=api, started=started)
        try:
            yield stages
        except BaseException as exc:
            stages.fail(exc)          # drive did already; a failure between stages too
            raise
        finally:
            stages.close()


__all__ = ["open_user_source", "run_user_source"]
