"""Both provisioners on the same scenario: the sample tenants, an initial cycle, a rename and a
user leaving scope in the source, the next cycle. Once with ``provisioner: engine``
(data/configs/emea-to-hq.yaml) and once with ``provisioner: entra``
(data/configs/emea-to-hq-entra.yaml), each on a fresh emulator, through the sync-cycle flow the
command line runs. The target tenant (the emulator's dump) and the reports must agree.

Where they legitimately differ, and how the test checks it:
- the configuration's name, hence the reports' folder, the cycle ids and the job id (the engine's
  jobId is its own configuration's job, the service's the synchronization job's id);
- the anchor: each writes ``<source tenant>/<source object id>`` into a directory extension
  ``extension_<appId>_tenantsyncSourceAnchor`` registered on its own application: the engine's on
  HQ's application (settings.anchor_extension), the emulated service's on the sync application
  (an emulator decision: Microsoft's service keeps its links to itself); the compared properties
  leave directory extensions out, and the test asserts the two names;
- the target object ids (each run creates its own users): users are compared by their source, and
  a deleted user's UPN without the object-id prefix a soft delete gives it;
- incremental cycles: the engine's incremental cycle is the run itself; the service's are its own
  schedule (PT40M, 8 s at this time scale), the run reporting each cycle since the last one reported,
  so the service may report the change in one of several cycles (and when its schedule ran a cycle
  before the changes were made, a next run reports the cycle that has them): the rows of every
  cycle after the initial one are compared;
- the log's activity times, ids, change ids and durations;
- the engine logs, in every cycle, one warning row about no object (AttributeNotWritableInGraph:
  the default showInAddressList mapping is not written through Graph, the user resource page says
  "Do not use in Microsoft Graph"); Microsoft's service sets it inside Entra and logs no such row.
  The rows and counts are compared without it, and the test asserts it.
In the emulator both create the users through the same engine (an invitation with automatic
redemption: creationType Invitation). Microsoft's service creates synchronized members instead; the
README's "Choosing a provisioner" says so.
"""

from __future__ import annotations

import csv
import json
import os
import re
import time
from collections import Counter
from pathlib import Path
from typing import Any

os.environ.update({"EMEA_TOKEN": "emea-token", "HQ_TOKEN": "hq-token",
                   "TENANTSYNC_SERVICE_POLL_S": "0.2", "TENANTSYNC_SERVICE_FOLLOW_S": "60"})

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "data" / "samples" / "tenants.json"
CONFIGS = {"engine": ROOT / "data" / "configs" / "emea-to-hq.yaml",
           "entra": ROOT / "data" / "configs" / "emea-to-hq-entra.yaml"}
EMEA, HQ = "2cee517d-601a-44f9-82ff-f26697be201f", "7242482c-0038-4818-b3af-70b2766b9f27"
CTS_GROUP = "15dd8750-8a60-4194-afda-cad956a8afdd"
RENAMED = "2c61be39-a49f-4975-a086-bbe7b399a465"        # Zoë Schmidt, in scope
TIME_SCALE = 300.0            # the job's PT40M schedule: a cycle every 8 s
# What an object in HQ is compared by (every property a mapping writes, and the B2B state).
COMPARED = ("displayName", "givenName", "surname", "userType", "accountEnabled", "mail", "userPrincipalName",
            "jobTitle", "department", "companyName", "country", "city", "employeeId", "mobilePhone",
            "officeLocation", "postalCode", "state", "streetAddress", "usageLocation", "preferredLanguage",
            "creationType", "externalUserState", "otherMails", "showInAddressList")
ANCHOR = re.compile(r"^extension_[0-9a-f]{32}_tenantsyncSourceAnchor$")

pytestmark = [pytest.mark.prefect, pytest.mark.timeout(240)]


@pytest.fixture(scope="module")
def harness():
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


def run_flow(fn: Any, **params: Any) -> dict[str, Any]:
    state = fn(return_state=True, **params)
    data = state.result(raise_on_failure=False)
    result = getattr(data, "result", data)
    out = result.as_dict() if hasattr(result, "as_dict") else dict(result)
    assert state.is_completed(), (state.message, out.get("message"))
    return out


