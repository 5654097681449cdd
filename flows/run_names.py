"""Flow run names: ``<config>-<kind>``, given once as the run starts and never changed.

Prefect names a run from its flow's ``flow_run_name`` when the run starts (a deployment's run has
a generated name until then); tenantsync never renames a run afterwards, so the name in the UI, in
the logs and in a notification is the same from start to end. The kind is decided before the run
starts, from what the cycle itself will decide (tenantsync/cycle_begin.py, ``_prepare``):

- ``restart`` -> ``initial``;
- no users delta link in the state store (a first cycle), or a changed scope or mapping
  (tenantsync/fingerprint.py) -> ``initial``; otherwise ``incremental``;
- a dry run adds ``-dry-run`` (``emea-to-hq-initial-dry-run``);
- ``provisioner: entra``: Microsoft's service keeps the watermark, so ``incremental`` once the state
  store holds a cycle of the job (tenantsync/entra_service/follow.py decides the same way).

What cannot be known in advance: an expired delta link (Graph's 410 resyncRequired, "Synchronization
reset" in delta-query-overview) turns an incremental cycle into an initial one when it begins. The
run keeps its name and its log says so (``said_kind``), as do the cycle's message and cycles.csv.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import get_run_logger, runtime

from ._common import config_label, resolve_config


def _params() -> dict[str, Any]:
    return dict(runtime.flow_run.parameters or {})


def planned_kind(config: str, restart: bool = False) -> str:
    """The kind a sync cycle of ``config`` will be: initial or incremental ("sync" when the
    configuration cannot be read: the run then fails at once, saying why)."""
    if restart:
        return "initial"
    try:
        cfg = resolve_config(config, credentials=False)
        return "incremental" if _has_delta_link(cfg) else "initial"
    except Exception:
        return "sync"


def _has_delta_link(cfg: Any) -> bool:
    """A users delta link is stored and the configuration's fingerprint is unchanged. A SQLite state
    file that does not exist yet is not created here (a first cycle creates it)."""
    from sqlalchemy.engine import make_url

    from tenantsync.fingerprint import ConfigWatch
    from tenantsync.store import Store

    url = make_url(cfg.state_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:") \
            and not Path(str(url.database)).exists():
        return False
    store = Store.for_url(cfg.state_url)
    if cfg.provisioner == "entra":
        return any(c["kind"] in ("initial", "incremental") for c in store.cycles(cfg.name))
    if not store.watermarks(cfg.name).get("users"):
        return False
    return not ConfigWatch(cfg, store.config_fingerprint(cfg.name)).changed


def sync_run_name() -> str:
    """flow_run_name of the sync cycle: ``<config>-initial``, ``<config>-incremental``, with
    ``-dry-run`` for a dry run."""
    params = _params()
    config = str(params.get("config", "config"))
    name = f"{config_label(config)}-{planned_kind(config, bool(params.get('restart')))}"
    return f"{name}-dry-run" if params.get("dry_run") else name


def user_source_run_name() -> str:
    """flow_run_name of the user-source sync: ``<config>-user-source``, said once when the
    configuration's name already ends so (emea-user-source; its deployment has the same name)."""
    label = config_label(str(_params().get("config", "config")))
    return label if label.endswith("user-source") else f"{label}-user-source"


def said_kind(kind: str, notes: list[str]) -> None:
    """Called when the cycle has begun: the run keeps its name; when that name does not say the
    cycle's kind (an expired delta link), the log says which kind it is and why."""
    name = str(runtime.flow_run.name or "")
    if name and f"-{kind}" not in name:
        get_run_logger().info("this run keeps its name %r; it runs an %s cycle%s", name, kind,
                              f": {'; '.join(notes)}" if notes else "")
