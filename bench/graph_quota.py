"""Write-limiter figures: `python -m bench.graph_quota [SCALE] [WRITES]`.

PATCHes WRITES users through GraphApi.batch() against the emulator's "graph" throttle profile
(3,000 writes / 150 s per app+tenant, time-scaled) in a subprocess, and prints the budget
utilisation (accepted writes / (3,000 + refill × elapsed)) and the share of 429s.
"""

from __future__ import annotations

import os
import sys
import time
import uuid

from tenantsync.emulator.server import EmulatorServer
from tenantsync.graph import GraphApi


def main(scale: float = 20.0, n: int = 10000) -> None:
    tenant = "11111111-1111-4111-8111-111111111111"
    users = [{"id": str(uuid.UUID(int=i + 1)), "userPrincipalName": f"u{i}@contoso.com",
              "displayName": f"U{i}", "accountEnabled": True} for i in range(1000)]
    fixture = {"tenants": [{"id": tenant, "displayName": "T", "defaultDomain": "t.onmicrosoft.com",
                            "tokens": ["bench-token"], "users": users, "groups": []}]}
    os.environ["BENCH_TOKEN"] = "bench-token"
    with EmulatorServer(fixture, throttle="graph", time_scale=scale, in_process=False) as emu, \
            GraphApi({"name": "bench", "tenant_id": tenant, "graph_url": emu.url,
                      "auth": {"kind": "static_token", "token_env": "BENCH_TOKEN"}}) as api:
        started = time.monotonic()
        results = api.batch([{"method": "PATCH", "url": f"/users/{users[i % 1000]['id']}",
                              "body": {"jobTitle": f"t{i}"}} for i in range(n)])
        elapsed = time.monotonic() - started
        throttled = emu.stats()["throttled"]
        ok = sum(1 for r in results if r["status"] < 300)
        refill = 3000 / (150 / scale)
        budget = 3000 + refill * elapsed
        print(f"×{scale:g} (refill {refill:.0f}/s): {ok} writes in {elapsed:.1f} s, "
              f"utilisation {ok / budget:.1%}, "
              f"429s {throttled} ({throttled / (ok + throttled):.2%}), "
              f"learned rate {api.limiter.rate and round(api.limiter.rate)}/s, "
              f"cuts {api.limiter.state.cuts}")


if __name__ == "__main__":
    args = sys.argv[1:3]
    main(float(args[0]) if args else 20.0, int(args[1]) if len(args) > 1 else 10000)
