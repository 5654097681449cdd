"""Which 429s speak for the tenant's write budget, and which refuse one request only.

A 429 from Graph's identity budgets says which budget ran dry (Microsoft's "Microsoft Graph
service-specific throttling limits", identity and access service limits): ``x-ms-throttle-scope``
(``<Tenant_Application|Tenant|Application>/<Read|Write|ReadWrite>/<app>/<tenant>``) and
``x-ms-throttle-information`` (``WriteLimitExceeded``, ``ResourceUnitLimitExceeded``,
``CPULimitExceeded`` ...). A 429 without them comes from elsewhere (a gateway, one busy backend)
and refuses that request: "Microsoft Graph throttling guidance" asks for a retry after its
Retry-After, nothing more. Such refusals are *unattributed*; the write limiter (quota.py) retries
them without cutting its rate, unless their spread says otherwise (``Spread``): a wall of them (most
of one answer, several whole requests in a row, a large share of the recent writes) is treated like
the budget's own 429s, since a server that throttles without saying why still throttles.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

BUDGET_LIMITS = ("Write", "ReadWrite")


def _header(headers: Mapping[str, Any] | None, name: str) -> str:
    if not headers:
        return ""
    value = headers.get(name)
    if value is None:                     # $batch item headers: server-chosen casing
        lowered = name.lower()
        value = next((v for k, v in headers.items() if str(k).lower() == lowered), None)
    if isinstance(value, (list, tuple)):
        value = value[0] if value else None
    return str(value).strip() if value is not None else ""


def is_budget_refusal(headers: Mapping[str, Any] | None) -> bool:
    """True when a 429 names the budget it comes from (x-ms-throttle-information ending in
    ``LimitExceeded``, or an x-ms-throttle-scope on writes); False for a bare 429."""
    info = _header(headers, "x-ms-throttle-information")
    if info.endswith("LimitExceeded"):
        return True
    parts = _header(headers, "x-ms-throttle-scope").split("/")
    return len(parts) >= 2 and parts[1] in BUDGET_LIMITS


@dataclass
class SpreadSettings:
    window: int = 20                 # answers (not whole refusals) the recent share is taken over
    item_wall_share: float = 0.5     # one answer with at least this share refused ...
    item_wall_min: int = 4           # ... and at least this many writes refused: a wall
    whole_in_a_row: int = 3          # whole requests refused one after another: a wall
    window_share: float = 0.25       # unattributed share of the window's writes: a wall
    window_min_writes: int = 40      # ... once the window holds this many writes
    long_retry_after: float = 10.0   # a bare 429 asking for longer than this holds every write


class Spread:
    """The last answers' unattributed refusals: a few random ones, or a wall?"""

    def __init__(self, settings: SpreadSettings | None = None) -> None:
        self.settings = settings or SpreadSettings()
        self._answers: deque[tuple[int, int]] = deque(maxlen=self.settings.window)
        self._whole_run = 0              # whole requests refused (unattributed) in a row

    def observe(self, writes: int, refused: int, whole: bool) -> bool:
        """File one answer (``refused`` of its ``writes`` got a bare 429); True for a wall."""
        s = self.settings
        self._whole_run = self._whole_run + 1 if whole and refused else 0
        if whole and refused:            # judged by their runs only: one is a whole $batch
            return self._whole_run >= s.whole_in_a_row
        self._answers.append((writes, refused))
        if not refused:
            return False
        if refused >= max(s.item_wall_min, s.item_wall_share * writes):
            return True
        total = sum(w for w, _ in self._answers)
        share = sum(r for _, r in self._answers) / total if total else 0.0
        return total >= s.window_min_writes and share >= s.window_share
