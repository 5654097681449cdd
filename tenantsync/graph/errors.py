"""The one place where Graph failures become GraphError (and so get an ErrorKind).

Everything above the connector branches on ``GraphError.kind`` only: retry (transient), skip the
object (not_found, bad_request, conflict), stop the job (auth, forbidden) or start a delta round
over (resync: an expired delta link). The status table is the whole policy;
tests/graph/test_graph_errors.py checks every row.
"""

from __future__ import annotations

import asyncio
import email.utils
import re
import time
from collections.abc import Mapping
from typing import Any

import httpx
from kiota_abstractions.api_error import APIError

from tenantsync.errors import ErrorKind, GraphError

# status -> kind. Anything not listed: 5xx transient (a gateway may invent codes), else OTHER.
STATUS_KINDS: dict[int, ErrorKind] = {
    400: ErrorKind.BAD_REQUEST,
    401: ErrorKind.AUTH,
    403: ErrorKind.FORBIDDEN,
    404: ErrorKind.NOT_FOUND,
    405: ErrorKind.BAD_REQUEST,
    409: ErrorKind.CONFLICT,
    410: ErrorKind.RESYNC,       # delta-query-overview, "Synchronization reset": 410 Gone
    412: ErrorKind.CONFLICT,
    422: ErrorKind.BAD_REQUEST,
    # throttling, "Throttling and batching": earlier versions of the page said a $batch whose
    # items were throttled "fails with a status code of 424 (Failed Dependency)" (the current one
    # says 200); either way each throttled item carries its Retry-After: a retry, not a failure.
    424: ErrorKind.TRANSIENT,
    429: ErrorKind.TRANSIENT,
    500: ErrorKind.TRANSIENT,
    502: ErrorKind.TRANSIENT,
    503: ErrorKind.TRANSIENT,
    504: ErrorKind.TRANSIENT,
}

# Graph error codes that say more than their status. Real Graph answers a duplicate
# userPrincipalName with 400 + ObjectConflict: that is a conflict, not a bad request.
CODE_KINDS: dict[str, ErrorKind] = {
    "ObjectConflict": ErrorKind.CONFLICT,
    # Graph's error codes page: resyncRequired "The delta token is no longer valid, and the app
    # must reset the sync state"; syncStateNotFound "The delta token is expired and data must be
    # synchronized again" (delta-query-overview: "a 40X-series error"), whatever the status.
    "resyncRequired": ErrorKind.RESYNC,
    "syncStateNotFound": ErrorKind.RESYNC,
}

_CODE_KINDS_FOLDED = {code.lower(): kind for code, kind in CODE_KINDS.items()}

# Statuses a single item inside $batch is retried for (the Graph guidance for batch items).
RETRY_ITEM_STATUSES = frozenset({429, 503, 504})

# Pseudo-status for "no HTTP response at all" (timeout, refused, reset connection).
NO_RESPONSE = 0

_BEARER = re.compile(r"(?i)\bbearer\s+[A-Za-z0-9\-._~+/=]+")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*")


def classify(status: int, code: str | None = None) -> ErrorKind:
    """The ErrorKind of a Graph answer (status 0 = no answer: always transient)."""
    if code:
        by_code = _CODE_KINDS_FOLDED.get(code.lower())     # Graph's casing of codes varies
        if by_code is not None:
            return by_code
    if status == NO_RESPONSE:
        return ErrorKind.TRANSIENT
    if status in STATUS_KINDS:
        return STATUS_KINDS[status]
    if 500 <= status <= 599:
        return ErrorKind.TRANSIENT
    return ErrorKind.OTHER


def redact(text: str) -> str:
    """Remove anything that looks like a bearer token from text bound for a message or log."""
    return _JWT.sub("<redacted>", _BEARER.sub("Bearer <redacted>", text))


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds (fractions too) or HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _header(headers: Mapping[str, Any] | None, name: str) -> str | None:
    if not headers:
        return None
    value = headers.get(name)
    if value is None:       # batch item headers are a plain dict with server-chosen casing
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), None)
    if isinstance(value, list):
        value = value[0] if value else None
    return str(value) if value is not None else None


