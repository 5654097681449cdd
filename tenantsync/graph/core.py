"""The async core: send one request through the SDK's request adapter, retrying in one place.

Every request is a kiota RequestInformation (from the SDK's request builders, or ``with_url`` for
a nextLink/deltaLink) sent with ``send_primitive_async(ri, "bytes", ...)``: the SDK does auth,
middleware and error mapping; we parse the JSON ourselves (typed models cost ~10 ms per user).
kiota's RetryHandler is off (client.py); the retry loop here is the only one.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from kiota_abstractions.method import Method
from kiota_abstractions.request_information import RequestInformation
from msgraph.generated.models.o_data_errors.o_data_error import ODataError

from tenantsync import progress
from tenantsync.errors import DryRunViolation, GraphError
from tenantsync.graph.errors import NO_RESPONSE, to_graph_error, translatable
from tenantsync.graph.quota import WriteLimiter
from tenantsync.graph.refusals import is_budget_refusal

log = logging.getLogger("tenantsync.graph")

ERROR_MAP: dict[str, Any] = {"XXX": ODataError}
IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Transport failures where the request certainly never reached the server: always safe to resend.
NOT_SENT_CODES = frozenset({"connectFailed"})


@dataclass
class Stats:
    """Counters for benchmarks and logs (mutated on the loop thread only)."""

    requests: int = 0        # HTTP requests sent (a $batch counts once)
    writes: int = 0          # write operations sent (each non-GET, inside $batch or not)
    retries: int = 0         # requests or batch items sent again
    throttled: int = 0       # 429 answers (whole requests or batch items)

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass
class RetryPolicy:
    max_retries: int = 6
    base_delay: float = 0.5          # first backoff without Retry-After (then doubles)
    max_delay: float = 30.0          # backoff cap without Retry-After
    max_retry_after: float = 300.0   # honour a Retry-After up to this; longer: give up, raise

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds before attempt ``attempt + 1``: the server's Retry-After, else backoff+jitter."""
        if retry_after is not None:
            return retry_after
        ceiling = min(self.max_delay, self.base_delay * (2 ** attempt))
        return random.uniform(ceiling / 2, ceiling)     # "equal jitter": spread, never zero

    def allows(self, err: GraphError, attempt: int, *, idempotent: bool) -> bool:
        if not err.retryable or attempt >= self.max_retries:
            return False
        if err.retry_after is not None and err.retry_after > self.max_retry_after:
            return False
        # A timeout or dropped connection after sending may have applied a POST: do not send a
        # create twice. 429/5xx answers and refused connections mean nothing was done.
        return idempotent or err.status != NO_RESPONSE or err.code in NOT_SENT_CODES


def is_write(method: str) -> bool:
    return method.upper() != "GET"


# Graph actions that are POSTs but only read (a read-only client may send them).
# directoryObject: getAvailableExtensionProperties "returns all directory extension definitions".
READ_ACTIONS = ("/directoryObjects/getAvailableExtensionProperties",)


def is_read_action(method: str, path: str) -> bool:
    """A POST to one of READ_ACTIONS: nothing is written, so a dry run may send it."""
    bare = path.split("?", 1)[0].rstrip("/")
    return method.upper() == "POST" and bare.endswith(READ_ACTIONS)


