"""1,000,000 users: restart in step and an incremental cycle, on a target generated already in step.

    python -m bench.million                          # N = 100,000 (the reference), then 1,000,000
    python -m bench.million --sizes 1000000 --changes 1000
    python -m bench.run --million                    # the same, from the benchmark's entry point

An initial cycle of a million users would take hours against Graph's write quota (2 writes per user
at 20 writes/s, throttling-limits) and minutes even time-scaled; what the goal is about is what
comes after it. So nothing is provisioned: the tenants and the state store are built directly, as
the engine would have left them after its initial cycle, and the cycles that follow are measured.

What is built, and from what:
- the source tenant: ``bench.generate.fixture_source_users`` (the users of ``make_fixture``'s
  source tenant, one at a time, the same ones the 100,000-user benchmark generates), no groups
  (the configuration's scope is ``all``: a cycle reads no group);
- the target tenant: for each user in scope and enabled, the B2B user the engine would have
  created: the invitation's shape (UPN ``<mail local>_<domain>#EXT#@<initial domain>``, mail,
  otherMails, creationType Invitation, externalUserState Accepted: invitation-post, and the
  emulator's tenantsync/emulator/invitations.py) with the values of the configuration's own
  mappings (``MappingPlan.map_user`` of the engine, on create, as the create's PATCH writes them)
  and the anchor extension (``stages.matching.anchor_value``);
- the emulator, in its own process as in bench/run.py, builds both tenants from that stream
  in its own memory (no fixture file: a million-user fixture is gigabytes of JSON, parsed whole);
  its memory (VmRSS/VmHWM) is reported;
- the state store, built meanwhile by a second process from the same stream with bulk inserts:
  one active link per created user, one snapshot per source user (the users/delta item the
  engine stores: its ``$select``, projected as Graph does), the configuration fingerprint
  (tenantsync/fingerprint.py) and one cycle row; then the users delta link, asked of the
  emulator with ``$deltatoken=latest`` (delta-query-overview: a token for "from now", no data).

Then, each in a fresh child process (bench/scenarios.py, as bench/run.py does), with the
emulator's counters zeroed first: an incremental cycle with no change (its kind must be
"incremental": the built watermark is accepted; 0 writes), one with 1,000 changes (PATCHed in the
source through Graph before the cycle, not counted), and a restart (a new initial cycle on the
target in step: every user read and compared, 0 writes). The same run at 100,000 users with the
same builder gives the like-for-like reference of the ratio. Results go to
bench/results/results-million-<ts>.json and into bench/latest.json under ``million``, with the
goals (✔/✘) put among its ``goals``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
LATEST = ROOT / "bench" / "latest.json"
DEFAULT_SIZES = (100_000, 1_000_000)
REFERENCE_SIZE = 100_000
GOAL_SIZE = 1_000_000
GOAL_RATIO = 10.0                 # time at 1,000,000 ≤ 10 × the 100,000-user figure
GOAL_RSS_MB = 1536.0              # peak RSS of the engine process at 1,000,000 users (1.5 GB)
GOAL_PREFIX = "1,000,000 users"   # the goals this module owns in latest.json
BUILT_AT = "2026-01-05T09:30:00Z"  # createdDateTime of the built target users (fixed: deterministic)
CHUNK = 20_000                    # store rows per bulk insert
CANDIDATES = 20_000               # source ids kept for the changes (spread over the tenant)


# ------------------------------------------------------------------------------------------------
# What the engine would have written (derived from the configuration, no engine run)
# ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Shape:
    """The engine's view of one configuration, as far as a built tenant needs it."""

    select: tuple[str, ...]       # users/delta $select of the source (EntraSource), "id" first
    manager: bool                 # the mappings hold the manager: users/delta is asked for it too
    mapping: Any                  # the engine's MappingPlan, UPNs in their B2B form
    anchor: str                   # the anchor extension's full name
    source_tenant: str
    target_domain: str            # the target's initial domain (B2B UPNs end with it)

    @classmethod
    def of(cls, cfg: Any, target_domain: str) -> Shape:
        from tenantsync.references import maps_manager
        from tenantsync.stages.mapping import MappingPlan, b2b_upn
        from tenantsync.stages.writable import split_writable

        if cfg.scope.mode != "all" or cfg.scope.filters:
            raise NotImplementedError("the in-step builder knows scope 'all' without scoping filters only")
        if not cfg.settings.anchor_attribute:
            raise ValueError("the in-step builder needs settings.anchor_attribute (bench.generate sets it)")
        mappings, _ = split_writable(cfg.effective_mappings)      # never written (stages/writable.py)
        reads = MappingPlan(mappings)
        # EntraSource's $select: id, the mappings' source attributes, the scoping filters' attributes
        select = tuple(dict.fromkeys(["id", *reads.source_attributes, *cfg.scope.filter_attributes]))
        plan = MappingPlan(mappings, upn_transform=lambda upn: b2b_upn(upn, target_domain))
        return cls(select, maps_manager(mappings), plan, cfg.settings.anchor_attribute,
                   cfg.connection(cfg.source.connection).tenant_id, target_domain)

    def snapshot(self, user: dict[str, Any]) -> dict[str, Any]:
        """The users/delta item the engine reads and stores (unset collections [], others null).
        A user without a manager has no ``manager@delta`` (delta-query-overview), hence no key."""
        from tenantsync.emulator.odata import project
        from tenantsync.emulator.schema import USERS
        if "manager" in user:
            raise NotImplementedError("the in-step builder does not build manager references")
        return project(user, self.select, USERS)

    @property
    def delta_select(self) -> tuple[str, ...]:
        """What EntraSource.user_pages asks users/delta for."""
        return (*self.select, "manager") if self.manager else self.select

    @staticmethod
    def created(user: dict[str, Any]) -> bool:
        """Scope 'all': every member is in scope; a disabled user is not provisioned, nor one whose
        SMS sign-in is ready (cross-tenant synchronization skips those, tenantsync/sms.py)."""
        return (user.get("accountEnabled") is True and user.get("userType") == "Member"
                and user.get("smsSignInState") != "ready")

    def target_user(self, snap: dict[str, Any], target_id: str) -> dict[str, Any]:
        """The B2B user the engine's create leaves: the invitation's user, then the create's PATCH
        (every mapped value that is not empty: provision-on-demand "Known limitations") and the anchor."""
        from tenantsync.stages.matching import anchor_value

        values = self.mapping.map_user(snap, creating=True).values
        email = snap.get("mail") or snap.get("userPrincipalName") or ""
        local, _, domain = email.rpartition("@")
        upn = f"{local}_{domain}#EXT#@{self.target_domain}"
        user: dict[str, Any] = {
            "id": target_id, "userPrincipalName": upn, "mailNickname": upn.split("@")[0],
            "displayName": values.get("displayName") or snap.get("displayName") or local,
            "mail": email, "otherMails": [email], "userType": "Guest", "accountEnabled": True,
            "creationType": "Invitation", "externalUserState": "Accepted",
            "externalUserStateChangeDateTime": BUILT_AT, "createdDateTime": BUILT_AT}
        user.update((k, v) for k, v in values.items() if v not in (None, "", []))
        user[self.anchor] = anchor_value(self.source_tenant, snap["id"])
        return user


