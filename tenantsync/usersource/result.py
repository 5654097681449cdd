"""The ``ProcedureResult`` of a user-source run (procedure ``user-source``).

``details`` holds what is particular to the user source: ``instance``, ``directory`` (its URL
without password), ``interval_minutes``, ``started``, ``ended`` (ISO 8601, UTC), ``error``,
``users_read``, ``duration_s``, ``notifications`` and ``invitations`` (rows as stored and sent).
``counts`` are the directory's counts (target.COUNT_KEYS).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from ..results import ProcedureResult
from .config import UserSourceConfig
from .target import COUNT_KEYS

PROCEDURE = "user-source"


def safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def details(cfg: UserSourceConfig, started: datetime, *, error: str | None = None, users_read: int = 0,
            duration_s: float = 0.0, notifications: list[dict[str, Any]] | None = None,
            invitations: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    s = cfg.settings
    return {"instance": s.instance_name, "directory": safe_url(cfg.directory_url),
            "interval_minutes": s.interval_minutes, "started": started.isoformat(),
            "ended": datetime.now(UTC).isoformat(), "error": error, "users_read": users_read,
            "duration_s": duration_s, "notifications": notifications or [], "invitations": invitations or []}


def skipped(cfg: UserSourceConfig, started: datetime, reason: Literal["disabled", "busy"],
            message: str) -> ProcedureResult:
    """A run that did nothing: the instance is disabled, or another run of it holds the lock."""
    return ProcedureResult(procedure=PROCEDURE, config=cfg.name, status="skipped", reason=reason,
                           message=message, counts=dict.fromkeys(COUNT_KEYS, 0),
                           details=details(cfg, started))


__all__ = ["PROCEDURE", "details", "safe_url", "skipped"]
