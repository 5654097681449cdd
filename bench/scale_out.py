"""Scale-out: three configurations write into one hub tenant at once, with one application.

    python -m bench.run --scale-out           # N = 10,000 per source, 3 workers, and the reference
    python -m bench.scale_out [N] [WORKERS] [--budget sql|prefect|adaptive] [--no-reference]

Graph gives one application in one tenant 3,000 writes per 150 s, and the tenant 18,000 writes
per 5 minutes, whatever the number of processes (throttling-limits). Here WORKERS regional source
tenants of N users each (bench/generate.py, each with its own verified domain) are synced into one
empty hub by WORKERS configurations that share the hub's application (one token, so one appId).
The emulator runs in its own process under the ``graph`` throttle profile, time-scaled by S (as in
bench/run.py); each configuration's initial cycle runs in its own OS process
(bench/scale_out_workers.py), all started at the same instant. Each process samples its Graph
client's counters every 0.2 s, which gives every configuration's writes over time. The write
budget (``--budget``): ``sql`` (default), the shared bucket every worker of ``make cluster`` uses
(flows/_budget.py); ``prefect``, a Prefect global concurrency limit on a Prefect server of its
own; ``adaptive``, none (each cycle's adaptive limiter learns its share alone).

Figures:
- utilisation: writes accepted by the hub / what the budget allowed from the first write to the
  last (the buckets start full: 3,000 + refill × elapsed, the tenant's 18,000 bucket alike);
- share_429: 429 answers / Graph calls (HTTP requests and $batch items), as bench/run.py counts;
- shares: each configuration's writes while all of them were writing (from the last one's first
  write to the first one's last), over the writes of all: a fair split is 1/WORKERS each. Over the
  whole run every configuration writes its whole tenant, so only that common window tells a fair
  split from a starved one;
- wall time of the scale-out (the last configuration done) against ONE configuration of
  WORKERS × N users into an empty hub (the same emulator settings).
Goals: utilisation ≥ 90 %, 429 share < 1 %, every share within 25 % of the others' (max / min ≤ 1.25).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.scale_out_workers import run_concurrent

ROOT = Path(__file__).resolve().parent.parent
HUB_TOKEN = "hub-token"
REGIONS = (("emea", "Contoso EMEA", "emea.contoso.com"), ("apac", "Contoso APAC", "apac.contoso.com"),
           ("amer", "Contoso Americas", "amer.contoso.com"), ("mea", "Contoso MEA", "mea.contoso.com"))
GOAL_UTILISATION = 0.90
GOAL_429_SHARE = 0.01
GOAL_SHARE_SPREAD = 1.25            # max share / min share
GOAL_PREFIX = "scale-out"           # the goals this module owns in bench/latest.json
DEFAULT_N, DEFAULT_WORKERS, DEFAULT_SCALE = 10_000, 3, 20.0


# ------------------------------------------------------------------------------------------------
# Tenants and configurations
# ------------------------------------------------------------------------------------------------

def hub_fixture(sizes: list[int], *, seed: str, groups: int) -> dict[str, Any]:
    """One source tenant per size (regions of REGIONS) and one empty hub that admits them all."""
    from bench.generate import ANCHOR_EXTENSION, anchor_app_id, det_uuid, make_tenant, partner

    hub_id = det_uuid(f"{seed}:hub-tenant")
    sources = []
    for i, n in enumerate(sizes):
        key, name, domain = REGIONS[i % len(REGIONS)]
        key = key if i < len(REGIONS) else f"{key}{i}"
        sid = det_uuid(f"{seed}:{key}-tenant")
        sources.append(make_tenant(
            tenant_id=sid, display_name=name, default_domain=f"contoso{key}.onmicrosoft.com",
            verified_domains=[domain if i < len(REGIONS) else f"{key}.contoso.com"], n_users=n,
            n_groups=groups, seed=f"{seed}:{key}", token=f"{key}-token", company_name="Contoso",
            sync_group_share=1.0, partners=[partner(hub_id, display_name="Contoso HQ", outbound=True)]))
    hub = make_tenant(
        tenant_id=hub_id, display_name="Contoso HQ", default_domain="contosohq.onmicrosoft.com",
        verified_domains=["hq.contoso.com"], n_users=0, n_groups=0, seed=f"{seed}:hub", token=HUB_TOKEN,
        partners=[partner(s["id"], display_name=s["displayName"], inbound=True, sync_inbound=True)
                  for s in sources])
    hub["applications"] = [{"appId": anchor_app_id(HUB_TOKEN), "displayName": "tenantsync",
                            "extensionProperties": [{"name": ANCHOR_EXTENSION, "dataType": "String",
                                                     "targetObjects": ["User"]}]}]
    return {"tenants": [*sources, hub]}


def write_configs(fixture: dict[str, Any], workdir: Path) -> tuple[list[Path], dict[str, str]]:
    """One configuration per source tenant into the hub (same hub token); (paths, environment)."""
    from bench.generate import sync_config_yaml

    *sources, hub = fixture["tenants"]
    paths, env = [], {"HUB_TOKEN": HUB_TOKEN}
    for source in sources:
        key = source["tokens"][0].removesuffix("-token")
        var = f"{key.upper()}_TOKEN"
        env[var] = source["tokens"][0]
        path = workdir / f"{key}-to-hq.yaml"
        path.write_text(sync_config_yaml({"tenants": [source, hub]}, name=f"{key}-to-hq", scope="all",
                                         state=f"sqlite:///{workdir / f'{key}.db'}",
                                         source_token_env=var, target_token_env="HUB_TOKEN"),
                        encoding="utf-8")
        paths.append(path)
    return paths, env


# ------------------------------------------------------------------------------------------------
# Figures
# ------------------------------------------------------------------------------------------------

def accepted_at(samples: list[list[float]], t: float) -> float:
    """Writes accepted (sent - 429s) by time ``t``, interpolated between samples."""
    prev = None
    for s in samples:
        if s[0] >= t:
            if prev is None or s[0] == prev[0]:
                return s[1] - s[2]
            f = (t - prev[0]) / (s[0] - prev[0])
            return (prev[1] - prev[2]) + f * ((s[1] - s[2]) - (prev[1] - prev[2]))
        prev = s
    return (samples[-1][1] - samples[-1][2]) if samples else 0.0


def write_span(samples: list[list[float]]) -> tuple[float, float] | None:
    """(first, last) time the writes sent moved."""
    moved = [s[0] for a, s in zip(samples, samples[1:], strict=False) if s[1] > a[1]]
    if not moved:
        return None
    first = next(a[0] for a, s in zip(samples, samples[1:], strict=False) if s[1] > a[1])
    return first, moved[-1]


def allowed_writes(seconds: float, scale: float) -> float:
    """What the hub's buckets admit over ``seconds`` from full (app+tenant and tenant)."""
    from tenantsync.emulator.throttle import Throttle as T
    return min(T.APP_WRITES + T.APP_WRITES / T.APP_WRITE_WINDOW * scale * seconds,
               T.TENANT_WRITES + T.TENANT_WRITES / T.TENANT_WRITE_WINDOW * scale * seconds)