def target_ids(seed: str) -> Iterator[str]:
    """Object ids of the built target users, from their own seeded stream (bench/generate.py style)."""
    rng = random.Random(f"tenantsync:{seed}:built-target-ids")
    while True:
        yield str(uuid.UUID(int=rng.getrandbits(128), version=4))


def stream(n: int, seed: str, shape: Shape) -> Iterator[tuple[dict[str, Any], dict[str, Any], str | None]]:
    """(source user, its snapshot, the id of its target user or None) for each of the n users."""
    from bench.generate import fixture_source_users

    ids = target_ids(seed)
    for user in fixture_source_users(n, seed=seed):
        snap = shape.snapshot(user)
        yield user, snap, (next(ids) if shape.created(user) else None)


def load_cfg(config: Path) -> Any:
    from tenantsync.config import load_config
    return load_config(config)


def shells(seed: str) -> dict[str, Any]:
    """make_fixture's two tenants without users or groups: domains, tokens, policies, the anchor
    extension registered on the target token's application."""
    from bench.generate import make_fixture
    return make_fixture(n_users=0, n_groups=0, seed=seed)


# ------------------------------------------------------------------------------------------------
# The emulator process: tenants built in its memory, then served
# ------------------------------------------------------------------------------------------------

def _status_mb(pid: int | str = "self") -> dict[str, float]:
    """VmRSS and VmHWM of a process, in MB (0 when it is gone)."""
    out = {"rss_mb": 0.0, "hwm_mb": 0.0}
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    out["rss_mb"] = round(int(line.split()[1]) / 1024, 1)
                elif line.startswith("VmHWM:"):
                    out["hwm_mb"] = round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return out