def rows_of(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


def seen_since(folder: Path, first: str) -> set[str]:
    """The source objects the reports log in the cycles after ``first``."""
    _, cycles = rows_of(folder / "cycles.csv")
    return {r["sourceIdentity.id"] for c in cycles if c["cycleId"] != first
            for r in rows_of(folder / c["cycleId"] / "provisioning-log.csv")[1]}


def scenario(provisioner: str, tmp: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The scenario on a fresh emulator; what a user notices afterwards."""
    from flows.setup import setup_config
    from flows.sync import sync_cycle
    from tenantsync.config import load_config
    from tenantsync.emulator.server import EmulatorServer
    from tenantsync.graph.api import GraphApi

    world = json.loads(SAMPLES.read_text(encoding="utf-8"))
    reports = tmp / "reports"
    with EmulatorServer(world, time_scale=TIME_SCALE) as server:
        monkeypatch.setenv("TENANTSYNC_GRAPH_URL", server.url)
        text = CONFIGS[provisioner].read_text(encoding="utf-8").replace("sqlite:///data/state/", f"sqlite:///{tmp}/")
        config = tmp / CONFIGS[provisioner].name
        config.write_text(text, encoding="utf-8")
        name = load_config(config).name
        setup = run_flow(setup_config, config=str(config))
        initial = run_flow(sync_cycle, config=str(config), reports_dir=str(reports))
        cfg = load_config(config)
        with GraphApi(cfg.connection("emea")) as emea:
            renamed = emea.get_json(f"/users/{RENAMED}?$select=id,givenName")
            emea.request("PATCH", f"/users/{RENAMED}", {"surname": "Nakamura",
                                                        "displayName": f"{renamed['givenName']} Nakamura"})
            members = sorted(m["id"] for m in emea.group_members(CTS_GROUP))
            created = {r["sourceIdentity.id"] for r in rows_of(reports / name / initial["cycle_id"]
                                                               / "provisioning-log.csv")[1]
                       if r["provisioningAction"] == "create"}
            leaving = next(m for m in members if m in created and m != RENAMED)
            emea.request("DELETE", f"/groups/{CTS_GROUP}/members/{leaving}/$ref")
        t0 = time.monotonic()
        for _ in range(3):       # the service's schedule may have run a cycle before the changes
            later = run_flow(sync_cycle, config=str(config), reports_dir=str(reports))
            if {RENAMED, leaving} <= seen_since(reports / name, initial["cycle_id"]):
                break
        seconds = time.monotonic() - t0
        dump = server.dump(HQ)
    users = {u["id"]: u for u in [*dump["users"], *dump.get("deletedItems", [])]}
    header, cycles = rows_of(reports / name / "cycles.csv")
    logs = {c["cycleId"]: rows_of(reports / name / c["cycleId"] / "provisioning-log.csv") for c in cycles}
    return {"name": name, "setup": setup, "initial": initial, "later": later, "seconds": seconds,
            "leaving": leaving, "users": users, "deleted": {u["id"] for u in dump.get("deletedItems", [])},
            "cycles_header": header, "cycles": cycles, "logs": logs}


@pytest.fixture(scope="module")
def runs(harness, tmp_path_factory, request) -> dict[str, dict[str, Any]]:
    mp = pytest.MonkeyPatch()
    request.addfinalizer(mp.undo)
    return {p: scenario(p, tmp_path_factory.mktemp(p), mp) for p in ("engine", "entra")}


def by_source(run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """HQ's users each run provisioned, keyed by their source object (the log's rows link them)."""
    links = {r["sourceIdentity.id"]: r["targetIdentity.id"] for _, rows in run["logs"].values() for r in rows
             if r["provisioningAction"] in ("create", "update", "delete") and r["targetIdentity.id"]}
    return {source: run["users"][target] for source, target in links.items()}


def compared(user: dict[str, Any]) -> dict[str, Any]:
    """The compared properties; a deleted user's UPN without the prefix Entra gives it (its own
    object id, which differs between the runs)."""
    out = {k: user.get(k) for k in COMPARED}
    out["userPrincipalName"] = str(out["userPrincipalName"]).removeprefix(user["id"].replace("-", ""))
    return out


def actions(run: dict[str, Any], cycles: list[dict[str, str]]) -> Counter[tuple[str, str, str, str]]:
    """(source, action, status, reason) of each object's log row in these cycles."""
    return Counter((r["sourceIdentity.id"], r["provisioningAction"], r["status"], r["errorCode"])
                   for c in cycles for r in run["logs"][c["cycleId"]][1] if r["sourceIdentity.id"])


def not_written(run: dict[str, Any]) -> dict[str, list[tuple[str, str, str]]]:
    """Per cycle, the rows about no object: the engine's AttributeNotWritableInGraph warning."""
    return {c["cycleId"]: [(r["provisioningAction"], r["status"], r["errorCode"])
                           for r in run["logs"][c["cycleId"]][1] if not r["sourceIdentity.id"]]
            for c in run["cycles"]}


