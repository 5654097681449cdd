"""The emulator's own capacity on this machine, measured with httpx from the benchmark process.

So that a reader can tell whether a figure measures the engine or the emulator: if the engine's
request rate in a scenario is near these numbers, the emulator was the limit.

- ``users_pages``: ``GET /v1.0/users?$top=999`` pages (following ``@odata.nextLink``);
- ``delta_pages``: ``GET /v1.0/users/delta`` pages of a full round (what the engine reads);
- ``batch_patch``: ``POST /v1.0/$batch`` with 20 ``PATCH /users/{id}`` items each.

Each is run for ``seconds`` with ``concurrency`` clients in flight (the connector's default
max_concurrency is 4), against an emulator without throttling (so only its speed is measured).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import httpx


async def _drive(seconds: float, concurrency: int,
                 one: Callable[[httpx.AsyncClient, int], Awaitable[int]], base: str,
                 token: str) -> dict[str, Any]:
    """Run ``one(client, n)`` in ``concurrency`` loops for ``seconds``; ``one`` returns units done."""
    headers = {"Authorization": f"Bearer {token}"}
    stop = time.perf_counter() + seconds
    counts = {"requests": 0, "units": 0, "errors": 0}
    latencies: list[float] = []
    last_error: list[str | None] = [None]

    async def loop(k: int, client: httpx.AsyncClient) -> None:
        n = k
        while time.perf_counter() < stop:
            t = time.perf_counter()
            try:
                done = await one(client, n)     # (not `+= await`: that loses updates)
                counts["units"] += done
                counts["requests"] += 1
                latencies.append(time.perf_counter() - t)
            except (httpx.HTTPError, RuntimeError) as exc:
                counts["errors"] += 1
                last_error[0] = str(exc)[:200]
            n += concurrency

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60.0,
                                 limits=limits) as client:
        t0 = time.perf_counter()
        await asyncio.gather(*(loop(k, client) for k in range(concurrency)))
        elapsed = time.perf_counter() - t0
    latencies.sort()
    return {"requests_per_s": round(counts["requests"] / elapsed, 1),
            "units_per_s": round(counts["units"] / elapsed, 1),
            "requests": counts["requests"], "errors": counts["errors"],
            "p50_ms": round(1000 * latencies[len(latencies) // 2], 1) if latencies else None,
            "elapsed_s": round(elapsed, 2), "concurrency": concurrency,
            **({"last_error": last_error[0]} if last_error[0] else {})}


def measure(url: str, token: str, user_ids: Sequence[str], *, seconds: float = 3.0,
            concurrency: int = 4) -> dict[str, Any]:
    """Capacity figures against the emulator at ``url`` (``.../v1.0``) for tenant ``token``."""
    base = url.rstrip("/")
    ids = list(user_ids)

    async def users_page(client: httpx.AsyncClient, n: int, *, path: str = "/users?$top=999") -> int:
        # Walk the pages in turn: page k of the listing is the k-th nextLink.
        link = state.setdefault((path, n % concurrency), [None])   # one walk per client loop
        nxt = link[0]
        r = await client.get(nxt or f"{base}{path}")
        r.raise_for_status()
        body = r.json()
        link[0] = body.get("@odata.nextLink")
        return len(body.get("value", []))

    async def delta_page(client: httpx.AsyncClient, n: int) -> int:
        return await users_page(client, n, path="/users/delta?$select=id,displayName,jobTitle")

    async def batch_patch(client: httpx.AsyncClient, n: int) -> int:
        start = (n * 20) % max(1, len(ids))
        chunk = [ids[(start + j) % len(ids)] for j in range(20)]
        body = {"requests": [{"id": str(j), "method": "PATCH", "url": f"/users/{uid}",
                              "headers": {"Content-Type": "application/json"},
                              "body": {"officeLocation": f"Capacity {n}"}}
                             for j, uid in enumerate(chunk)]}
        r = await client.post(f"{base}/$batch", json=body)
        r.raise_for_status()
        statuses = [item.get("status", 500) for item in r.json().get("responses", [])]
        bad = [s for s in statuses if s >= 300]
        if bad:
            raise RuntimeError(f"$batch items failed: {sorted(set(bad))}")
        return len(statuses)

    state: dict[tuple[str, int], list[str | None]] = {}
    out: dict[str, Any] = {}
    for name, fn in (("users_pages", users_page), ("delta_pages", delta_page),
                     ("batch_patch", batch_patch)):
        state.clear()
        out[name] = asyncio.run(_drive(seconds, concurrency, fn, base, token))
    out["single_client_batch_patch"] = asyncio.run(_drive(seconds / 2, 1, batch_patch, base, token))
    return out