class AsyncGraph:
    """One client's async operations; lives on (and is only used from) one event loop."""

    def __init__(self, client: Any, *, read_only: bool, max_concurrency: int,
                 policy: RetryPolicy, limiter: WriteLimiter) -> None:
        self.client = client
        self.adapter = client.request_adapter
        self.read_only = read_only
        self.max_concurrency = max_concurrency
        self.policy = policy
        self.limiter = limiter
        self.stats = Stats()
        self._sem = asyncio.Semaphore(max_concurrency)
        self._translatable = translatable()

    # --- request building ----------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return str(self.adapter.base_url).rstrip("/")

    def absolute(self, path: str) -> str:
        if path.startswith(("https://", "http://")):
            return path
        return f"{self.base_url}/{path.lstrip('/')}"

    def raw_request(self, method: str, path: str, body: Any = None) -> RequestInformation:
        """A RequestInformation for a path with no SDK builder (or a nextLink: ``with_url``)."""
        ri = RequestInformation(Method[method.upper()])
        ri.url = self.absolute(path)
        ri.headers.try_add("Accept", "application/json")
        if body is not None:
            ri.headers.try_add("Content-Type", "application/json")
            ri.content = dumps(body)
        return ri

    def guard(self, method: str, what: str) -> None:
        if self.read_only and is_write(method) and not is_read_action(method, what):
            raise DryRunViolation(f"read-only Graph client refused {method.upper()} {what}")

    # --- sending -------------------------------------------------------------------------
    async def send_once(self, ri: RequestInformation, *, writes: int = 0
                        ) -> tuple[bytes | None, float]:
        """One attempt -> (body, send time); raises GraphError.

        Takes a concurrency slot, then waits for the write limiter (inside the slot, so the send
        time the limiter measures is the real one). A whole-request 429 on writes is reported to
        the limiter here; other answers by ``send`` and, item by item, by batch.py.
        """
        async with self._sem:
            sent_at = await self.limiter.acquire(writes) if writes else 0.0
            self.stats.requests += 1
            self.stats.writes += writes
            started = time.monotonic()
            try:
                raw = await self.adapter.send_primitive_async(ri, "bytes", ERROR_MAP)
            except self._translatable as exc:
                err = to_graph_error(exc)
                log.debug("graph %s %s -> %s %s (%.0f ms)", _method(ri), _path(ri), err.status,
                          err.code, (time.monotonic() - started) * 1000)
                if err.status == 429:
                    self.stats.throttled += 1
                    if writes:
                        budget = is_budget_refusal(getattr(exc, "response_headers", None))
                        self.limiter.record(sent_at=sent_at, accepted=0,
                                            throttled=writes if budget else 0,
                                            unattributed=0 if budget else writes,
                                            retry_after=err.retry_after, whole_request=True)
                raise err from None
            finally:
                if writes:
                    self.limiter.release()
        log.debug("graph %s %s -> ok (%.0f ms)", _method(ri), _path(ri),
                  (time.monotonic() - started) * 1000)
        return raw, sent_at

    async def send(self, make: Callable[[], RequestInformation], *, method: str,
                   writes: int = 0, idempotent: bool | None = None) -> bytes | None:
        """``send_once`` with bounded retries for transient failures, honouring Retry-After.

        ``make`` builds a fresh RequestInformation per attempt (headers are added on sending).
        """
        if idempotent is None:
            idempotent = method.upper() in IDEMPOTENT
        attempt = 0
        while True:
            try:
                raw, sent_at = await self.send_once(make(), writes=writes)
                if writes:       # the limiter judges the spread of 429s against every answer
                    self.limiter.record(sent_at=sent_at, accepted=writes, throttled=0)
                return raw
            except GraphError as err:
                if not self.policy.allows(err, attempt, idempotent=idempotent):
                    raise
                delay = self.policy.delay(attempt, err.retry_after)
                said_wait(delay, f"Graph answered {answered(err)} to {method.upper()} "
                                 f"{self.short(_path(make()))}", err.retry_after,
                          attempt + 1, self.policy.max_retries)
            attempt += 1
            self.stats.retries += 1
            await asyncio.sleep(delay)

    def short(self, url: str) -> str:
        """A URL without the Graph host and version, for log lines (never a query string)."""
        base = self.base_url
        return url[len(base):] if url.startswith(base) else url

    async def aclose(self) -> None:
        http = getattr(self.adapter, "_http_client", None)
        if http is not None:
            await http.aclose()


def answered(err: GraphError) -> str:
    """``429 TooManyRequests``, or what stood for an answer (``no answer (timeout)``)."""
    if err.status == NO_RESPONSE:
        return f"no answer ({err.code})"
    return f"{err.status} {err.code}".rstrip()


def said_wait(delay: float, why: str, retry_after: float | None, retry: int, retries: int) -> None:
    """Log a wait before a retry, with its reason and length, and show it (tenantsync/progress.py)."""
    how = f"Retry-After {retry_after:g} s" if retry_after is not None else "backoff"
    reason = f"{why} ({how}, retry {retry} of {retries})"
    log.info("waiting %.1f s: %s", delay, reason)
    progress.waiting(delay, reason)


def _method(ri: RequestInformation) -> str:
    method = ri.http_method
    return str(getattr(method, "name", method))


def _path(ri: RequestInformation) -> str:
    # For debug logs: the path only (query strings may be long; never headers).
    try:
        return str(ri.url).split("?", 1)[0]
    except Exception:
        return "?"


try:                                    # orjson (a Prefect dependency) parses ~2-3x faster
    import orjson

    def loads(raw: bytes | None) -> Any:
        return orjson.loads(raw) if raw else None

    def dumps(value: Any) -> bytes:
        return orjson.dumps(value)
except ImportError:                     # pragma: no cover - plain json keeps working
    import json

    def loads(raw: bytes | None) -> Any:
        return json.loads(raw) if raw else None

    def dumps(value: Any) -> bytes:
        return json.dumps(value, separators=(",", ":")).encode()
