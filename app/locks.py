"""``tenantsync unlock``: which database holds a configuration's cycle lock, and freeing it.

A cross-tenant configuration's lock lives in its state store, a user source's in its application
directory; a configuration given as a Prefect block name is read through Prefect's API.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .runner import looks_like_file, prefect_env


def unlock_config(config: str) -> dict[str, Any]:
    """Free the lock of a configuration whose holder died (store.locks.force_release: refused,
    LockBusy, while the holder lives); the JSON-able answer with its one-line message."""
    from tenantsync.store import locks
    name, engine = lock_engine(config)
    if engine is None:
        return {"config": name, "unlocked": False, "message": f"{name} is not locked"}
    gone = locks.force_release(engine, name)         # LockBusy while the holder lives: exit 1
    if gone is None:
        return {"config": name, "unlocked": False, "message": f"{name} is not locked"}
    why = "its process is gone" if gone.host == locks.HOST else f"its lease expired at {gone.expires:%H:%M:%S} UTC"
    return {"config": name, "unlocked": True, "host": gone.host, "pid": gone.pid,
            "since": gone.acquired.isoformat(),
            "message": f"unlocked {name}: removed the lock of host {gone.host} pid {gone.pid} since "
                       f"{gone.acquired:%Y-%m-%d %H:%M:%S} UTC ({why})"}


def lock_engine(config: str) -> tuple[str, Any]:
    """(configuration name, the engine of the database holding its lock, or None when that
    database does not exist yet: then nothing can be locked, and nothing is created)."""
    from sqlalchemy.engine import make_url

    from tenantsync.errors import ConfigError
    if looks_like_file(config):
        from tenantsync.config import load_config
        try:
            cfg: Any = load_config(Path(config))
        except ConfigError as first:
            from tenantsync.usersource import load_user_source_config
            try:
                cfg = load_user_source_config(Path(config))
            except ConfigError:
                raise first from None
    else:                                     # a SyncConfigBlock: Prefect's API
        prefect_env()
        from flows._common import resolve_config
        cfg = resolve_config(config)
    url = str(getattr(cfg, "state_url", None) or getattr(cfg, "directory_url", ""))
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:") \
            and not parsed.database.startswith("file:") and not Path(parsed.database).expanduser().exists():
        return cfg.name, None
    if getattr(cfg, "state_url", None):
        from tenantsync.store import Store
        return cfg.name, Store.for_url(url).writer
    from tenantsync.connectors.directory_target import DirectoryTarget
    return cfg.name, DirectoryTarget.for_url(url).engine