def counted(cycle: dict[str, str], run: dict[str, Any]) -> dict[str, int]:
    """A cycles.csv row's counts without the rows about no object."""
    from tenantsync import reports

    out = {k: int(cycle[k]) for k in (*reports.ACTIONS, *reports.STATUSES)}
    for action, status, _ in not_written(run)[cycle["cycleId"]]:
        out[action] -= 1
        out[status] -= 1
    return out


def test_both_provisioners_leave_the_same_users_in_the_target(runs):
    engine, entra = by_source(runs["engine"]), by_source(runs["entra"])
    assert len(engine) > 100
    assert set(engine) == set(entra)                                # the same users were provisioned
    differing = {s: {k: (v, compared(entra[s])[k]) for k, v in compared(engine[s]).items()
                     if v != compared(entra[s])[k]} for s in engine}
    assert not any(differing.values()), {s: d for s, d in differing.items() if d}
    zoe_engine, zoe_entra = engine[RENAMED], entra[RENAMED]
    assert zoe_engine["displayName"] == zoe_entra["displayName"] == "Zoë Nakamura"     # the rename followed
    assert zoe_engine["surname"] == zoe_entra["surname"] == "Nakamura"
    for run, users in ((runs["engine"], engine), (runs["entra"], entra)):
        gone = users[run["leaving"]]                                # on_leave_scope: delete -> soft deleted
        assert gone["id"] in run["deleted"], run["name"]
    # The one expected difference: the anchor. Each writes the source object id into a directory
    # extension registered on its own application: the engine's on HQ's application, the emulated
    # service's on the sync application's.
    names = []
    for users in (engine, entra):
        anchors = {k for u in users.values() for k in u if ANCHOR.match(k)}
        assert len(anchors) == 1, anchors
        names.append(anchor := anchors.pop())
        assert {s: u.get(anchor) for s, u in users.items()} == {s: f"{EMEA}/{s}" for s in users}
    assert names[0] != names[1]


def test_both_provisioners_write_the_same_reports(runs):
    from tenantsync import reports

    engine, entra = runs["engine"], runs["entra"]
    assert tuple(engine["cycles_header"]) == tuple(entra["cycles_header"]) == reports.CYCLE_COLUMNS
    for run in (engine, entra):
        assert {tuple(h) for h, _ in run["logs"].values()} == {reports.LOG_COLUMNS}, run["name"]
        assert run["cycles"][0]["kind"] == "initial" and run["cycles"][0]["cycleId"] == run["initial"]["cycle_id"]
        assert len(run["cycles"]) >= 2 and all(c["kind"] == "incremental" for c in run["cycles"][1:])
        for cid, (_, rows) in run["logs"].items():        # one row per object per cycle
            objects = [r["sourceIdentity.id"] for r in rows if r["sourceIdentity.id"]]
            assert len(objects) == len(set(objects)), (run["name"], cid)
    # The initial cycle: the same rows (source, action, status, error code) and the same counts.
    first = actions(engine, engine["cycles"][:1])
    assert first == actions(entra, entra["cycles"][:1])
    assert sum(1 for _, a, _, _ in first.elements() if a == "create") > 100
    assert counted(engine["cycles"][0], engine) == counted(entra["cycles"][0], entra)
    # The one legitimate difference in the logs: each engine cycle logs one warning row about no
    # object, saying that the default showInAddressList mapping is not written through Graph (the
    # user resource page: "Do not use in Microsoft Graph"); Microsoft's service sets it inside Entra
    # and logs no such row (the emulated service leaves the mapping out).
    assert set(map(tuple, not_written(engine).values())) == {(("other", "warning", "AttributeNotWritableInGraph"),)}
    assert not any(not_written(entra).values())
    # The next cycle(s): the rename and the user leaving scope, the same actions for both.
    later = actions(engine, engine["cycles"][1:])
    assert later == actions(entra, entra["cycles"][1:])
    assert {(s, a) for s, a, _, _ in later} >= {(RENAMED, "update"), (engine["leaving"], "delete")}
    assert sum((Counter(counted(c, engine)) for c in engine["cycles"][1:]), Counter()) == \
        sum((Counter(counted(c, entra)) for c in entra["cycles"][1:]), Counter())
    for run in (engine, entra):
        rename = next(r for c in run["cycles"][1:] for r in run["logs"][c["cycleId"]][1]
                      if r["sourceIdentity.id"] == RENAMED)
        changed = {p["displayName"]: p["newValue"] for p in json.loads(rename["modifiedProperties"])}
        assert changed.get("displayName") == "Zoë Nakamura" and changed.get("surname") == "Nakamura", run["name"]
