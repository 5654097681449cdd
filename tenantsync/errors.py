"""The small error hierarchy: every message says what, where and what to do, never a secret."""

from __future__ import annotations

from enum import Enum
from typing import Any


class TenantSyncError(Exception):
    """Base of every error tenantsync raises on purpose."""


class ConfigError(TenantSyncError):
    """A configuration file (or value) is invalid; raised before anything is read or written."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 key: str | None = None, value: Any = None, allowed: str | None = None) -> None:
        self.message, self.file, self.line, self.key = message, file, line, key
        self.value, self.allowed = value, allowed
        where = ""
        if file:
            where = f"{file}:{line}: " if line else f"{file}: "
        elif line:
            where = f"line {line}: "
        text = f"{where}{key + ': ' if key else ''}{message}"
        if allowed:
            text += f" (allowed: {allowed})"
        super().__init__(text)


class ExpressionError(TenantSyncError):
    """A mapping expression does not parse or cannot be evaluated."""

    def __init__(self, message: str, *, expression: str = "", column: int | None = None) -> None:
        self.message, self.expression, self.column = message, expression, column
        super().__init__(f"column {column}: {message}" if column else message)


class ErrorKind(str, Enum):
    AUTH = "auth"              # 401: the credential is wrong or expired
    FORBIDDEN = "forbidden"    # 403: consent, role or policy refuses
    TRANSIENT = "transient"    # 429, 5xx, timeouts, dropped connections: retry later
    NOT_FOUND = "not_found"    # 404
    BAD_REQUEST = "bad_request"
    CONFLICT = "conflict"
    RESYNC = "resync"          # 410 / resyncRequired / syncStateNotFound: the delta link expired
    OTHER = "other"


class GraphError(TenantSyncError):
    """A Microsoft Graph call failed; ``kind`` decides retry, skip or stop everywhere."""

    def __init__(self, status: int, code: str, message: str, *, kind: ErrorKind,
                 retry_after: float | None = None, request_id: str | None = None) -> None:
        self.status, self.code, self.message, self.kind = status, code, message, kind
        self.retry_after, self.request_id = retry_after, request_id
        super().__init__(f"Graph {status} {code}: {message}")

    @property
    def retryable(self) -> bool:
        return self.kind is ErrorKind.TRANSIENT

    @property
    def needs_resync(self) -> bool:
        """A delta link Graph no longer honours: start a full round (delta-query-overview)."""
        return self.kind is ErrorKind.RESYNC

    @property
    def stops_job(self) -> bool:
        """Credential or permission failures on the tenant itself: quarantine material."""
        return self.kind in (ErrorKind.AUTH, ErrorKind.FORBIDDEN)


class DryRunViolation(TenantSyncError):
    """A write was attempted through a read-only (dry-run) Graph client."""


class QuarantinedError(TenantSyncError):
    """The job is in quarantine and its next attempt is not due yet."""


class SetupRequired(TenantSyncError):
    """A cycle cannot start: a permission is missing or the anchor extension is not registered
    (and cannot be). Raised before anything is written; the message names ``tenantsync setup``.
    ``missing`` maps a side ("source", "target") to the permissions it lacks."""

    def __init__(self, message: str, *, missing: dict[str, list[str]] | None = None) -> None:
        self.message, self.missing = message, dict(missing or {})
        super().__init__(message)
