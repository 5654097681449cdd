"""A run's progress in figures, and the process-local hub that hands them to whoever shows them.

The figures: source pages read, users read, writes applied of the writes planned, the measured
write rate and an ETA. Creates and updates are applied between pages (pipeline.py), so while pages
are read the total grows ("of 2,400+"); after decide it is exact (removals wait for decide).

They are shown by the command line's progress bar (app/progress.py subscribes to the hub) and the
Prefect progress artifact (flows/_cycle.py); they come from the stage loop's observer
(flows/_cycle.py), and from the layers that alone know the rest: the Graph writes sent and the
write rate the limiter learned (graph/quota.py), and every wait with its reason (graph/core.py,
graph/batch.py, the on-demand window in tasks/limits.py).

ETA: the writes left divided by the measured rate, never sooner than the write budget allows.
Graph's budget is 3,000 writes per 150 s per app and tenant, a bucket that starts full
(docs/entra-behaviour.md#throttling); once the write limiter has learned the rate the tenant
admits, that rate is the bound. One planned write may cost more than one Graph write (a create:
the invitation, then the update): the bound uses Graph writes sent per write applied.

Nothing here imports Prefect (tests/structure/test_engine_boundary.py).
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

WRITE_KINDS = ("create", "update", "delete", "disable")
BUDGET_WRITES, BUDGET_WINDOW_S = 3000, 150.0       # docs/entra-behaviour.md#throttling
RATE_WINDOW_S = 60.0                               # the measured rate looks this far back
SHOWN_WAIT_S = 1.0                                 # shorter waits are not worth showing


@dataclass(frozen=True)
class Snapshot:
    """Where a run stands; ``text()`` is the one line the artifact and the logs use."""

    label: str
    kind: str = ""
    stage: str = "starting"       # starting, reading, applying, approval, done
    pages: int = 0
    users: int = 0
    planned: int = 0              # writes planned so far (exact once decided)
    decided: bool = False
    applied: int = 0              # writes applied (whatever their outcome)
    batches: int = 0
    batches_total: int = 0        # 0 until decide
    statuses: Mapping[str, int] = field(default_factory=dict)
    rate: float | None = None     # writes applied per second, recently
    eta_s: float | None = None
    elapsed_s: float = 0.0
    wait: str = ""                # what the run waits for now, and why
    wait_left_s: float = 0.0

    @property
    def total(self) -> int:
        return max(self.planned, self.applied)

    @property
    def fraction(self) -> float:
        if self.stage == "done":
            return 1.0
        return self.applied / self.total if self.total else 0.0

    def writes_text(self) -> str:
        more = "" if self.decided else "+"
        return f"writes {self.applied:,} of {self.total:,}{more}"

    def rate_text(self) -> str:
        return f"{self.rate:,.1f} writes/s" if self.rate else "-- writes/s"

    def eta_text(self) -> str:
        if self.stage == "done":
            return f"done in {clock(self.elapsed_s)}"
        return f"ETA {clock(self.eta_s)}" + ("" if self.decided or self.eta_s is None else "+")

    def read_text(self) -> str:
        return f"{self.pages:,} page(s) read, {self.users:,} user(s)"

    def text(self) -> str:
        parts = [self.read_text(), self.writes_text(), self.rate_text(), self.eta_text()]
        if self.wait:
            parts.append(self.wait)
        return "; ".join(parts)


def clock(seconds: float | None) -> str:
    """1:02:03, 2:03, or -- when unknown."""
    if seconds is None:
        return "--:--"
    s = int(round(seconds))
    h, rest = divmod(s, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


def kind_counts(kinds: Mapping[str, int]) -> tuple[Counter[str], Counter[str]]:
    """``{"create:success": 3, ...}`` (tasks/stages.py) as counts by action kind and by status."""
    by_kind: Counter[str] = Counter()
    by_status: Counter[str] = Counter()
    for key, n in kinds.items():
        kind, _, status = str(key).partition(":")
        by_kind[kind] += int(n)
        by_status[status or "success"] += int(n)
    return by_kind, by_status


def planned_writes(kinds: Mapping[str, int]) -> int:
    """Writes among planned actions: create, update, delete, disable still to do (status success)."""
    return sum(int(n) for key, n in kinds.items()
               if str(key).partition(":")[0] in WRITE_KINDS and str(key).partition(":")[2] == "success")


class Tracker:
    """One run's figures. Thread-safe: the Graph layer reports from its own loop thread."""

    def __init__(self, label: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.label = label
        self._clock = clock
        self._lock = threading.Lock()
        self._started = clock()
        self.kind = ""
        self.stage = "starting"
        self.pages = self.users = self.planned = self.applied = self.batches = self.batches_total = 0
        self.decided = False
        self.statuses: Counter[str] = Counter()
        self.plan: Counter[str] = Counter()         # planned actions by kind (exact after decide)
        self.graph_writes = 0                        # Graph writes sent (graph/quota.py)
        self.learned_rate: float | None = None       # writes/s the limiter learned (graph/quota.py)
        self._points: deque[tuple[float, int]] = deque()
        self._wait: tuple[str, float] = ("", 0.0)    # reason, until

    # -- what the stage loop reports (flows/_cycle.py) -------------------------------------------
    def begun(self, kind: str) -> Snapshot:
        with self._lock:
            self.kind, self.stage = kind, "reading"
        return self.publish()

    def page(self, users: int, kinds: Mapping[str, int]) -> Snapshot:
        with self._lock:
            self.pages += 1
            self.users += users
            self.planned += planned_writes(kinds)
            self.plan.update(kind_counts(kinds)[0])
        return self.publish()

    def decide(self, remaining: int, batches: int, plan: Mapping[str, int] | None = None) -> Snapshot:
        """Decide is done: ``remaining`` writes in ``batches`` batches are left; ``plan`` (kinds,
        when the stages know them all) replaces the sum of the pages'."""
        with self._lock:
            self.decided, self.stage = True, "applying"
            self.planned = self.applied + remaining
            self.batches_total = self.batches + batches
            if plan is not None:
                self.plan = kind_counts(plan)[0]
        return self.publish()

    def approval(self, waiting: bool) -> Snapshot:
        with self._lock:
            self.stage = "approval" if waiting else "applying"
        return self.publish()

    def batch(self, writes: int, kinds: Mapping[str, int], elapsed: float = 0.0) -> Snapshot:
        """A batch of ``writes`` was applied in ``elapsed`` seconds (the first one starts the rate)."""
        with self._lock:
            now = self._clock()
            if not self._points and elapsed > 0:
                self._points.append((now - elapsed, self.applied))
            self.batches += 1
            self.applied += writes
            self.statuses.update(kind_counts(kinds)[1])
            self._points.append((now, self.applied))
            while len(self._points) > 2 and now - self._points[1][0] >= RATE_WINDOW_S:
                self._points.popleft()
        return self.publish()

    def done(self) -> Snapshot:
        with self._lock:
            self.stage, self._wait = "done", ("", 0.0)
        return self.publish()

    # -- what the Graph layer reports (graph/quota.py, core.py, batch.py) -----------------------
    def sent(self, writes: int) -> None:
        with self._lock:
            self.graph_writes += writes

    def budget(self, writes_per_s: float) -> None:
        with self._lock:
            self.learned_rate = writes_per_s

    def waiting(self, seconds: float, reason: str) -> Snapshot | None:
        with self._lock:
            self._wait = (reason, self._clock() + seconds)
        return self.publish() if seconds >= SHOWN_WAIT_S else None

    # -- figures ---------------------------------------------------------------------------------
    def rate(self) -> float | None:
        """Writes applied per second over the last minute (from the first batch on)."""
        points = self._points
        if len(points) < 2:
            return None
        (t0, a0), (t1, a1) = points[0], points[-1]
        span = max(t1, self._clock()) - t0 if self.stage != "done" else t1 - t0
        return (a1 - a0) / span if span > 0 and a1 > a0 else None

    def eta(self, rate: float | None) -> float | None:
        """Seconds left for the writes planned: measured rate, bounded by the budget (module doc)."""
        left = max(self.planned - self.applied, 0)
        if not left:
            return 0.0 if self.applied else None
        measured = left / rate if rate else None
        bound = None
        refill = BUDGET_WRITES / BUDGET_WINDOW_S
        if self.graph_writes and self.applied:
            per_write = self.graph_writes / self.applied
            if self.learned_rate:
                bound = left * per_write / self.learned_rate
            elif self.graph_writes <= BUDGET_WRITES + refill * (self._clock() - self._started):
                # Nothing refused yet: what is left of the full bucket goes first. (More sent than
                # the bucket holds and nothing refused: this tenant's budget is larger; no bound.)
                spare = max(BUDGET_WRITES - self.graph_writes, 0)
                bound = max(left * per_write - spare, 0.0) / refill
        known = [e for e in (measured, bound) if e is not None]
        return max(known) if known else None

    def snapshot(self) -> Snapshot:
        with self._lock:
            now = self._clock()
            reason, until = self._wait
            if reason and until <= now:
                reason, until = "", 0.0
                self._wait = ("", 0.0)
            rate = self.rate()
            return Snapshot(label=self.label, kind=self.kind, stage=self.stage, pages=self.pages,
                            users=self.users, planned=self.planned, decided=self.decided,
                            applied=self.applied, batches=self.batches, batches_total=self.batches_total,
                            statuses=dict(self.statuses), rate=rate, eta_s=self.eta(rate),
                            elapsed_s=now - self._started, wait=reason, wait_left_s=max(until - now, 0.0))

    def publish(self) -> Snapshot:
        snap = self.snapshot()
        _publish(snap)
        return snap


# -- the hub ---------------------------------------------------------------------------------------

_lock = threading.Lock()
_sinks: list[Callable[[Snapshot], None]] = []
_active: list[Tracker] = []


def subscribe(sink: Callable[[Snapshot], None]) -> Callable[[], None]:
    """Call ``sink`` with every snapshot published in this process; returns the unsubscribe."""
    with _lock:
        _sinks.append(sink)

    def unsubscribe() -> None:
        with _lock:
            if sink in _sinks:
                _sinks.remove(sink)
    return unsubscribe


def _publish(snap: Snapshot) -> None:
    with _lock:
        sinks = list(_sinks)
    for sink in sinks:
        try:
            sink(snap)
        except Exception:          # a display must never break a run
            pass


@contextmanager
def tracking(tracker: Tracker) -> Iterator[Tracker]:
    """While inside, the Graph layer's reports go to ``tracker`` (the innermost one)."""
    with _lock:
        _active.append(tracker)
    try:
        yield tracker
    finally:
        with _lock:
            if tracker in _active:
                _active.remove(tracker)


def current() -> Tracker | None:
    with _lock:
        return _active[-1] if _active else None


def sent(writes: int) -> None:
    """Graph writes sent (graph/quota.py)."""
    if (t := current()) is not None:
        t.sent(writes)


def budget(writes_per_s: float) -> None:
    """The write rate the tenant admits, as the limiter learned it (graph/quota.py)."""
    if (t := current()) is not None:
        t.budget(writes_per_s)


def waiting(seconds: float, reason: str) -> None:
    """The run waits ``seconds`` because of ``reason`` ("Graph answered 429: Retry-After 3 s");
    outside a tracked run (the on-demand window after its cycle) the wait alone is published."""
    if (t := current()) is not None:
        t.waiting(seconds, reason)
    elif seconds >= SHOWN_WAIT_S:
        _publish(Snapshot(label="", stage="waiting", wait=reason, wait_left_s=seconds))


__all__ = ["Snapshot", "Tracker", "budget", "clock", "current", "kind_counts", "planned_writes", "sent",
           "subscribe", "tracking", "waiting"]
