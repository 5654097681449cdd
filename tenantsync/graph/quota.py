"""Adaptive write limiter: stay just under the tenant's write budget instead of bouncing off 429s.

Graph's write budget is per app+tenant (3,000 writes / 150 s; reference §11) and shared with
whatever else writes to the tenant, so the client cannot know its real share: it learns it.

How (one paragraph is the whole algorithm):
- Writes pass a token bucket (GCRA form: one "theoretical arrival time", FIFO, a small burst).
  Until the first 429 the rate is unlimited: only max_concurrency bounds us.
- A 429 on a write means the server's bucket is empty; from then on it admits exactly its refill
  rate R. A batch response tells what fraction of our writes it accepted, and we know the rate we
  were sending at, so R ≈ sent_rate × accepted_fraction. The new rate is that estimate × 0.9
  (β), at most ÷10 per event. Only one decrease per "epoch": results of requests sent before the
  last decrease are ignored, so one congestion episode is not counted many times.
- Every write also waits for the Retry-After the server gave (``blocked_until``): the next writes
  would be refused anyway until then.
- While the limiter is the bottleneck (callers wait on it) the rate grows again: quickly (8 %/s)
  back to the last estimate, then slowly (1 %/s) above it, to find budget freed by other writers.
  A slow probe overshoots by a little, so the next 429 rejects only a few writes.
Reads are not limited here (their budget is separate and far larger); they honour Retry-After
through the retry loop.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field


@dataclass
class LimiterSettings:
    start_rate: float | None = None     # writes/s before any 429 (None: unlimited)
    min_rate: float = 0.5               # never slower than this (writes/s)
    beta: float = 0.9                   # new rate = estimate × beta
    max_cut: float = 0.1                # one decrease never cuts below rate × max_cut
    fast_growth: float = 0.08           # per second, while below the last estimate
    slow_growth: float = 0.01           # per second, above it (probing)
    burst_seconds: float = 0.25         # tokens that may be spent at once after an idle spell
    rate_window: float = 2.0            # seconds over which the send rate is measured


@dataclass
class LimiterState:
    rate: float | None = None           # current writes/s (None: unlimited)
    estimate: float | None = None       # last learned server rate
    decreases: int = 0
    throttle_events: int = 0
    blocked_until: float = 0.0
    sent: deque[tuple[float, int]] = field(default_factory=deque)


class WriteLimiter:
    """Token bucket of writes per second, adapted on 429 (multiplicative) and grown back."""

    def __init__(self, settings: LimiterSettings | None = None,
                 clock: "callable[[], float]" = time.monotonic) -> None:   # type: ignore[valid-type]
        self.settings = settings or LimiterSettings()
        self.state = LimiterState(rate=self.settings.start_rate)
        self._clock = clock
        self._tat = 0.0                      # GCRA theoretical arrival time
        self._last_cut = -1.0                # send time before which results are stale
        self._last_growth: float | None = None

    # --- sending -------------------------------------------------------------------------
    @property
    def rate(self) -> float | None:
        return self.state.rate

    async def acquire(self, writes: int) -> float:
        """Wait until ``writes`` writes may be sent; returns the send time to report back."""
        if writes <= 0:
            return self._clock()
        while True:
            now = self._clock()
            if now < self.state.blocked_until:            # the server asked us to hold off
                await asyncio.sleep(self.state.blocked_until - now)
                continue
            rate = self.state.rate
            if rate is None:
                break
            # GCRA: reserve the slot now (FIFO across callers), then sleep until it comes.
            tat = max(self._tat, now)
            self._tat = tat + writes / rate
            wait = tat - self.settings.burst_seconds - now
            if wait > 0:
                self._grow(now)
                await asyncio.sleep(wait)
            # A 429 may have arrived while we slept: honour its Retry-After too.
            while (left := self.state.blocked_until - self._clock()) > 0:
                await asyncio.sleep(left)
            break
        sent_at = self._clock()
        self.state.sent.append((sent_at, writes))
        return sent_at

    def _grow(self, now: float) -> None:
        """The limiter is the bottleneck: let the rate creep up (see module doc)."""
        last, self._last_growth = self._last_growth, now
        rate = self.state.rate
        if last is None or rate is None:
            return
        dt = min(now - last, 1.0)
        below = self.state.estimate is not None and rate < self.state.estimate
        growth = self.settings.fast_growth if below else self.settings.slow_growth
        self.state.rate = rate * (1.0 + growth * dt)

    def _send_rate(self, now: float) -> float | None:
        window = self.settings.rate_window
        sent = self.state.sent
        while sent and sent[0][0] < now - window:
            sent.popleft()
        if len(sent) < 2:
            return None
        span = max(now - sent[0][0], 1e-3)
        return sum(n for _, n in sent) / span

    # --- feedback ------------------------------------------------------------------------
    def record(self, *, sent_at: float, accepted: int, throttled: int,
               retry_after: float | None = None) -> None:
        """Report how the server answered the writes sent at ``sent_at``."""
        if throttled <= 0:
            return
        now = self._clock()
        self.state.throttle_events += 1
        if retry_after:
            self.state.blocked_until = max(self.state.blocked_until, now + retry_after)
        if sent_at < self._last_cut:
            return                                       # same congestion episode
        measured = self._send_rate(now)
        current = self.state.rate
        sending = measured if current is None else min(current, measured or current)
        if sending is None:                              # too little history: halve
            sending = (accepted + throttled) / max(now - sent_at, 1e-3)
        fraction = accepted / (accepted + throttled)
        if accepted == 0:
            fraction = 0.5                               # no information: plain halving
        estimate = max(self.settings.min_rate, sending * max(fraction, self.settings.max_cut))
        self.state.estimate = estimate
        self.state.rate = max(self.settings.min_rate, estimate * self.settings.beta)
        self.state.decreases += 1
        self._last_cut = now
        self._last_growth = None
        self._tat = min(self._tat, now)