def populate(emulator: Any, fixture: dict[str, Any], shape: Shape, n: int, seed: str) -> dict[str, Any]:
    """Add the n source users and their target users to a running emulator's directory, as the
    fixture loader does (tenantsync/emulator/fixture.py: fixture-only fields apart, record=False:
    part of the initial state, so no delta round reports them)."""
    from tenantsync.emulator.schema import USER_FIXTURE_ONLY

    source = emulator.directory.tenant(fixture["tenants"][0]["id"])
    target = emulator.directory.tenant(fixture["tenants"][1]["id"])
    created = 0
    for user, snap, tid in stream(n, seed, shape):
        extra = {k: user.pop(k) for k in USER_FIXTURE_ONLY if k in user}
        source.add_user(user, record=False)
        if extra:
            source.fixture_fields[user["id"]] = extra
        if tid is not None:
            target.add_user(shape.target_user(snap, tid), record=False)
            created += 1
    return {"source_users": len(source.users), "target_users": len(target.users), "created": created}


def serve(args: argparse.Namespace) -> int:
    """``_serve``: build the tenants in this process, write the build report, serve on --fd."""
    import uvicorn

    from tenantsync.emulator.app import build_app, create_emulator
    from tenantsync.emulator.server import _config  # the settings EmulatorServer's process uses

    t0 = time.perf_counter()
    gc.disable()                  # millions of acyclic dicts: the collector would only cost time
    fixture = shells(args.seed)
    emulator = create_emulator(fixture, throttle=args.throttle, time_scale=args.time_scale)
    shape = Shape.of(load_cfg(args.config), fixture["tenants"][1]["defaultDomain"])
    counts = populate(emulator, fixture, shape, args.users, args.seed)
    del shape
    gc.collect()
    gc.freeze()                   # as tenantsync/emulator/core.py does for a large fixture
    gc.enable()
    report = {**counts, "build_s": round(time.perf_counter() - t0, 1), "pid": os.getpid(), **_status_mb()}
    Path(args.report).write_text(json.dumps(report), encoding="utf-8")
    sock = socket.socket(fileno=args.fd)
    uvicorn.Server(_config(build_app(emulator))).run(sockets=[sock])
    return 0


def _emulator_server_class() -> type:
    from tenantsync.emulator.server import EmulatorServer

    class BuiltEmulator(EmulatorServer):
        """EmulatorServer whose process builds its tenants from the generator (``_serve``) instead of
        reading a fixture file; control API, counters and stop() are EmulatorServer's."""

        def __init__(self, config: Path, *, n_users: int, seed: str, throttle: str | None,
                     time_scale: float, report: Path, startup_timeout: float = 3600.0) -> None:
            self.build = {"config": str(config), "users": str(n_users), "seed": seed, "report": str(report)}
            super().__init__({}, in_process=False, throttle=throttle, time_scale=time_scale,
                             startup_timeout=startup_timeout)

        def _start_process(self, throttle: str | None, time_scale: float, faults: Any,
                           latency_ms: int, timeout: float) -> None:
            b = self.build
            fd_num = self._bound().fileno()
            cmd = [sys.executable, "-m", "bench.million", "_serve", "--fd", str(fd_num),
                   "--config", b["config"], "--users", b["users"], "--seed", b["seed"],
                   "--report", b["report"], "--time-scale", str(time_scale)]
            if throttle:
                cmd += ["--throttle", throttle]
            log_fd, log_path = tempfile.mkstemp(prefix="tenantsync-million-emulator-", suffix=".log")
            self._tmp.append(log_path)
            env = {**os.environ, "PYTHONPATH": str(ROOT)}
            self._proc = subprocess.Popen(cmd, pass_fds=[fd_num], stdout=log_fd, stderr=log_fd,
                                          stdin=subprocess.DEVNULL, env=env, cwd=ROOT)
            os.close(log_fd)
            report = Path(b["report"])
            deadline = time.monotonic() + timeout
            import httpx
            with httpx.Client(timeout=5.0) as probe:
                while True:
                    if self._proc.poll() is not None:
                        raise RuntimeError("the emulator process exited while building:\n"
                                           + Path(log_path).read_text(errors="replace")[-3000:])
                    if report.exists():          # built: probe only now (no stale probes queued)
                        try:
                            if probe.get(f"{self.base}/_emulator/health").status_code == 200:
                                break
                        except httpx.HTTPError:
                            pass
                    if time.monotonic() > deadline:
                        raise TimeoutError("the emulator process did not build its tenants in time")
                    time.sleep(0.2)
            self._bound().close()
            self._sock = None

    return BuiltEmulator


