"""Graph's identity-and-access throttling (throttling-limits; docs/entra-behaviour.md#throttling), as
token buckets.

Profile "graph" (off unless asked for):
- resource units per app+tenant, by tenant size: S (< 50 users) 3,500 / 10 s, M (50-500)
  5,000 / 10 s, L (> 500) 8,000 / 10 s;
- writes per app+tenant: 3,000 / 150 s; writes per tenant (all apps): 18,000 / 300 s;
- HTTP requests per app across all tenants: 2,000 / 1 s (throttling-limits: the global limit
  "Any request, per app across all tenants, 2000 requests per second"). A $batch envelope is one
  such request; its items are not (emulator decision: the items are evaluated individually against
  the identity limits above, json-batching / throttling "Throttling and batching"). So a $batch is
  answered 429 as a whole only when the envelope itself exceeds that rate; otherwise it is 200 with
  per-item 429s (throttling: "The batch itself succeeds with a status code of 200 (OK)").
Each bucket holds its limit and refills continuously at limit/window. `time_scale` F divides every
window (and so every Retry-After) by F: at F=60 the 150 s write window lasts 2.5 s.
Retry-After is the whole number of seconds until the request would fit, at least 1.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

PROFILES = ("graph",)

# Per-request cost (throttling-limits): GET users 2, GET group members 3, getByIds 3, other GET 1;
# writes 1 RU + 1 write; $select -1, $expand +1, $top < 20 -1; floor 1.
_USER_READS = {"/users", "/users/{id}", "/users/delta", "/users/$count",
               "/directory/deletedItems/microsoft.graph.user", "/directory/deletedItems/{id}"}
_COST_OVERRIDES = {("GET", "/groups/{id}/members"): 3,
                   ("POST", "/directoryObjects/getByIds"): 3}
_READ_POSTS = {"/directoryObjects/getByIds", "/$batch"}


def request_cost(method: str, template: str, query: dict[str, str]) -> tuple[int, int]:
    """(resource units, writes) that a request costs."""
    write = method != "GET" and template not in _READ_POSTS
    if template == "/$batch":
        return 0, 0                   # the envelope is free; each item is charged on its own
    base = _COST_OVERRIDES.get((method, template))
    if base is None:
        base = 1 if write or method != "GET" else (2 if template in _USER_READS else 1)
    if "$select" in query:
        base -= 1
    if "$expand" in query:
        base += 1
    top = query.get("$top")
    if top is not None and top.isdigit() and len(top) <= 2 and int(top) < 20:
        base -= 1
    return max(1, base), (1 if write else 0)


class Bucket:
    """Token bucket: `capacity` tokens, refilled at `rate` tokens per (real) second."""

    __slots__ = ("capacity", "rate", "tokens", "stamp")

    def __init__(self, capacity: float, rate: float, now: float) -> None:
        self.capacity, self.rate, self.tokens, self.stamp = capacity, rate, capacity, now

    def refill(self, now: float) -> None:
        """Add the tokens earned since the last look."""
        if now > self.stamp:
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def wait_for(self, amount: float) -> float:
        """Seconds until `amount` tokens are available (0 when they are)."""
        deficit = amount - self.tokens
        return 0.0 if deficit <= 0 else deficit / self.rate


@dataclass
class Verdict:
    """The throttle's answer for one request."""

    allowed: bool
    headers: dict[str, str]
    retry_after: int = 0
    information: str = ""


def size_limit(user_count: int) -> int:
    """Resource units per 10 s for a tenant of `user_count` users."""
    if user_count < 50:
        return 3500
    if user_count <= 500:
        return 5000
    return 8000


class Throttle:
    """The 'graph' throttling profile; one instance per emulator."""

    RU_WINDOW = 10.0
    APP_REQUESTS, APP_REQUEST_WINDOW = 2000, 1.0
    APP_WRITES, APP_WRITE_WINDOW = 3000, 150.0
    TENANT_WRITES, TENANT_WRITE_WINDOW = 18000, 300.0

    def __init__(self, profile: str = "graph", time_scale: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if profile not in PROFILES:
            raise ValueError(f"unknown throttle profile '{profile}' (allowed: {', '.join(PROFILES)})")
        if time_scale <= 0:
            raise ValueError("time_scale must be > 0")
        self.profile = profile
        self.scale = float(time_scale)
        self.clock = clock
        self.buckets: dict[tuple, Bucket] = {}

    def _bucket(self, key: tuple, limit: float, window: float, now: float) -> Bucket:
        rate = limit / (window / self.scale)
        bucket = self.buckets.get(key)
        if bucket is None:
            bucket = self.buckets[key] = Bucket(limit, rate, now)
        elif bucket.capacity != limit:          # the tenant changed size class
            bucket.refill(now)
            bucket.tokens += limit - bucket.capacity
            bucket.capacity, bucket.rate = limit, rate
        bucket.refill(now)
        return bucket

    def check(self, app_id: str, tenant_id: str, user_count: int, units: int,
              writes: int, requests: int = 0) -> Verdict:
        """Charge a request, or refuse it (nothing charged) with Graph's 429 headers.

        requests: 1 for an HTTP request (counted against the app's global request rate)."""
        now = self.clock()
        checks: list[tuple[Bucket, float, str, str]] = []
        if requests:
            app_r = self._bucket(("rq", app_id), self.APP_REQUESTS, self.APP_REQUEST_WINDOW, now)
            checks.append((app_r, requests, f"Application/ReadWrite/{app_id}/{tenant_id}",
                           "RequestRateLimitExceeded"))
        ru = self._bucket(("ru", app_id, tenant_id), size_limit(user_count), self.RU_WINDOW, now)
        checks.append((ru, units, f"Tenant_Application/ReadWrite/{app_id}/{tenant_id}",
                       "ResourceUnitLimitExceeded"))
        if writes:
            app_w = self._bucket(("w", app_id, tenant_id), self.APP_WRITES,
                                 self.APP_WRITE_WINDOW, now)
            ten_w = self._bucket(("tw", tenant_id), self.TENANT_WRITES,
                                 self.TENANT_WRITE_WINDOW, now)
            checks += [(app_w, writes, f"Tenant_Application/Write/{app_id}/{tenant_id}",
                        "WriteLimitExceeded"),
                       (ten_w, writes, f"Tenant/Write/{app_id}/{tenant_id}", "WriteLimitExceeded")]
        for bucket, amount, scope, info in checks:
            wait = bucket.wait_for(amount)
            if wait > 0:
                retry = max(1, math.ceil(wait))
                return Verdict(False, {"Retry-After": str(retry), "x-ms-throttle-scope": scope,
                                       "x-ms-throttle-information": info}, retry, info)
        headers: dict[str, str] = {}
        for bucket, amount, _, _ in checks:
            bucket.tokens -= amount
        used = 1.0 - ru.tokens / ru.capacity
        if used > 0.8:                          # Graph sends this only above 80 % of the budget
            headers["x-ms-throttle-limit-percentage"] = f"{min(1.8, used):.1f}"
        return Verdict(True, headers)
