"""Adaptive write limiter: stay just under the tenant's write budget instead of bouncing off 429s.

Graph's write budget is per app+tenant (3,000 writes / 150 s; throttling-limits,
docs/entra-behaviour.md#throttling), a token bucket
shared with whatever else writes to the tenant, so the client cannot know its share: it learns it.

The whole algorithm:
- Writes are paced by a token bucket of our own (GCRA: FIFO, one $batch of burst). Until the
  first 429 the rate is unlimited: only max_concurrency bounds us, and the server's bucket (it
  starts full) is spent as fast as it will go.
- A 429 among a batch's writes means the server's bucket was empty: it admits its refill rate
  R and refuses the rest, so a batch sent at rate r that gets a fraction f accepted says R ≈ r·f.
  r is the rate we *actually* sent at (writes over the last few sends since the last cut, not
  the configured rate: the sender may be late, CPU-bound or bursty). Over one "epoch" (answers to
  writes sent between two cuts; those still in flight at a cut land later and refine it)
  R̂ = Σ accepted / Σ (writes_k / r_k). Our rate becomes 0.9·R̂.
- The first 429 after the unlimited start is not a sample (that batch also spent what was left
  of the full bucket): the rate is halved until the in-flight answers give real samples.
- After a cut our own bucket restarts empty (no burst credit, one interval of wait), so the next
  answer measures the new rate.
- While the limiter is the bottleneck the rate grows: 8 %/s up to R̂ (or while R̂ rests on fewer
  than 5 accepted writes: too coarse to trust), then 0.5 %/s above it, doubling every 5 s
  without a 429 (up to 8 %/s), to find budget freed by other writers or an estimate that was
  low. A slow probe overshoots by little, so the 429 that ends it refuses a write or two, and
  its sample (≈ 19 of 20 accepted) is precise.
- A shared gate (shared_budget.py), when given, is passed first: it spreads the budget of one
  application in one tenant over every cycle that writes there; this limiter then paces behind it.
- Retry-After: refused batch *items* are retried after their own Retry-After (batch.py) while the
  other writes go on at the cut rate; a whole request answered 429 holds every write until its
  Retry-After. (The emulator's Retry-After is >= 1 s even when time-scaled: pausing all writes per
  item 429 would waste a large share of the budget without sparing the server anything.)
- Which 429s count (refusals.py): only those that name a budget (x-ms-throttle-information
  ...LimitExceeded, an x-ms-throttle-scope on writes) cut the rate. A bare 429 refuses its request
  only: it is retried after its Retry-After (batch.py) and costs nothing else, unless the spread of
  bare 429s makes a wall (most of an answer, whole requests refused in a row, a quarter of the
  recent writes): then it counts like the budget's own. A whole request refused bare with a long
  Retry-After holds every write that long, without a cut. Items refused bare are left out of the
  samples (accepted / (accepted + budget-refused)): what is refused at random is sent again, so
  the send rate that meets the budget is R / (share not refused at random), which is what the
  estimate then measures.
- Recovery: below R̂ (or while R̂ is coarse) the rate also gains additive_share·R̂ per clean
  window (clean_window seconds since the last cut), so a rate halved without a sample (a whole
  request refused, the first 429) is back at the known rate within a few windows.
Reads are not limited here (their budget is separate and far larger); they honour Retry-After
through the retry loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from tenantsync import progress
from tenantsync.graph.refusals import Spread, SpreadSettings

log = logging.getLogger("tenantsync.graph")
BUDGET = "Graph allows 3,000 writes per 150 s per app and tenant"   # docs/entra-behaviour.md#throttling
PAUSES_LOG_S = 30.0                 # the limiter's pauses are summed in one log line this often


@dataclass
class LimiterSettings:
    start_rate: float | None = None     # writes/s before any 429 (None: unlimited)
    min_rate: float = 0.5               # never slower than this (writes/s)
    beta: float = 0.9                   # rate = estimate × beta
    fast_growth: float = 0.08           # per second, below the estimate (or if it is coarse)
    slow_growth: float = 0.005          # per second, above it (probing) ...
    slow_doubling: float = 5.0          # ... doubling every this many seconds without a 429
    confident_accepts: int = 5          # accepted writes an estimate needs to be trusted
    burst_writes: int = 20              # writes that may go at once after an idle spell
    rate_sends: int = 8                 # sends over which the actual send rate is measured
    unlimited_in_flight: int = 2        # write requests in flight before the first 429
    clean_window: float = 1.0           # seconds without a cut before the additive increase ...
    additive_share: float = 0.1         # ... of this share of R̂ per clean window (below R̂)
    spread: SpreadSettings = field(default_factory=SpreadSettings)


@dataclass
class LimiterState:
    rate: float | None = None           # current writes/s (None: unlimited)
    estimate: float | None = None       # R̂, the learned server rate
    confident: bool = False             # R̂ rests on enough accepted writes
    cuts: int = 0                       # rate decreases
    throttle_events: int = 0            # answers carrying write 429s that counted
    random_refusals: int = 0            # writes refused by a bare 429 that did not count
    walls: int = 0                      # answers whose bare 429s counted (their spread)
    blocked_until: float = 0.0
    sent: deque[tuple[float, int]] = field(default_factory=deque)


@dataclass
class _Epoch:
    """Samples from the answers to writes sent between two cuts."""

    start: float                        # writes sent from here on belong to it
    ceiling: float                      # the rate that met the 429: never go back above it
    accepted: float = 0.0
    span: float = 0.0                   # Σ writes_k / r_k: the send time the samples cover


class WriteLimiter:
    """Token bucket of writes per second, cut to the measured server rate on 429, grown back."""

    def __init__(self, settings: LimiterSettings | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 gate: Callable[[int], None] | None = None) -> None:
        self.settings = settings or LimiterSettings()
        self.gate = gate                     # blocking: returns once n writes may go (shared_budget.py)
        self._sleep = sleep                  # (clock and sleep: a simulated time in tests)
        self.state = LimiterState(rate=self.settings.start_rate)
        self._clock = clock
        self._tat = 0.0                      # GCRA theoretical arrival time
        self._last_cut = float("-inf")       # answers to writes sent before this are stale
        self._last_growth: float | None = None
        self._sent_rate: OrderedDict[float, float] = OrderedDict()   # send time -> actual rate
        self._epoch: _Epoch | None = None
        self._gen = 0                        # moves whenever pacing restarts (cut, refinement)
        self._in_flight = 0
        self._batch_size = self.settings.burst_writes     # writes in the last throttled answer
        self._slot_freed: asyncio.Event | None = None   # made on first use, on the loop
        self._spread = Spread(self.settings.spread)
        self._paused: tuple[float, int, float | None] = (0.0, 0, None)   # pauses not logged yet: s, n, since
        self._blocked_said = 0.0             # the blocked_until last logged

    @property
    def rate(self) -> float | None:
        return self.state.rate

    # --- sending -------------------------------------------------------------------------
    async def acquire(self, writes: int) -> float:
        """Wait until ``writes`` writes may be sent; returns the send time to report back."""
        if writes <= 0:
            return self._clock()
        while self.state.rate is None and self._in_flight >= self.settings.unlimited_in_flight:
            # Before the first 429 nothing paces us; the server's bucket starts full and we spend
            # it at full speed, but whatever is in flight when it runs dry is refused: keep that
            # small. (Speed here costs no budget: a draining bucket wastes no refill.)
            if self._slot_freed is None:
                self._slot_freed = asyncio.Event()
            self._slot_freed.clear()
            await self._slot_freed.wait()
        self._in_flight += 1
        try:
            if self.gate is not None:
                await asyncio.to_thread(self.gate, writes)
            await self._pace(writes)
        except BaseException:          # cancelled while waiting: the caller never sends
            self.release()
            raise
        sent_at = self._clock()
        progress.sent(writes)
        sent = self.state.sent
        sent.append((sent_at, writes))
        while len(sent) > self.settings.rate_sends:
            sent.popleft()
        self._sent_rate[sent_at] = self._actual_rate(sent_at)
        while len(self._sent_rate) > 1024:
            self._sent_rate.popitem(last=False)
        return sent_at

    async def _pace(self, writes: int) -> None:
        while True:
            await self._wait_unblocked()
            rate, gen = self.state.rate, self._gen
            if rate is None:
                break
            now = self._clock()
            # GCRA: reserve the slot now (FIFO across callers), then sleep until it comes.
            tat = max(self._tat, now)
            self._tat = tat + writes / rate
            wait = tat - self.settings.burst_writes / rate - now
            if wait <= 0:
                break
            self._grow(now)
            self._pausing(wait, now, rate)
            await self._sleep(wait)
            if self._gen == gen and self.state.blocked_until <= self._clock():
                break
            # A cut or a Retry-After came in while we slept: the slot was reserved at the old
            # rate, so reserve again at the new one (else the next answer measures the old rate).

    def release(self) -> None:
        """The answer to an ``acquire``d write request is in (or it failed)."""
        self._in_flight = max(0, self._in_flight - 1)
        if self._slot_freed is not None:
            self._slot_freed.set()

    async def _wait_unblocked(self) -> None:
        while (left := self.state.blocked_until - self._clock()) > 0:
            if self.state.blocked_until != self._blocked_said:
                self._blocked_said = self.state.blocked_until
                why = "Graph refused a whole write request with 429: every write waits its Retry-After"
                log.info("waiting %.1f s: %s", left, why)
                progress.waiting(left, why)
            await self._sleep(left)

    def _pausing(self, wait: float, now: float, rate: float) -> None:
        """Log the pacing pauses: the first at once, then their sum every PAUSES_LOG_S seconds."""
        seconds, pauses, since = self._paused
        if since is None:
            log.info("the write limiter paces writes at %.1f writes/s to stay within the write budget (%s)",
                     rate, BUDGET)
            since = now
        seconds, pauses = seconds + wait, pauses + 1
        if now - since >= PAUSES_LOG_S:
            log.info("the write limiter paused writes %d time(s), %.1f s in all, over the last %.0f s, "
                     "to stay within the write budget (%.1f writes/s now)", pauses, seconds, now - since, rate)
            seconds, pauses, since = 0.0, 0, now
        self._paused = (seconds, pauses, since)

    def _grow(self, now: float) -> None:
        """The limiter is the bottleneck: let the rate creep up (see module doc)."""
        last, self._last_growth = self._last_growth, now
        rate, estimate = self.state.rate, self.state.estimate
        if last is None or rate is None:
            return
        s = self.settings
        fast = not self.state.confident or (estimate is not None and rate < estimate)
        # Above the estimate the probe starts slow and speeds up the longer no 429 comes: an
        # estimate that was too low (or budget freed by another writer) is found in seconds.
        slow = s.slow_growth * 2 ** ((now - self._last_cut) / s.slow_doubling)
        growth = s.fast_growth if fast else min(s.fast_growth, slow)
        step = min(now - last, 1.0)
        new = rate * (1.0 + growth * step)
        if estimate is not None and rate < estimate and now - self._last_cut >= s.clean_window:
            # Additive increase after a clean window, up to the known rate R̂.
            new = max(new, min(estimate, rate + s.additive_share * estimate * step
                                / s.clean_window))
        self.state.rate = new

    def _actual_rate(self, now: float) -> float:
        """Writes/s actually sent over the last few sends since the last cut."""
        sent = self.state.sent
        if len(sent) >= 3 and now > sent[0][0]:
            # The first send opens the span; the writes after it fill it.
            return sum(n for _, n in list(sent)[1:]) / (now - sent[0][0])
        if self.state.rate is not None:
            return self.state.rate
        return sum(n for _, n in sent) / max(now - sent[0][0], 0.05) if sent else \
            self.settings.min_rate

    # --- feedback ------------------------------------------------------------------------
    def record(self, *, sent_at: float, accepted: int, throttled: int,
               retry_after: float | None = None, whole_request: bool = False,
               unattributed: int = 0) -> None:
        """Report how the server answered the writes sent at ``sent_at``.

        ``throttled``: writes refused by a 429 naming a budget; ``unattributed``: by a bare 429
        (refusals.is_budget_refusal). ``whole_request``: the request itself got 429 (not items
        inside a $batch). Every answer to a write request should be reported, 429 or not: the
        spread of bare 429s is judged against them all.
        """
        rate_then = self._sent_rate.pop(sent_at, None)
        now = self._clock()
        if self._spread.observe(accepted + throttled + unattributed, unattributed,
                                whole_request):
            self.state.walls += 1
            throttled, unattributed = throttled + unattributed, 0
        if unattributed:
            self.state.random_refusals += unattributed
            if whole_request and retry_after and \
                    retry_after >= self.settings.spread.long_retry_after:
                self.state.blocked_until = max(self.state.blocked_until, now + retry_after)
        if throttled <= 0:
            return
        self.state.throttle_events += 1
        self._batch_size = accepted + throttled
        current = self.state.rate or rate_then or self._actual_rate(now)
        if whole_request:
            if retry_after:
                self.state.blocked_until = max(self.state.blocked_until, now + retry_after)
            if sent_at >= self._last_cut:       # no fraction in it: halve
                self._epoch = _Epoch(now, current)
                self._cut(now, current / 2)
            return
        if sent_at >= self._last_cut:
            # A 429 on writes sent at the current rate: a new epoch and a cut.
            self._epoch = _Epoch(self._last_cut, max(current, rate_then or 0.0))
            if self.state.rate is None:
                # First 429 after the unlimited start: this batch also spent the rest of the
                # full bucket, so it is no sample. Halve until in-flight answers say more.
                self._cut(now, current / 2)
                return
            self._add(accepted, throttled, rate_then)
            self._cut(now, None)
        elif self._epoch is not None and sent_at >= self._epoch.start:
            # Still in flight at the cut: another sample of the same epoch.
            self._add(accepted, throttled, rate_then)
            self._apply()

    def _add(self, accepted: int, throttled: int, rate_then: float | None) -> None:
        epoch = self._epoch
        if epoch is None or not rate_then:
            return
        epoch.accepted += accepted
        epoch.span += (accepted + throttled) / rate_then

    def _apply(self) -> None:
        """Rate from the epoch's samples: 0.9 × Σ accepted / Σ send time."""
        epoch, s = self._epoch, self.settings
        if epoch is None or epoch.span <= 0:
            return
        # None accepted at all: R admits less than one write per span; count half a write.
        estimate = max(s.min_rate, max(epoch.accepted, 0.5) / epoch.span)
        self.state.estimate = estimate
        self.state.confident = epoch.accepted >= s.confident_accepts
        progress.budget(estimate)
        new = max(s.min_rate, min(epoch.ceiling, estimate * s.beta))
        if self.state.rate is not None and new < self.state.rate * 0.95:
            self._repace(self._clock(), new)
        else:
            self.state.rate = new

    def _cut(self, now: float, fallback: float | None) -> None:
        if fallback is not None:
            self.state.rate = max(self.settings.min_rate, fallback)
            self.state.confident = False
        else:
            self._apply()
        self.state.cuts += 1
        self._last_cut = now
        self._repace(now, self.state.rate or 1.0)
        progress.budget(self.state.estimate or self.state.rate or self.settings.min_rate)
        known = f"; the tenant admits about {self.state.estimate:.1f} writes/s" if self.state.estimate else ""
        log.info("Graph refused writes with 429 (the write budget): writes now paced at %.1f writes/s%s",
                 self.state.rate, known)

    def _repace(self, now: float, rate: float) -> None:
        """Switch to ``rate`` at once, also for callers already asleep on a slot."""
        self.state.rate = rate
        self._gen += 1
        self._last_growth = None
        self.state.sent.clear()                # measure the actual rate afresh
        # No burst credit, and one interval (of a batch like the last) before the next write:
        # the server's bucket is empty now; the next answer should measure the new rate.
        self._tat = now + (self.settings.burst_writes + self._batch_size) / rate
