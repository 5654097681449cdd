"""A tiny in-memory Graph behind httpx.MockTransport, for unit tests of the connector's own logic
(retries, classification, batching, limiter) without the emulator. Scenario tests use the
emulator; this fake only has to be right about the few wire details the connector relies on.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from tenantsync.graph import RetryPolicy

TOKEN = "fake-token-0123456789abcdef"
FAST = RetryPolicy(max_retries=3, base_delay=0.01, max_delay=0.05)   # retries without waiting
Handler = Callable[[str, str, dict[str, list[str]], Any], tuple[int, dict[str, str], Any]]


def error(status: int, code: str, message: str = "", headers: dict[str, str] | None = None
          ) -> tuple[int, dict[str, str], Any]:
    return status, headers or {}, {"error": {"code": code, "message": message or code}}


class TokenBucket:
    """Server-side write budget: ``capacity`` tokens refilled at ``rate`` per second."""

    def __init__(self, capacity: float, rate: float) -> None:
        self.capacity, self.rate = capacity, rate
        self.tokens, self.last = capacity, time.monotonic()
        self.lock = threading.Lock()

    def take(self) -> float | None:
        """None if allowed, else seconds until a token is available."""
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.capacity, self.tokens + (now - self.last) * self.rate)
            self.last = now
            if self.tokens >= 1:
                self.tokens -= 1
                return None
            return (1 - self.tokens) / self.rate


class FakeGraph:
    def __init__(self, users: int = 0, base: str = "https://graph.test/v1.0") -> None:
        self.base = base
        self.users: dict[str, dict[str, Any]] = {
            f"u{i:05d}": {"id": f"u{i:05d}", "displayName": f"User {i}", "version": 0}
            for i in range(users)}
        self.version = 0
        self.log: list[tuple[str, str]] = []          # (method, path incl. query) per HTTP call
        self.scripted: dict[tuple[str, str], deque[tuple[int, dict[str, str], Any]]] = {}
        self.item_faults: deque[tuple[int, dict[str, str]]] = deque()   # next batch items' fates
        self.bucket: TokenBucket | None = None
        self.write_results: list[tuple[float, int]] = []               # (time, status) per write
        self.latency = 0.0

    # --- programming the fake --------------------------------------------------------------
    def script(self, method: str, path: str, *responses: tuple[int, dict[str, str], Any]) -> None:
        """Answer the next calls of ``method path`` with these responses (then normally)."""
        self.scripted.setdefault((method, path), deque()).extend(responses)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    # --- HTTP ------------------------------------------------------------------------------
    async def handle(self, request: httpx.Request) -> httpx.Response:
        if self.latency:
            import asyncio
            await asyncio.sleep(self.latency)
        url = urlsplit(str(request.url))
        self.log.append((request.method, url.path + ("?" + url.query if url.query else "")))
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            status, headers, body = error(401, "InvalidAuthenticationToken",
                                          "Access token validation failure.")
        else:
            path = url.path.removeprefix(urlsplit(self.base).path)
            body_in = json.loads(request.content) if request.content else None
            status, headers, body = self.dispatch(request.method, path, parse_qs(url.query),
                                                  body_in, top_level=True)
        content = b"" if body is None else json.dumps(body).encode()
        headers = {**headers, "Content-Type": "application/json"} if body is not None else headers
        return httpx.Response(status, headers=headers, content=content)

    def dispatch(self, method: str, path: str, q: dict[str, list[str]], body: Any, *,
                 top_level: bool = False) -> tuple[int, dict[str, str], Any]:
        queue = self.scripted.get((method, path))
        if queue:
            return queue.popleft()
        if path == "/$batch" and method == "POST" and top_level:
            return 200, {}, {"responses": [self.batch_item(r) for r in body["requests"]]}
        if path == "/users" and method == "GET":
            return self.page(q)
        if path in ("/users/delta()", "/users/delta") and method == "GET":
            return self.delta(q)
        if path.startswith("/users/") and path.count("/") == 2:
            uid = path.split("/")[2]
            if uid not in self.users:
                return error(404, "Request_ResourceNotFound", f"Resource '{uid}' does not exist.")
            if method == "GET":
                return 200, {}, self.users[uid]
            if method == "PATCH":
                self.version += 1
                self.users[uid].update(body or {}, version=self.version)
                return 204, {}, None
            if method == "DELETE":
                self.version += 1
                del self.users[uid]
                return 204, {}, None
        if path == "/organization" and method == "GET":
            return 200, {}, {"value": [{"id": "tenant-1", "displayName": "Fake Org"}]}
        return error(400, "BadRequest", f"no route {method} {path}")

    def batch_item(self, req: dict[str, Any]) -> dict[str, Any]:
        if self.item_faults:
            status, headers = self.item_faults.popleft()
            return {"id": req["id"], "status": status, "headers": headers,
                    "body": error(status, "fault")[2]}
        if req["method"] != "GET" and self.bucket is not None:
            wait = self.bucket.take()
            if wait is not None:
                self.write_results.append((time.monotonic(), 429))
                return {"id": req["id"], "status": 429,
                        "headers": {"Retry-After": f"{wait:.3f}",     # Graph's budget 429
                                    "x-ms-throttle-scope": "Tenant_Application/Write/app/tenant",
                                    "x-ms-throttle-information": "WriteLimitExceeded"},
                        "body": error(429, "TooManyRequests")[2]}
            self.write_results.append((time.monotonic(), 200))
        url = urlsplit(req["url"])
        status, headers, body = self.dispatch(req["method"], url.path, parse_qs(url.query),
                                              req.get("body"))
        out: dict[str, Any] = {"id": req["id"], "status": status, "headers": headers}
        if body is not None:
            out["body"] = body
        return out

    def page(self, q: dict[str, list[str]]) -> tuple[int, dict[str, str], Any]:
        top = int(q.get("$top", ["100"])[0])
        skip = int(q.get("$skiptoken", ["0"])[0])
        ids = sorted(self.users)
        value = [self.users[i] for i in ids[skip:skip + top]]
        out: dict[str, Any] = {"value": value}
        if skip + top < len(ids):
            out["@odata.nextLink"] = f"{self.base}/users?$top={top}&$skiptoken={skip + top}"
        return 200, {}, out

    def delta(self, q: dict[str, list[str]]) -> tuple[int, dict[str, str], Any]:
        since = int(q.get("$deltatoken", ["-1"])[0])
        changed = [u for u in self.users.values() if u["version"] > since]
        link = f"{self.base}/users/delta()?$deltatoken={self.version}"
        return 200, {}, {"value": changed, "@odata.deltaLink": link}