def from_response(status: int, headers: Mapping[str, Any] | None, body: Any) -> GraphError:
    """GraphError for one answered request: a whole response or one $batch item."""
    code, message = "", ""
    if isinstance(body, Mapping) and isinstance(body.get("error"), Mapping):
        code = str(body["error"].get("code") or "")
        message = str(body["error"].get("message") or "")
    return GraphError(status, code or f"http{status}", redact(message or f"HTTP {status}"),
                      kind=classify(status, code),
                      retry_after=parse_retry_after(_header(headers, "Retry-After")),
                      request_id=_header(headers, "request-id")
                      or _header(headers, "client-request-id"))


def _from_api_error(exc: APIError) -> GraphError:
    status = exc.response_status_code or NO_RESPONSE
    main = getattr(exc, "error", None)            # ODataError.error: MainError(code, message)
    code = str(getattr(main, "code", None) or "")
    message = str(getattr(main, "message", None) or "")
    if not message:
        # kiota's generic text ("... no error class is registered for this code 418") is safe;
        # it never contains the request.
        message = exc.message or f"HTTP {status}"
    body = {"error": {"code": code, "message": message}}
    return from_response(status, exc.response_headers, body)


def to_graph_error(exc: BaseException) -> GraphError:
    """Translate whatever the SDK or the transport raised into a GraphError."""
    if isinstance(exc, GraphError):
        return exc
    if isinstance(exc, APIError):
        return _from_api_error(exc)
    if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout,
                        ConnectionRefusedError)):
        # Nothing reached the server: safe to resend even a POST (core.NOT_SENT_CODES).
        return GraphError(NO_RESPONSE, "connectFailed",
                          f"could not connect to Graph ({type(exc).__name__})",
                          kind=ErrorKind.TRANSIENT)
    if isinstance(exc, (httpx.TimeoutException, asyncio.TimeoutError, TimeoutError)):
        return GraphError(NO_RESPONSE, "timeout", f"no answer in time ({type(exc).__name__})",
                          kind=ErrorKind.TRANSIENT)
    if isinstance(exc, (httpx.TransportError, ConnectionError)):
        return GraphError(NO_RESPONSE, "connectionError",
                          f"connection failed or dropped ({type(exc).__name__})",
                          kind=ErrorKind.TRANSIENT)
    from azure.core.exceptions import ClientAuthenticationError, ServiceRequestError, ServiceResponseError
    if isinstance(exc, (ServiceRequestError, ServiceResponseError)):
        # The token endpoint (or managed identity endpoint) did not answer: try again later.
        return GraphError(NO_RESPONSE, "tokenEndpointUnavailable",
                          "the credential could not reach its token endpoint "
                          f"({type(exc).__name__})",
                          kind=ErrorKind.TRANSIENT)
    if isinstance(exc, ClientAuthenticationError):
        # The credential could not get a token. azure-identity's text is long; keep the AADSTS
        # code only (it says what is wrong, e.g. AADSTS7000215 = invalid client secret).
        found = re.search(r"AADSTS\d+", str(exc))
        return GraphError(401, found.group(0) if found else "credentialUnavailable",
                          "the credential could not get a token", kind=ErrorKind.AUTH)
    return GraphError(NO_RESPONSE, type(exc).__name__, redact(str(exc))[:300],
                      kind=ErrorKind.OTHER)


# What callers catch before calling to_graph_error (other exceptions are bugs: let them raise).
def translatable() -> tuple[type[BaseException], ...]:
    from azure.core.exceptions import ClientAuthenticationError, ServiceRequestError, ServiceResponseError
    return (APIError, httpx.TransportError, httpx.TimeoutException, asyncio.TimeoutError,
            TimeoutError, ConnectionError, ClientAuthenticationError, ServiceRequestError,
            ServiceResponseError)
