"""Chaos: an initial cycle of N users through 10 % faults, killed at random moments, run again until done.

    python -m bench.run --only chaos         # the scenario alone, inside the benchmark's harness
    python -m bench.chaos [N]                # the same, printed on its own

N synthetic source users (bench/generate.py), an empty target, the Graph emulator in its own
process (`graph` throttle profile, time scale S). First a clean initial cycle gives the reference
target. Then the emulator is reset and answers 10 % of the calls (HTTP requests and $batch items)
with 429, 503, 504 or a dropped connection (a dropped $batch item becomes a 504); the engine runs
in a child process (bench/scenarios.py) that is killed with SIGKILL at a random moment of its
cycle, ``KILLS`` times; then cycles run (faults still on, never killed) until one ends without a
failure and nothing is left in escrow. An object that failed waits in escrow for its retry time (40
minutes, then longer: tenantsync/store/escrows.py), so before each rerun the escrows' retry time is
brought to now: the rerun stands for the cycle that comes once it has passed. Nothing is unlocked,
repaired or restarted by hand.

Criteria (✔/✘), read back from the emulator's target tenant and the state store:
- the target equals the clean run's (same users, keyed by anchor, same attribute values);
- 0 orphans: no B2B account without anchor or without link;
- 0 duplicates: one account per source user;
- a complete provisioning log: a create row for every account tenantsync created;
- no cycle left ``running`` (killed ones closed as ``crashed``);
- no manual unlock: every rerun started without help.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

N = 5000
FAULTS = "rate=0.1,codes=429:503:504:drop,seed={seed}"
KILLS = 3
MAX_RERUNS = 6
KILL_WINDOW_S = (0.5, 8.0)        # the first kill: after the cycle record appears (reading)
IGNORED = ("id", "createdDateTime", "refreshTokensValidFromDateTime", "externalUserStateChangeDateTime",
           "lastPasswordChangeDateTime", "onPremisesLastSyncDateTime", "deletedDateTime")


def _accounts(em: Any, tenant: str) -> list[dict[str, Any]]:
    return [u for u in em.dump(tenant)["users"] if "#EXT#" in (u.get("userPrincipalName") or "")]


def _shape(accounts: list[dict[str, Any]], anchor: str) -> dict[str, dict[str, Any]]:
    return {u[anchor]: {k: v for k, v in u.items() if k not in IGNORED and "DateTime" not in k}
            for u in accounts if u.get(anchor)}


def _store(workdir: Path) -> Any:
    from tenantsync.store import Store
    return Store(f"sqlite:///{workdir / 'state.db'}")


def _write_config(workdir: Path, fixture: dict[str, Any], name: str) -> None:
    from bench.generate import sync_config_yaml
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "bench.yaml").write_text(
        sync_config_yaml(fixture, name=name, scope="all", state=f"sqlite:///{workdir / 'state.db'}"),
        encoding="utf-8")


def _links(store: Any, config: str) -> int:
    return store.count_links(config, states=("active", "pending", "disabled"))


def _killed_run(workdir: Path, env: dict[str, str], rng: random.Random, config: str, label: str,
                *, after_links: int | None) -> dict[str, Any]:
    """One engine job in a child process, SIGKILLed at a random moment once its cycle began:
    ``after_links`` None -- a random time in the read phase (KILL_WINDOW_S); else once that many
    more users are linked (in the write phase), plus a random fraction of a second."""
    from bench.run import ROOT
    job = {"config": str(workdir / "bench.yaml"), "env": env, "cycles": [{}]}
    job_path = workdir / f"job-{label}.json"
    job_path.write_text(json.dumps(job), encoding="utf-8")
    store = _store(workdir)
    linked0 = _links(store, config)
    proc = subprocess.Popen([sys.executable, "-m", "bench.scenarios", str(job_path), str(workdir / f"r-{label}.json")],
                            cwd=ROOT, env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    began = None
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and proc.poll() is None:
            if any(c["status"] == "running" for c in store.cycles(config)):
                began = time.monotonic()
                break
            time.sleep(0.1)
        if after_links is None:
            delay = rng.uniform(*KILL_WINDOW_S)
            while proc.poll() is None and began is not None and time.monotonic() - began < delay:
                time.sleep(0.05)
        else:
            while proc.poll() is None and time.monotonic() < deadline \
                    and _links(store, config) - linked0 < after_links:
                time.sleep(0.05)
            time.sleep(rng.uniform(0.0, 0.5))
        finished = proc.poll() is not None
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        linked = _links(store, config) - linked0
    finally:
        store.close()
    return {"killed_after_s": None if began is None else round(time.monotonic() - began, 2),
            "finished_before_kill": finished, "linked_by_it": linked}


def run(n: int = N, *, scale: float = 20.0, workdir: Path, seed: str = "1", groups: int = 20,
        fault_seed: int = 7, log: Any = print) -> dict[str, Any]:
    from bench.generate import anchor_attribute, fresh_fixture
    from bench.run import CONFIG_NAME, SOURCE_TOKEN, TARGET_TOKEN, EngineRunner
    from tenantsync.emulator.server import EmulatorServer

    fixture, fixture_path = fresh_fixture(workdir, n_users=n, n_groups=groups, seed=seed)
    anchor, target = anchor_attribute(fixture), fixture["tenants"][1]["id"]
    before = {u["id"] for u in fixture["tenants"][1]["users"]}
    ref_dir, chaos_dir = workdir / "reference", workdir / "chaos"
    _write_config(ref_dir, fixture, CONFIG_NAME)
    _write_config(chaos_dir, fixture, CONFIG_NAME)
    del fixture
    rng = random.Random(fault_seed)
    out: dict[str, Any] = {"n": n, "time_scale": scale, "faults": FAULTS.format(seed=fault_seed), "kills": []}
    t_all = time.perf_counter()
    with EmulatorServer(fixture_path, in_process=False, throttle="graph", time_scale=scale) as em:
        env = {"SOURCE_TOKEN": SOURCE_TOKEN, "TARGET_TOKEN": TARGET_TOKEN, "TENANTSYNC_GRAPH_URL": em.url}
        log(f"[chaos N={n:,}] reference: a clean initial cycle ...")
        t = time.perf_counter()
        EngineRunner(ref_dir, env).run([{}], label="reference")
        out["reference_s"] = round(time.perf_counter() - t, 1)
        reference = _shape(_accounts(em, target), anchor)
        em.reset()
        em.set_faults(out["faults"])
        t = time.perf_counter()
        for k in range(KILLS):
            # the first in the read phase, the others in the write phase after a random share of users
            after = None if k == 0 else rng.randint(1, max(1, n // (KILLS + 1)))
            kill = _killed_run(chaos_dir, env, rng, CONFIG_NAME, f"kill{k}", after_links=after)
            out["kills"].append(kill)
            log(f"[chaos N={n:,}] run {k + 1} killed {kill['killed_after_s']} s into its cycle, after "
                f"linking {kill['linked_by_it']:,} users" + (" (it had finished)" if kill["finished_before_kill"] else ""))
        reruns = []
        runner = EngineRunner(chaos_dir, env)
        for k in range(MAX_RERUNS):
            c = runner.run([{}], label=f"rerun{k}")["cycles"][0]
            reruns.append({"kind": c["kind"], "wall_s": c["wall_s"], "counts": c["counts"],
                           "retries": c["graph_target"].get("retries")})
            log(f"[chaos N={n:,}] rerun {k + 1}: {c['kind']}, {c['wall_s']:.1f} s, "
                f"{c['counts'].get('create', 0)} created, {c['counts'].get('failure', 0)} failures")
            store = _store(chaos_dir)
            if not c["counts"].get("failure") and not store.count_escrows(CONFIG_NAME):
                break
            # a failed object waits in escrow (40 min, then longer) for a later cycle: the next rerun
            # stands for the cycle that comes when its retry time has passed
            store.retry_escrows_at(CONFIG_NAME, datetime.now(UTC))
        out["reruns"] = reruns
        out["chaos_s"] = round(time.perf_counter() - t, 1)
        stats = em.stats()
        out["faults_injected"] = {k: v for k, v in stats.items() if k in ("by_status", "faults")}
        em.set_faults("")
        accounts = _accounts(em, target)
    store = _store(chaos_dir)
    try:
        links = {link.target_id: link for link in store.links(CONFIG_NAME).values()}
        cycles = store.cycles(CONFIG_NAME)
        created_rows = {r["targetIdentity.id"] for r in store.log(CONFIG_NAME, action="create")}
    finally:
        store.close()
    got = _shape(accounts, anchor)
    created = {u["id"] for u in accounts} - before
    statuses: dict[str, int] = {}
    for c in cycles:
        statuses[c["status"]] = statuses.get(c["status"], 0) + 1
    out.update(
        accounts=len(accounts), reference_accounts=len(reference),
        differing=sorted(set(got) ^ set(reference) | {a for a in set(got) & set(reference)
                                                        if got[a] != reference[a]})[:20],
        orphans=[u["id"] for u in accounts if not u.get(anchor) or u["id"] not in links][:20],
        duplicates=len(accounts) - len({u.get(anchor) or u["id"] for u in accounts}),
        missing_create_rows=sorted(created - created_rows)[:20],
        n_missing_create_rows=len(created - created_rows),
        cycle_statuses=statuses, reruns_needed=len(reruns), total_s=round(time.perf_counter() - t_all, 1))
    out["criteria"] = criteria(out)
    out["checks"] = checks(out)
    return out


def checks(r: dict[str, Any]) -> list[tuple[bool, str, str]]:
    """(met, criterion, measured) for each criterion of the module doc."""
    statuses = ", ".join(f"{v} {k}" for k, v in sorted(r["cycle_statuses"].items()))
    return [
        (not r["differing"] and r["accounts"] == r["reference_accounts"], "target equals a clean run's",
         f"{r['accounts']:,} accounts vs {r['reference_accounts']:,}, {len(r['differing'])} differing"),
        (not r["orphans"], "0 orphan accounts (no anchor or no link)", f"{len(r['orphans'])}"),
        (r["duplicates"] == 0, "0 duplicate accounts", f"{r['duplicates']}"),
        (r["n_missing_create_rows"] == 0, "a create row for every created account",
         f"{r['n_missing_create_rows']} missing"),
        (not r["cycle_statuses"].get("running"), "no cycle left running", statuses),
        (bool(r["reruns"]) and not r["reruns"][-1]["counts"].get("failure"), "done without a manual unlock",
         f"{len(r['kills'])} kills, then {r['reruns_needed']} rerun(s), the last without failures"),
    ]


def criteria(r: dict[str, Any]) -> list[tuple[bool, str]]:
    """bench.run's goals: (met, text)."""
    return [(ok, f"chaos N={r['n']:,}: {what}: {measured}") for ok, what, measured in checks(r)]


def table_rows(r: dict[str, Any]) -> list[tuple[str, str]]:
    """(figure, value) rows for bench.run's table."""
    kills = ", ".join("done" if k["finished_before_kill"] else f"{k['killed_after_s']} s ({k['linked_by_it']:,} linked)"
                      for k in r["kills"])
    return [("chaos: faults", r["faults"]),
            ("chaos: kills (time into the cycle, users it linked)", kills),
            ("chaos: reruns until done (wall s each)", " / ".join(f"{x['wall_s']:.1f}" for x in r["reruns"])),
            ("chaos: time, reference / chaos (s)", f"{r['reference_s']} / {r['chaos_s']}"),
            ("chaos: cycles by status", ", ".join(f"{v} {k}" for k, v in sorted(r["cycle_statuses"].items())))]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    n = int(argv[0]) if argv else N
    root = Path(__file__).resolve().parent / "results" / "work"
    result = run(n, workdir=root / f"chaos-n{n}", log=lambda *a: print(*a, flush=True))
    for label, value in table_rows(result):
        print(f"{label}: {value}")
    for met, text in result["criteria"]:
        print(("✔ " if met else "✘ ") + text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