# ------------------------------------------------------------------------------------------------
# The state store, built by its own process from the same stream
# ------------------------------------------------------------------------------------------------

def build_store(config: Path, n: int, seed: str, candidates_path: Path) -> dict[str, Any]:
    """Links, snapshots, fingerprint and one cycle row, as an initial cycle leaves them (the delta
    link comes later, from the emulator). Writes a spread sample of linked source ids."""
    from tenantsync.fingerprint import fingerprint
    from tenantsync.store import JobStatus, Link, Store

    t0 = time.perf_counter()
    gc.disable()
    cfg = load_cfg(config)
    shape = Shape.of(cfg, shells(seed)["tenants"][1]["defaultDomain"])
    store = Store(cfg.state_url)
    name = cfg.name
    cycle_id = store.start_cycle(name, "initial")
    now = datetime.now(UTC)
    snaps: dict[str, dict[str, Any]] = {}
    links: list[Any] = []
    linked: list[str] = []
    step = max(1, n // CANDIDATES)
    created = 0
    for i, (_, snap, tid) in enumerate(stream(n, seed, shape)):
        snaps[snap["id"]] = snap
        if tid is not None:
            links.append(Link(snap["id"], tid, "active", None, now))
            created += 1
            if i % step == 0:
                linked.append(snap["id"])
        if len(snaps) >= CHUNK:
            store.save_snapshots(name, snaps)
            store.upsert_links(name, links)
            snaps, links = {}, []
    store.save_snapshots(name, snaps)
    store.upsert_links(name, links)
    built_s = time.perf_counter() - t0
    skipped = n - created
    counts = {"create": created, "update": 0, "delete": 0, "disable": 0, "stagedDelete": 0,
              "other": skipped, "success": created, "failure": 0, "skipped": skipped, "warning": 0}
    store.save_config_fingerprint(name, fingerprint(cfg), cycle_id)
    store.finish_cycle(name, cycle_id, counts=counts, status="success",
                       job=JobStatus("Active", last_execution=now, last_successful_execution=now),
                       error="built in step by bench/million.py (no initial cycle ran)")
    store.close()
    candidates_path.write_text("\n".join(linked), encoding="utf-8")
    return {"users": n, "links": created, "snapshots": n, "store_s": round(built_s, 1),
            **_status_mb()}


def save_watermark(config: Path, graph_url: str, token: str) -> str:
    """The users delta link "from now" (``$deltatoken=latest``, delta-query-overview), asked with
    the engine's $select and page size (GraphApi.delta: Prefer odata.maxpagesize=999)."""
    import httpx

    from tenantsync.store import Store

    cfg = load_cfg(config)
    select = Shape.of(cfg, "unused.onmicrosoft.com").delta_select
    r = httpx.get(f"{graph_url}/users/delta", params={"$select": ",".join(select), "$deltatoken": "latest"},
                  headers={"Authorization": f"Bearer {token}", "Prefer": "odata.maxpagesize=999"}, timeout=60)
    r.raise_for_status()
    link = r.json()["@odata.deltaLink"]
    store = Store(cfg.state_url)
    try:
        store.save_watermarks(cfg.name, {"users": link})
    finally:
        store.close()
    return str(link)


# ------------------------------------------------------------------------------------------------
# One size: build, then measure
# ------------------------------------------------------------------------------------------------

def prepare(workdir: Path, seed: str) -> Path:
    """An emptied workdir with the benchmark's configuration (bench/generate.py), state in it."""
    import shutil

    from bench.generate import sync_config_yaml
    from bench.run import CONFIG_NAME

    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    config = workdir / "bench.yaml"
    config.write_text(sync_config_yaml(shells(seed), name=CONFIG_NAME, scope="all",
                                       state=f"sqlite:///{workdir / 'state.db'}"), encoding="utf-8")
    return config


def start_store_builder(config: Path, n: int, seed: str, workdir: Path) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "bench.million", "_store", "--config", str(config), "--users", str(n),
           "--seed", seed, "--out", str(workdir / "store-build.json")]
    return subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def run_size(n: int, *, seed: str, scale: float, workdir: Path, changes: Sequence[int],
             log: Any = print) -> dict[str, Any]:
    """Build N users in step, then the incremental cycles and the restart (module doc)."""
    from bench.run import SOURCE_TOKEN, TARGET_TOKEN, EngineRunner, SizeRun

    t_all = time.perf_counter()
    config = prepare(workdir, seed)
    out: dict[str, Any] = {"n": n, "seed": seed, "time_scale": scale}
    log(f"[N={n:,}] building the tenants (emulator process) and the state store (second process) ...")
    t = time.perf_counter()
    builder = start_store_builder(config, n, seed, workdir)
    cls = _emulator_server_class()
    try:
        em = cls(config, n_users=n, seed=seed, throttle="graph", time_scale=scale,
                 report=workdir / "emulator-build.json")
    except BaseException:
        builder.kill()
        builder.wait()
        raise
    with em:
        emu_pid = em._proc.pid if em._proc else None
        out["emulator_build"] = json.loads((workdir / "emulator-build.json").read_text(encoding="utf-8"))
        text, _ = builder.communicate()
        if builder.returncode != 0:
            raise RuntimeError(f"the store builder failed ({builder.returncode}):\n{text[-3000:]}")
        out["store_build"] = json.loads((workdir / "store-build.json").read_text(encoding="utf-8"))
        save_watermark(config, em.url, SOURCE_TOKEN)
        out["build_s"] = round(time.perf_counter() - t, 1)
        out["state_db_mb"] = round((workdir / "state.db").stat().st_size / 2**20, 1)
        eb, sb = out["emulator_build"], out["store_build"]
        log(f"[N={n:,}]    built in {out['build_s']} s: {eb['source_users']:,} source users, "
            f"{eb['target_users']:,} target users in step (emulator {eb['build_s']} s, RSS "
            f"{eb['rss_mb']:,.0f} MB); store {sb['links']:,} links, {sb['snapshots']:,} snapshots "
            f"({sb['store_s']} s, {out['state_db_mb']:,.0f} MB)")
        candidates = (workdir / "candidates.txt").read_text(encoding="utf-8").split()
        env = {"SOURCE_TOKEN": SOURCE_TOKEN, "TARGET_TOKEN": TARGET_TOKEN, "TENANTSYNC_GRAPH_URL": em.url}
        run = SizeRun(n=n, scale=scale, workdir=workdir, groups=0, seed=seed, log=log)
        run.em, run.em_pid, run.engine = em, emu_pid, EngineRunner(workdir, env)
        run.change_round = 0
        run.out["incremental"] = []
        for k in changes:
            run.incremental(candidates, k)
            kind = run.out["incremental"][-1]["cycles"][0]["kind"]
            if kind != "incremental":
                raise RuntimeError(f"the cycle on the built state was {kind!r}, not incremental: the built "
                                   "watermark or fingerprint was not accepted")
        out["incremental"] = run.out["incremental"]
        run.restart()
        out["restart"] = run.out["restart"]
        out["emulator_memory"] = {**_status_mb(emu_pid or 0), "after_build": {
            "rss_mb": eb["rss_mb"], "hwm_mb": eb["hwm_mb"]}}
        out["emulator_final_stats"] = {k: v for k, v in em.stats().items() if k != "by_route"}
    out["derived"] = derive(out)
    out["size_total_s"] = round(time.perf_counter() - t_all, 1)
    return out