def figures(results: list[dict[str, Any]], em: dict[str, Any], scale: float) -> dict[str, Any]:
    spans = [write_span(r["samples"]) for r in results]
    real = [s for s in spans if s]
    first, last = min(s[0] for s in real), max(s[1] for s in real)
    util = em["writes"] / allowed_writes(last - first, scale) if last > first else None
    calls = em["total_requests"] - em["by_route"].get("POST /$batch", 0) + em["batch_items"]
    lo, hi = max(s[0] for s in real), min(s[1] for s in real)     # all of them writing
    shares: list[float] = []
    if hi > lo and len(real) == len(results):
        got = [accepted_at(r["samples"], hi) - accepted_at(r["samples"], lo) for r in results]
        shares = [round(g / sum(got), 4) for g in got] if sum(got) > 0 else []
    return {"utilisation": round(util, 4) if util is not None else None,
            "share_429": round(em["429"] / calls, 5) if calls else 0.0,
            "shares": shares, "common_window_s": round(max(0.0, hi - lo), 2),
            "write_phase_s": round(last - first, 2), "writes": em["writes"], "429": em["429"],
            "calls": calls, "quota_binding": em["writes"] > 3000,
            "configs": [{"config": r["config"], "wall_s": r["wall_s"],
                         "created": r["counts"].get("create", 0),
                         "failures": r["counts"].get("failure", 0),
                         "writes_sent": r["target"]["writes"], "throttled": r["target"]["throttled"],
                         "limiter": r["limiter"]} for r in results]}


