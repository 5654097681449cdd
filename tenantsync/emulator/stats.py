"""Request counters served by GET /_emulator/stats.

Shape:
  {"total_requests": HTTP requests to /v1.0 ($batch envelopes included, items not),
   "batch_items": items executed inside $batch,
   "by_route": {"GET /users": n, "PATCH /users/{id}": n, ...}   (HTTP requests and items),
   "by_status": {"200": n, "429": n, ...}                         (HTTP requests and items),
   "throttled": 429s from the throttle profile, "faults": {"503": n, "drop": n, ...},
   "429": every 429 (throttle + injected), "writes": writes that succeeded (status < 400),
   "resource_units": units charged, "since": ISO time of the last reset}
"""

from __future__ import annotations

from collections import Counter

from tenantsync.emulator.protocol import now_iso


class Stats:
    """Counters; reset() starts over."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Zero every counter."""
        self.total_requests = 0
        self.batch_items = 0
        self.by_route: Counter[str] = Counter()
        self.by_status: Counter[int] = Counter()
        self.faults: Counter[str] = Counter()
        self.throttled = 0
        self.writes = 0
        self.resource_units = 0
        self.since = now_iso()

    def record(self, method: str, template: str, status: int, *, item: bool, write: bool,
               units: int = 0, throttled: bool = False, fault: str | None = None) -> None:
        """Count one Graph call."""
        if item:
            self.batch_items += 1
        else:
            self.total_requests += 1
        self.by_route[f"{method} {template}"] += 1
        if fault == "drop":
            self.faults["drop"] += 1
            return
        self.by_status[status] += 1
        if fault:
            self.faults[fault] += 1
        if throttled:
            self.throttled += 1
        self.resource_units += units
        if write and status < 400:
            self.writes += 1

    def snapshot(self) -> dict:
        """The counters as JSON-ready data."""
        return {"total_requests": self.total_requests, "batch_items": self.batch_items,
                "by_route": dict(self.by_route),
                "by_status": {str(k): v for k, v in sorted(self.by_status.items())},
                "throttled": self.throttled, "faults": dict(self.faults),
                "429": self.by_status.get(429, 0), "writes": self.writes,
                "resource_units": self.resource_units, "since": self.since}