def derive(r: dict[str, Any]) -> dict[str, Any]:
    rs = r["restart"]["derived"]
    inc = {i["derived"]["changes"]: i for i in r["incremental"]}
    peak = max([r["restart"]["peak_rss_mb"], *(i["peak_rss_mb"] for i in r["incremental"])])
    return {"restart_wall_s": rs["wall_s"], "restart_cpu_s": rs["cpu_s"], "restart_cpu_ms_per_user": rs["cpu_ms_per_user"],
            "restart_requests": rs["requests"], "restart_writes": rs["writes"],
            "restart_peak_rss_mb": r["restart"]["peak_rss_mb"],
            "incremental": {str(k): {"wall_s": v["derived"]["wall_s"], "cpu_s": v["derived"]["cpu_s"],
                                     "requests": v["derived"]["requests"],
                                     "writes": v["derived"]["writes"], "updated": v["derived"]["updated"],
                                     "peak_rss_mb": v["peak_rss_mb"]} for k, v in inc.items()},
            "engine_peak_rss_mb": peak,
            "emulator_rss_mb": r["emulator_memory"]["rss_mb"],
            "emulator_hwm_mb": r["emulator_memory"]["hwm_mb"]}


# ------------------------------------------------------------------------------------------------
# Goals, table, latest.json
# ------------------------------------------------------------------------------------------------

