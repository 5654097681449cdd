"""Seeded fault injection for /v1.0 calls (never for /_emulator).

Spec string: `rate=0.1,codes=429:503:504:drop,latency_ms=5,seed=7` (every key optional;
codes default to 429:503:504); also accepted: the same as JSON (`{"rate": 0.1, "codes":
["503", "drop"]}`) or the path of a file holding either. A share `rate` of calls is answered with one of `codes`, picked by a
random.Random(seed), so the same sequence of calls meets the same faults. `drop` closes the
connection without an answer; inside $batch, where no connection can be dropped, it becomes a 504.
`latency_ms` is added to every /v1.0 HTTP request.

What a fault answer carries (`fault_headers`): an injected 429 models a refusal for some other
reason than the tenant's budgets (a gateway or one busy backend), so it has a short Retry-After
and none of the `x-ms-throttle-scope` / `x-ms-throttle-information` headers that the `graph`
throttle profile (throttle.py) puts on a budget's 429 (Microsoft's "Microsoft Graph
service-specific throttling limits", identity and access). A 503 has a Retry-After too.
"""

from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass, field
from typing import Any

_ALLOWED = {"429", "500", "502", "503", "504", "drop"}


@dataclass
class FaultSpec:
    """Parsed fault settings."""

    rate: float = 0.0
    codes: tuple[str, ...] = ("429", "503", "504")
    latency_ms: int = 0
    seed: int | None = None
    text: str = field(default="", compare=False)

    @property
    def active(self) -> bool:
        """True when some calls may fail."""
        return self.rate > 0 and bool(self.codes)


def parse_spec(spec: str | dict | FaultSpec | None) -> FaultSpec:
    """Parse a spec string or dict; ValueError names the bad part."""
    if spec is None or spec == "" or spec == {}:
        return FaultSpec()
    if isinstance(spec, FaultSpec):
        return spec
    if isinstance(spec, str) and not spec.lstrip().startswith("{") and "=" not in spec \
            and os.path.isfile(spec):
        with open(spec, encoding="utf-8") as fh:       # a file holding the spec
            spec = fh.read().strip()
    if isinstance(spec, str) and spec.lstrip().startswith("{"):
        try:
            spec = json.loads(spec)                     # JSON text: {"rate": 0.1, ...}
        except ValueError as exc:
            raise ValueError(f"fault spec: invalid JSON ({exc})") from None
        if not isinstance(spec, dict):
            raise ValueError("fault spec: JSON must be an object")
    if isinstance(spec, dict):
        items: dict[str, Any] = dict(spec)
        text = ",".join(f"{k}={v}" for k, v in spec.items())
    else:
        items, text = {}, spec
        for part in spec.split(","):
            part = part.strip()
            if not part:
                continue
            key, sep, value = part.partition("=")
            if not sep:
                raise ValueError(f"fault spec: '{part}' is not key=value")
            items[key.strip()] = value.strip()
    out = FaultSpec(text=text)
    for key, value in items.items():
        if key == "rate":
            out.rate = float(value)
            if not 0 <= out.rate <= 1:
                raise ValueError("fault spec: rate must be between 0 and 1")
        elif key == "codes":
            codes = value if isinstance(value, (list, tuple)) else str(value).split(":")
            codes = tuple(str(c).strip().lower() for c in codes if str(c).strip())
            bad = [c for c in codes if c not in _ALLOWED]
            if bad:
                raise ValueError(f"fault spec: unknown code(s) {', '.join(bad)} "
                                 f"(allowed: {', '.join(sorted(_ALLOWED))})")
            out.codes = codes
        elif key == "latency_ms":
            out.latency_ms = int(value)
            if out.latency_ms < 0:
                raise ValueError("fault spec: latency_ms must be >= 0")
        elif key == "seed":
            out.seed = None if value in (None, "") else int(value)
        else:
            raise ValueError(f"fault spec: unknown key '{key}' "
                             "(allowed: rate, codes, latency_ms, seed)")
    return out


FAULT_RETRY_AFTER_S = 1


def fault_headers(code: str) -> dict[str, str]:
    """Headers of an injected error answer (module doc): never Graph's budget headers."""
    return {"Retry-After": str(FAULT_RETRY_AFTER_S)} if code in ("429", "503") else {}


class Faults:
    """Draws the fault (or none) of each call."""

    def __init__(self, spec: str | dict | FaultSpec | None = None) -> None:
        self.spec = parse_spec(spec)
        self.rng = random.Random(self.spec.seed)

    def draw(self) -> str | None:
        """The fault code for the next call ('429', '503', 'drop', ...) or None."""
        if not self.spec.active:
            return None
        if self.rng.random() >= self.spec.rate:
            return None
        return self.rng.choice(self.spec.codes)