def spread(shares: list[float]) -> float | None:
    return max(shares) / min(shares) if shares and min(shares) > 0 else None


# ------------------------------------------------------------------------------------------------
# The scenario
# ------------------------------------------------------------------------------------------------

@contextmanager
def prefect_server(workdir: Path, log: Any = print) -> Iterator[dict[str, str]]:
    """A Prefect server of its own (SQLite, no UI) for the shared rate limit; yields its environment."""
    from flows.ui import Children, _wait, prefect_cmd
    from tenantsync.emulator.server import _bind

    sock = _bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    sock.close()
    home = workdir / "prefect-home"
    env = {**os.environ, "PREFECT_HOME": str(home), "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
           "PREFECT_SERVER_UI_ENABLED": "false", "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "DO_NOT_TRACK": "1", "PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW": "ignore"}
    children = Children()
    t = time.perf_counter()
    try:
        proc = children.start("Prefect server", prefect_cmd("server", "start", "--host", "127.0.0.1",
                                                            "--port", str(port)), env, home / "server.log")
        _wait(f"{env['PREFECT_API_URL']}/health", "the Prefect server", proc, 240, home / "server.log")
        log(f"[scale-out] Prefect server on port {port} in {time.perf_counter() - t:.1f} s")
        yield {k: env[k] for k in ("PREFECT_HOME", "PREFECT_API_URL", "PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW")}
    finally:
        children.stop()


def forget_limits(env: dict[str, str]) -> None:
    """Delete the server's global concurrency limits (each scenario starts with a full budget)."""
    import httpx

    api = env["PREFECT_API_URL"]
    for limit in httpx.post(f"{api}/v2/concurrency_limits/filter", json={}, timeout=30).json():
        httpx.delete(f"{api}/v2/concurrency_limits/{limit['id']}", timeout=30)


def scenario(sizes: list[int], *, scale: float, workdir: Path, seed: str, groups: int,
             budget: str = "adaptive", server_env: dict[str, str] | None = None,
             inline: bool = False, drain: bool = False, log: Any = print) -> dict[str, Any]:
    """The initial cycles of ``len(sizes)`` configurations at once into one empty hub."""
    import shutil

    from bench.generate import dumps
    from tenantsync.emulator.server import EmulatorServer

    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    fixture = hub_fixture(sizes, seed=seed, groups=groups)
    path = workdir / "fixture.json"
    path.write_text(dumps(fixture), encoding="utf-8")
    configs, env = write_configs(fixture, workdir)
    if budget == "prefect":
        if not server_env:
            raise ValueError("budget 'prefect' needs a Prefect server (prefect_server())")
        forget_limits(server_env)
        env = {**env, **server_env, "TENANTSYNC_BUDGET_URL": "prefect"}
    elif budget == "sql":
        env = {**env, "TENANTSYNC_BUDGET_URL": f"sqlite:///{workdir / 'write-budget.db'}"}
    if budget != "adaptive":
        env["TENANTSYNC_BUDGET_TIME_SCALE"] = str(scale)
    hub_id = fixture["tenants"][-1]["id"]
    del fixture
    with EmulatorServer(path, in_process=inline, throttle="graph", time_scale=scale) as em:
        env = {**env, "TENANTSYNC_GRAPH_URL": em.url}
        if drain:
            drain_writes(em.url, hub_id)
            if budget == "sql":
                drain_shared(env, hub_id, scale)
        em.reset_stats()
        t = time.time()
        results = run_concurrent(configs, env, workdir, extra={"budget": budget}, inline=inline)
        wall = max(r["ended"] for r in results) - t
        stats = em.stats()
    out = figures(results, stats, scale)
    out.update(sizes=sizes, time_scale=scale, budget=budget, wall_s=round(wall, 2),
               cycle_wall_s=round(max(r["ended"] for r in results) - min(r["started"] for r in results), 2))
    log(f"[scale-out {'+'.join(f'{n:,}' for n in sizes)}] {out['cycle_wall_s']:.1f} s, "
        f"{out['writes']:,} writes, utilisation {_pct(out['utilisation'])}, 429 share "
        f"{_pct(out['share_429'], 2)}, shares {', '.join(_pct(s) for s in out['shares'])} over "
        f"{out['common_window_s']:.1f} s")
    return out


def drain_writes(graph_url: str, hub_id: str) -> None:
    """Spend the hub's full write bucket (PATCHes of a user that does not exist: a write is charged
    before the route runs) until Graph refuses, so that a small run meets the budget at once."""
    import httpx

    body = {"requests": [{"id": str(i), "method": "PATCH", "url": "/users/drain@hq.contoso.com",
                          "headers": {"Content-Type": "application/json"}, "body": {"jobTitle": "x"}}
                         for i in range(20)]}
    with httpx.Client(base_url=graph_url, headers={"Authorization": f"Bearer {HUB_TOKEN}"},
                      timeout=60.0) as client:
        for _ in range(1000):
            answers = client.post("/$batch", json=body).json()["responses"]
            if any(int(a["status"]) == 429 for a in answers):
                return
    raise RuntimeError(f"the write bucket of hub {hub_id} never emptied")


def drain_shared(env: dict[str, str], hub_id: str, scale: float) -> None:
    """Spend the shared bucket too (its 3,000-write burst would let a small run through unpaced)."""
    from flows import _budget
    from tenantsync.graph.shared_budget import SqlBudget, budget_key

    rate = _budget.WRITES / _budget.WINDOW_S * _budget.RATE_SHARE * scale
    SqlBudget(env[_budget.URL_ENV], per_second=rate, burst=_budget.WRITES).reserve(
        budget_key(hub_id, "env-HUB_TOKEN"), _budget.WRITES)


def run(n: int = DEFAULT_N, workers: int = DEFAULT_WORKERS, *, scale: float = DEFAULT_SCALE,
        workdir: Path, seed: str = "1", groups: int = 20, budget: str = "sql",
        reference: bool = True, log: Any = print) -> dict[str, Any]:
    """The scale-out and, if ``reference``, one configuration of ``workers × n`` users alone."""
    workdir.mkdir(parents=True, exist_ok=True)
    server: AbstractContextManager[dict[str, str]] = (
        prefect_server(workdir, log) if budget == "prefect" else nullcontext({}))
    with server as server_env:
        return _run(n, workers, scale=scale, workdir=workdir, seed=seed, groups=groups, budget=budget,
                    server_env=server_env, reference=reference, log=log)


def _run(n: int, workers: int, *, scale: float, workdir: Path, seed: str, groups: int, budget: str,
         server_env: dict[str, str], reference: bool, log: Any) -> dict[str, Any]:
    log(f"[scale-out] {workers} configurations × {n:,} users into one hub, S={scale:g}, budget "
        f"{budget}, load {os.getloadavg()[0]:.2f} ...")
    common = {"scale": scale, "seed": seed, "groups": groups, "budget": budget, "server_env": server_env,
              "log": log}
    load0 = os.getloadavg()[0]
    out = scenario([n] * workers, workdir=workdir / "many", **common)
    out["loadavg"] = [round(load0, 2), round(os.getloadavg()[0], 2)]
    if reference:
        log(f"[scale-out] reference: one configuration of {workers * n:,} users ...")
        one = scenario([workers * n], workdir=workdir / "one", **common)
        out["reference"] = {k: one[k] for k in ("sizes", "cycle_wall_s", "utilisation", "share_429",
                                                "writes", "write_phase_s")}
        out["wall_ratio"] = round(out["cycle_wall_s"] / one["cycle_wall_s"], 3)
    return out


def goals(r: dict[str, Any]) -> list[tuple[bool | None, str]]:
    """(met, text) like bench.run's goals."""
    k = len(r["sizes"])
    what = f"{GOAL_PREFIX} {k} × {r['sizes'][0]:,} into one hub ({r.get('budget', 'sql')} budget)"
    u, s, sp = r["utilisation"], r["share_429"], spread(r["shares"])
    out: list[tuple[bool | None, str]] = [
        (u is not None and u >= GOAL_UTILISATION, f"{what}: aggregate write-quota utilisation ≥ 90 %: {_pct(u)}"),
        (s < GOAL_429_SHARE, f"{what}: 429 share < 1 %: {_pct(s, 2)}"),
        (sp is not None and sp <= GOAL_SHARE_SPREAD,
         f"{what}: every configuration's share within 25 % of the others' (max/min ≤ 1.25): "
         f"{', '.join(_pct(x) for x in r['shares'])}" + (f" (max/min {sp:.2f})" if sp else ""))]
    if "reference" in r:
        out.append((None, f"{what}: wall time {r['cycle_wall_s']:.1f} s against one configuration of "
                          f"{r['reference']['sizes'][0]:,} users {r['reference']['cycle_wall_s']:.1f} s "
                          f"({r['wall_ratio']:.2f}×)"))
    return out


def _pct(x: float | None, digits: int = 1) -> str:
    return "n/a" if x is None else f"{x * 100:.{digits}f} %"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(prog="python -m bench.scale_out", description=__doc__.split("\n\n")[0])
    ap.add_argument("n", nargs="?", type=int, default=DEFAULT_N, help="users per source tenant")
    ap.add_argument("workers", nargs="?", type=int, default=DEFAULT_WORKERS)
    ap.add_argument("--budget", choices=("sql", "prefect", "adaptive"), default="sql",
                    help="the shared write gate (flows/_budget.py), or none (each cycle's adaptive limiter)")
    ap.add_argument("--time-scale", type=float, default=DEFAULT_SCALE)
    ap.add_argument("--seed", default="1")
    ap.add_argument("--no-reference", action="store_true", help="skip the one-configuration reference")
    ap.add_argument("--no-latest", action="store_true", help="do not update bench/latest.json")
    args = ap.parse_args(argv)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    t = time.perf_counter()
    result = run(args.n, args.workers, scale=args.time_scale, seed=args.seed, budget=args.budget,
                 reference=not args.no_reference,
                 workdir=ROOT / "bench" / "results" / "work" / f"scale-out-{args.budget}",
                 log=lambda *a: print(*a, flush=True))
    result["total_s"] = round(time.perf_counter() - t, 1)
    items = goals(result)
    out = ROOT / "bench" / "results" / f"results-scale-out-{stamp}.json"
    out.write_text(json.dumps({"when": stamp, "scale_out": result,
                               "goals": [{"met": ok, "text": text} for ok, text in items]},
                              indent=1, ensure_ascii=False), encoding="utf-8")
    default = args.n == DEFAULT_N and args.workers == DEFAULT_WORKERS and args.budget == "sql"
    if default and not args.no_latest and not args.no_reference:
        from bench.million import merge_latest
        merge_latest("scale_out", result, items, GOAL_PREFIX)
    for met, text in items:
        print({True: "✔", False: "✘", None: "·"}[met], text)
    print(f"results: {out.relative_to(ROOT)}; total {result['total_s'] / 60:.1f} min", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