def goals(runs: list[dict[str, Any]], changes: int = 1000) -> list[tuple[bool | None, str]]:
    by_n = {r["n"]: r for r in runs if "derived" in r}
    big, ref = by_n.get(GOAL_SIZE), by_n.get(REFERENCE_SIZE)
    failed = next((r for r in runs if r.get("n") == GOAL_SIZE and "error" in r), None)
    out: list[tuple[bool | None, str]] = []
    if big is None:
        why = f"not measured: {failed['error']}" if failed else "not run (python -m bench.million)"
        return [(False if failed else None, f"{GOAL_PREFIX}: restart in step and incremental cycle of "
                                            f"{changes:,} changes ≤ 10× the 100,000-user figure, peak RSS ≤ 1.5 GB: {why}")]
    b = big["derived"]
    if ref is not None:
        f = ref["derived"]
        # Met when the wall time and the engine's CPU time both grow ≤ 10×: on a machine shared
        # with other work the wall time swings with the neighbours' load, the CPU time does not.
        ratio, cpu = _ratio(b["restart_wall_s"], f["restart_wall_s"]), _ratio(b["restart_cpu_s"], f["restart_cpu_s"])
        out.append((max(ratio, cpu) <= GOAL_RATIO and b["restart_writes"] == 0,
                    f"{GOAL_PREFIX}: restart in step ≤ 10× the 100,000-user figure: {b['restart_wall_s']:.1f} s "
                    f"against {f['restart_wall_s']:.1f} s ({ratio:.1f}×; engine CPU {cpu:.1f}×, "
                    f"{b['restart_cpu_ms_per_user']:.3f} ms per user), {b['restart_writes']} writes, "
                    f"{b['restart_requests']:,} requests"))
        bi, fi = b["incremental"].get(str(changes)), f["incremental"].get(str(changes))
        if bi and fi:
            ratio, cpu = _ratio(bi["wall_s"], fi["wall_s"]), _ratio(bi["cpu_s"], fi["cpu_s"])
            out.append((max(ratio, cpu) <= GOAL_RATIO,
                        f"{GOAL_PREFIX}: incremental cycle of {changes:,} changes ≤ 10× the 100,000-user figure: "
                        f"{bi['wall_s']:.2f} s against {fi['wall_s']:.2f} s ({ratio:.1f}×; engine CPU {cpu:.1f}×), "
                        f"{bi['requests']} requests against {fi['requests']}"))
    else:
        out.append((None, f"{GOAL_PREFIX}: restart {b['restart_wall_s']:.1f} s: no 100,000-user reference in "
                          "this run (add 100000 to --sizes)"))
    out.append((b["engine_peak_rss_mb"] <= GOAL_RSS_MB,
                f"{GOAL_PREFIX}: peak RSS ≤ 1.5 GB (engine process, VmHWM): {b['engine_peak_rss_mb']:,.0f} MB "
                f"(restart {b['restart_peak_rss_mb']:,.0f} MB)"))
    out.append((None, f"{GOAL_PREFIX}: the emulator's own memory (both tenants, {big['emulator_build']['source_users']:,}"
                      f" + {big['emulator_build']['target_users']:,} users): {b['emulator_rss_mb']:,.0f} MB RSS, "
                      f"peak {b['emulator_hwm_mb']:,.0f} MB"))
    return out


