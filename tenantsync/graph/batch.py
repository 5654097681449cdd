"""JSON batching: any number of requests -> $batch calls of 20, concurrent, retried per item.

The $batch body is built here, not with msgraph-core's BatchRequestContent: that class writes
absolute item URLs and a ``depends_on`` key (Graph wants relative URLs and ``dependsOn``), and its
response parser loses the bodies (kiota-python#737). The POST itself is an ordinary
RequestInformation sent through the SDK's request adapter, like every other call.

Scheduling: a heap of (ready time, index). Up to ``max_concurrency`` workers each take up to 20
ready items, pass the write limiter, send, and file each item's answer: final (2xx, 4xx, other
5xx, or retries exhausted) or back on the heap after its Retry-After (429/503/504). Results come
back in input order. A failure of the whole $batch POST is retried for every item in it when
transient, and raised otherwise (401, 403, 400 ... concern the call, not the items).

Whole-batch 424 and 429. Microsoft's throttling page, "Throttling and batching": throttled items
answer 429 and should be retried "using the value provided in the retry-after response header
from the JSON content"; the batch itself "succeeds with a status code of 200" (earlier versions of
the page: "fails with a status code of 424 (Failed Dependency)"), and a $batch request that is
itself throttled answers 429. So when a whole 424/429 still carries the ``responses`` array, it is
read item by item like a 200 (done items are filed, throttled ones wait for their own
Retry-After); without it, the whole chunk waits for the answer's Retry-After (else the backoff)
and is sent again, a bounded number of times. Either way it is transient, never a reason to stop
the write phase.

Every outcome is kept. A $batch POST that fails only fails its own items: the other chunks go on,
and the chunks already sent are awaited (never cancelled), so an item that succeeded is always
returned. A POST item (an invitation) in a $batch whose answer was lost (timeout, dropped
connection) may have run: it is not resent; it comes back with status 0 and ``"unknown": True``
for the caller to find out (the invitation path looks the invited user up by mail before inviting
again), while the idempotent items of that chunk are resent. When a chunk fails for good (401/403,
or transient retries exhausted), the other items still finish; then ``BatchIncomplete`` (a
GraphError, the first such failure) is raised with ``results``: every item's answer, the failed
ones as ``{"status", "body": {"error": ...}}`` (plus ``"unknown": True`` when they may have run).
After a 401/403 no new chunk is sent (their items come back as not sent).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from kiota_abstractions.method import Method
from kiota_abstractions.request_information import RequestInformation
from kiota_abstractions.response_handler import ResponseHandler
from kiota_http.middleware.options import ResponseHandlerOption
from msgraph.generated.models.o_data_errors.main_error import MainError
from msgraph.generated.models.o_data_errors.o_data_error import ODataError

from tenantsync import progress
from tenantsync.errors import GraphError
from tenantsync.graph.core import NOT_SENT_CODES, AsyncGraph, answered, dumps, is_write, loads, said_wait
from tenantsync.graph.errors import NO_RESPONSE, RETRY_ITEM_STATUSES, parse_retry_after
from tenantsync.graph.refusals import is_budget_refusal

MAX_BATCH = 20             # Graph's limit per $batch
log = logging.getLogger("tenantsync.graph")
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS"})


class BatchIncomplete(GraphError):
    """Some items of a batch() call failed as a whole $batch; ``results`` holds every item."""

    def __init__(self, err: GraphError, results: list[dict[str, Any]]) -> None:
        super().__init__(err.status, err.code, err.message, kind=err.kind,
                         retry_after=err.retry_after, request_id=err.request_id)
        self.results = results


def failed_item(err: GraphError, *, unknown: bool = False, sent: bool = True) -> dict[str, Any]:
    """The answer filed for an item whose $batch failed as a whole."""
    out: dict[str, Any] = {"status": err.status, "headers": {},
                           "body": {"error": {"code": err.code, "message": err.message}},
                           "retry_after": err.retry_after}
    if unknown:
        out["unknown"] = True          # the request may have been applied: find out, never resend
    if not sent:
        out["not_sent"] = True
    return out
WHOLE_BATCH_ITEM_STATUSES = frozenset({424, 429})   # whole answers that may still list each item


class _BatchAnswer(ResponseHandler):
    """The $batch POST's body as bytes; a whole 424/429 that lists its items reads like a 200.

    Any other failure raises what the SDK raises for it (an ODataError with status, headers, code
    and message), so GraphError and the retry policy see it exactly as before.
    """

    async def handle_response_async(self, response: Any, error_map: Any = None) -> bytes | None:
        status = response.status_code
        content = response.content
        if 200 <= status < 300:
            return content or None
        body = _json_or_none(content)
        if status in WHOLE_BATCH_ITEM_STATUSES and isinstance(body, dict) \
                and isinstance(body.get("responses"), list):
            return content
        error = body.get("error") if isinstance(body, dict) else None
        error = error if isinstance(error, dict) else {}
        exc = ODataError(error=MainError(code=str(error.get("code") or ""),
                                         message=str(error.get("message") or "")))
        exc.response_status_code = status
        exc.response_headers = response.headers
        raise exc


def _json_or_none(content: bytes | None) -> Any:
    try:
        return loads(content)
    except ValueError:                       # an HTML gateway page, say
        return None


_ANSWER = ResponseHandlerOption(_BatchAnswer())


def relative_url(url: str, base_url: str) -> str:
    """Item URLs are relative to the version root: "/users/ID"."""
    if url.startswith(base_url):
        url = url[len(base_url):]
    elif url.startswith(("https://", "http://")):
        raise ValueError(f"$batch item URL {url!r} is not under {base_url}")
    return "/" + url.lstrip("/")


def batch_body(items: Sequence[tuple[int, Mapping[str, Any]]], base_url: str) -> bytes:
    requests = []
    for index, req in items:
        entry: dict[str, Any] = {"id": str(index), "method": str(req["method"]).upper(),
                                 "url": relative_url(str(req["url"]), base_url)}
        headers = dict(req.get("headers") or {})
        if req.get("body") is not None:
            entry["body"] = req["body"]
            headers.setdefault("Content-Type", "application/json")
        if headers:
            entry["headers"] = headers
        requests.append(entry)
    return dumps({"requests": requests})


def _retry_after(item: Mapping[str, Any]) -> float | None:
    headers = item.get("headers") or {}
    for key, value in headers.items():
        if key.lower() == "retry-after":
            return parse_retry_after(str(value))
    return None


class _Run:
    """State of one GraphApi.batch() call."""

    def __init__(self, core: AsyncGraph, requests: Sequence[Mapping[str, Any]]) -> None:
        self.core = core
        self.requests = requests
        self.results: list[dict[str, Any] | None] = [None] * len(requests)
        self.attempts = [0] * len(requests)
        self.heap: list[tuple[float, int]] = [(0.0, i) for i in range(len(requests))]
        self.remaining = len(requests)
        self.changed = asyncio.Condition()
        self.error: GraphError | None = None      # the first chunk failure that was filed, not retried
        self.stopped: GraphError | None = None    # 401/403: no new chunk is sent

    # --- workers -------------------------------------------------------------------------
    async def worker(self) -> None:
        while self.remaining:
            if self.stopped is not None:
                self.file_unsent()
                async with self.changed:
                    self.changed.notify_all()
                break
            now = time.monotonic()
            chunk: list[int] = []
            while self.heap and self.heap[0][0] <= now and len(chunk) < MAX_BATCH:
                chunk.append(heapq.heappop(self.heap)[1])
            if not chunk:
                # Nothing ready: sleep until the next item is due or another worker files one.
                timeout = self.heap[0][0] - now if self.heap else None
                async with self.changed:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.changed.wait(), timeout)
                continue
            await self.send(chunk)
            async with self.changed:
                self.changed.notify_all()

    async def send(self, chunk: list[int]) -> None:
        core = self.core
        items = [(i, self.requests[i]) for i in chunk]
        writes = {i for i in chunk if is_write(str(self.requests[i]["method"]))}
        body = batch_body(items, core.base_url)

        def make() -> RequestInformation:
            ri = RequestInformation(Method.POST, "{+baseurl}/$batch", {})
            ri.headers.try_add("Accept", "application/json")
            ri.headers.try_add("Content-Type", "application/json")
            ri.content = body
            ri.add_request_options([_ANSWER])
            return ri

        try:
            raw, sent_at = await core.send_once(make(), writes=len(writes))
        except GraphError as err:
            self.whole_batch_failed(chunk, err)
            return
        answers = {str(a.get("id")): a for a in (loads(raw) or {}).get("responses", [])}
        again: list[tuple[int, float, bool]] = []   # (status, delay, Retry-After given) of those sent again
        accepted = throttled = unattributed = 0
        retry_after: float | None = None
        for i in chunk:
            answer = answers.get(str(i))
            if answer is None:         # the server dropped it: treat like a transient failure
                answer = {"id": str(i), "status": 503, "headers": {}, "body": None}
            status = int(answer.get("status") or 0)
            item_retry_after = _retry_after(answer)
            if status == 429:
                core.stats.throttled += 1
                if i in writes and not is_budget_refusal(answer.get("headers")):
                    unattributed += 1          # a bare 429: this item's refusal (refusals.py)
                elif i in writes:
                    throttled += 1
                    retry_after = max(retry_after or 0.0, item_retry_after or 0.0) or None
            elif i in writes:
                accepted += 1
            if status in RETRY_ITEM_STATUSES and self.attempts[i] < core.policy.max_retries \
                    and (item_retry_after or 0) <= core.policy.max_retry_after:
                delay = core.policy.delay(self.attempts[i], item_retry_after)
                self.requeue(i, delay)
                again.append((status, delay, item_retry_after is not None))
            else:
                self.file(i, answer, status)
        if writes:          # every answer: those without 429 refine the limiter's estimate
            core.limiter.record(sent_at=sent_at, accepted=accepted, throttled=throttled,
                                retry_after=retry_after, unattributed=unattributed)
        if again:
            found = Counter(s for s, _, _ in again)
            statuses = ", ".join(str(s) if len(found) == 1 else f"{s} ({n})" for s, n in sorted(found.items()))
            wait = max(d for _, d, _ in again)
            how = "Retry-After" if all(given for _, _, given in again) else "backoff"
            why = (f"Graph answered {statuses} to {len(again)} of {len(chunk)} $batch item(s) ({how} {wait:g} s"
                   + (f"; {throttled} refused by the write budget" if throttled else "")
                   + "); the other requests go on")
            log.info("waiting %.1f s: %s", wait, why)
            progress.waiting(wait, why)

    def whole_batch_failed(self, chunk: list[int], err: GraphError) -> None:
        """The $batch POST itself failed: every item waits (Retry-After, else backoff) and goes
        again while the error is transient (429, 424, 5xx, no answer) and retries remain. A POST
        item whose answer was lost may have run: filed as unknown, never resent (module doc)."""
        policy = self.core.policy
        attempt = max(self.attempts[i] for i in chunk)
        retry: list[int] = []
        for i in chunk:
            idempotent = str(self.requests[i]["method"]).upper() in IDEMPOTENT_METHODS
            if policy.allows(err, attempt, idempotent=idempotent):
                retry.append(i)
            elif not idempotent and err.status == NO_RESPONSE and err.code not in NOT_SENT_CODES:
                self.file(i, failed_item(err, unknown=True), err.status)
            else:
                self.error = self.error or err
                self.file(i, failed_item(err), err.status)
        if err.stops_job:
            self.stopped = err
        delay = policy.delay(attempt, err.retry_after)
        if retry:
            said_wait(delay, f"Graph answered {answered(err)} to a $batch of {len(chunk)} request(s)",
                      err.retry_after, attempt + 1, policy.max_retries)
        for i in retry:
            self.requeue(i, delay)

    def file_unsent(self) -> None:
        """After a 401/403 nothing more is sent: the items still waiting are filed as not sent."""
        err = self.stopped
        assert err is not None
        while self.heap:
            i = heapq.heappop(self.heap)[1]
            if self.results[i] is None:
                self.file(i, failed_item(err, sent=False), err.status)

    def requeue(self, index: int, delay: float) -> None:
        self.attempts[index] += 1
        self.core.stats.retries += 1
        heapq.heappush(self.heap, (time.monotonic() + delay, index))

    def file(self, index: int, answer: Mapping[str, Any], status: int) -> None:
        result = {"status": status or NO_RESPONSE, "headers": dict(answer.get("headers") or {}),
                  "body": answer.get("body")}
        for key in ("unknown", "not_sent", "retry_after"):
            if answer.get(key) is not None:
                result[key] = answer[key]
        self.results[index] = result
        self.remaining -= 1


async def run_batch(core: AsyncGraph, requests: Sequence[Mapping[str, Any]]
                    ) -> list[dict[str, Any]]:
    """See module doc. ``requests``: {"method", "url", "body"?, "headers"?} each."""
    for req in requests:
        core.guard(str(req["method"]), str(req["url"]))       # dry run: refuse before sending
    if not requests:
        return []
    run = _Run(core, requests)
    workers = min(core.max_concurrency, -(-len(requests) // MAX_BATCH))
    tasks = [asyncio.create_task(run.worker()) for _ in range(workers)]
    try:
        # Every worker runs to its end: a chunk in flight is never cancelled (its items may have
        # run). A worker that raised anyway (a bug, not a Graph answer) ends the call after them.
        await asyncio.gather(*tasks, return_exceptions=True)
        for task in tasks:
            if task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
    finally:
        for task in tasks:
            task.cancel()
    if run.error is not None or run.stopped is not None:
        err = run.error or run.stopped
        assert err is not None
        unsent = failed_item(err, sent=False)
        raise BatchIncomplete(err, [r if r is not None else dict(unsent) for r in run.results])
    return [r for r in run.results if r is not None]