def _ratio(big: float, ref: float) -> float:
    return big / ref if ref else float("inf")


def table(runs: list[dict[str, Any]]) -> str:
    done = [r for r in runs if "derived" in r]
    if not done:
        return ""
    rows: list[tuple[str, list[str]]] = []

    def add(label: str, fn: Any) -> None:
        cells = []
        for r in done:
            try:
                cells.append(fn(r))
            except (KeyError, TypeError, ZeroDivisionError):
                cells.append("-")
        rows.append((label, cells))

    d = lambda r: r["derived"]
    add("built in step: source / target users", lambda r: f"{r['emulator_build']['source_users']:,} / "
                                                        f"{r['emulator_build']['target_users']:,}")
    add("built in step: wall time (s) / state store (MB)", lambda r: f"{r['build_s']:,.0f} / {r['state_db_mb']:,.0f}")
    add("restart in step: wall time (s)", lambda r: f"{d(r)['restart_wall_s']:,.1f}")
    add("restart in step: engine CPU (s) / per user (ms)",
        lambda r: f"{d(r)['restart_cpu_s']:,.1f} / {d(r)['restart_cpu_ms_per_user']:.3f}")
    add("restart in step: begin / read+plan / finish (s)",
        lambda r: "{:.1f} / {:.1f} / {:.1f}".format(*(r["restart"]["cycles"][0]["stages"][k] or 0 for k in
                                                   ("begin_s", "read_plan_s", "finish_s"))))
    add("restart in step: requests / writes", lambda r: f"{d(r)['restart_requests']:,} / {d(r)['restart_writes']}")
    for k in sorted({int(k) for r in done for k in d(r)["incremental"]}):
        add(f"incremental, {k:,} changes: wall (s) / requests / writes",
            lambda r, k=k: "{wall_s:.2f} / {requests} / {writes}".format(**d(r)["incremental"][str(k)]))
    add("peak RSS, engine (MB): restart / incremental",
        lambda r: f"{d(r)['restart_peak_rss_mb']:,.0f} / "
                  f"{max(v['peak_rss_mb'] for v in d(r)['incremental'].values()):,.0f}")
    add("emulator RSS (MB): after build / end / peak",
        lambda r: f"{r['emulator_build']['rss_mb']:,.0f} / {d(r)['emulator_rss_mb']:,.0f} / {d(r)['emulator_hwm_mb']:,.0f}")
    headers = ["in step, no initial cycle"] + [f"N = {r['n']:,}" for r in done]
    w0 = max(len(headers[0]), *(len(label) for label, _ in rows))
    ws = [max(len(h), *(len(c[i]) for _, c in rows)) for i, h in enumerate(headers[1:])]
    line = lambda cells: "| " + " | ".join([cells[0].ljust(w0)] + [c.rjust(w) for c, w in zip(cells[1:], ws)]) + " |"
    out = [line(headers), "|" + "|".join(["-" * (w0 + 2)] + ["-" * (w + 1) + ":" for w in ws]) + "|"]
    return "\n".join(out + [line([label, *cells]) for label, cells in rows])


def merge_latest(section: str, result: dict[str, Any], goal_items: list[tuple[bool | None, str]],
                 prefix: str, path: Path = LATEST) -> None:
    """Put ``result`` under ``section`` of latest.json and its goals in ``goals`` (the goals whose text
    starts with ``prefix`` replaced), keeping everything else of the last full run."""
    latest = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {"goals": []}
    latest[section] = result
    kept = [g for g in latest.get("goals", []) if not str(g.get("text", "")).startswith(prefix)]
    latest["goals"] = kept + [{"met": ok, "text": text} for ok, text in goal_items]
    path.write_text(json.dumps(latest, indent=1, ensure_ascii=False), encoding="utf-8")


def copy_to_latest(results: Path, latest: Path = LATEST) -> None:
    """A full run's results become latest.json, with the ``million`` and ``latency`` sections (and
    their goals) of the last ones kept: those scenarios run on their own (bench.run --million,
    --latency), so a full run that did not run them does not drop their figures."""
    from bench.latency import GOAL_PREFIX as LATENCY_PREFIX
    from bench.scale_out import GOAL_PREFIX as SCALE_OUT_PREFIX

    new = json.loads(results.read_text(encoding="utf-8"))
    old = json.loads(latest.read_text(encoding="utf-8")) if latest.exists() else {}
    for section, prefix in (("million", GOAL_PREFIX), ("latency", LATENCY_PREFIX),
                            ("scale_out", SCALE_OUT_PREFIX)):
        if section in old and section not in new:
            new[section] = old[section]
            new["goals"] = [g for g in new.get("goals", []) if not str(g.get("text", "")).startswith(prefix)] + [
                g for g in old.get("goals", []) if str(g.get("text", "")).startswith(prefix)]
    latest.write_text(json.dumps(new, indent=1, ensure_ascii=False), encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["_serve"]:
        sp = argparse.ArgumentParser(prog="bench.million _serve")
        for flag in ("--config", "--seed", "--report", "--throttle"):
            sp.add_argument(flag, default=None)
        sp.add_argument("--fd", type=int, required=True)
        sp.add_argument("--users", type=int, required=True)
        sp.add_argument("--time-scale", type=float, default=1.0)
        return serve(sp.parse_args(argv[1:]))
    if argv[:1] == ["_store"]:
        sp = argparse.ArgumentParser(prog="bench.million _store")
        sp.add_argument("--config", type=Path, required=True)
        sp.add_argument("--users", type=int, required=True)
        sp.add_argument("--seed", required=True)
        sp.add_argument("--out", type=Path, required=True)
        a = sp.parse_args(argv[1:])
        res = build_store(a.config, a.users, a.seed, a.out.parent / "candidates.txt")
        a.out.write_text(json.dumps(res), encoding="utf-8")
        return 0
    from bench.run import choose_scale, dirty_files, git_commit, machine, render_goals

    ap = argparse.ArgumentParser(prog="python -m bench.million", description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default=",".join(str(n) for n in DEFAULT_SIZES),
                    help="comma-separated user counts (default 100000,1000000: the reference, then the goal)")
    ap.add_argument("--changes", type=int, default=1000, help="source changes of the measured incremental cycle")
    ap.add_argument("--seed", default="1")
    ap.add_argument("--time-scale", type=float, default=None, help="throttle windows divided by this (default: "
                                                                    "bench.run.choose_scale, 50 above 20,000 users)")
    ap.add_argument("--out", type=Path, default=None, help="results JSON (default bench/results/results-million-<ts>.json)")
    ap.add_argument("--no-latest", action="store_true", help="do not update bench/latest.json")
    args = ap.parse_args(argv)
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    info = machine()
    print(f"tenantsync benchmark, built in step — sizes {', '.join(f'{n:,}' for n in sizes)}; "
          f"{info['nproc']} cores, {info['mem_gb']} GB, load average {info['loadavg_start'][0]}", flush=True)
    started = time.perf_counter()
    runs: list[dict[str, Any]] = []
    for n in sizes:
        try:
            runs.append(run_size(n, seed=args.seed, scale=choose_scale(n, args.time_scale),
                                 workdir=RESULTS / "work" / f"million-n{n}", changes=(0, args.changes),
                                 log=lambda *a: print(*a, flush=True)))
        except Exception as exc:       # a size that does not fit: reported with what stood in the way
            print(f"[N={n:,}] failed: {exc}", flush=True)
            runs.append({"n": n, "error": f"{type(exc).__name__}: {str(exc)[-1500:]}"})
    info["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    goal_items = goals(runs, args.changes)
    result: dict[str, Any] = {
        "when": stamp, "command": "python -m bench.million " + " ".join(argv), "commit": git_commit(),
        "dirty": dirty_files(), "machine": info, "total_s": round(time.perf_counter() - started, 1), "runs": runs,
        "table": table(runs), "goals": [{"met": ok, "text": text} for ok, text in goal_items]}
    out = args.out or RESULTS / f"results-million-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, ensure_ascii=False), encoding="utf-8")
    if not args.no_latest and args.out is None and GOAL_SIZE in sizes:
        merge_latest("million", result, goal_items, GOAL_PREFIX)
    print()
    print(result["table"])
    print()
    print(render_goals(goal_items))
    print(f"\nresults: {out}; total {result['total_s'] / 60:.1f} min", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
