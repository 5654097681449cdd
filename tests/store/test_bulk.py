"""Bulk paths at 20,000 rows: correctness asserted, timings printed (see -s or the report)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

import pytest

from tenantsync.store import Link, Store

from .conftest import T0

N = 20_000
R = TypeVar("R")


def user(i: int) -> dict:
    return {"id": f"u{i}", "userPrincipalName": f"user{i}@emea.contoso.com", "displayName": f"User {i}",
            "givenName": "Given", "surname": f"Sur{i}", "accountEnabled": i % 7 != 0, "department": "Sales",
            "mail": f"user{i}@emea.contoso.com", "userType": "Member", "mobilePhone": None}


def log_row(i: int, cycle_id: str) -> dict:
    return {"activityDateTime": T0 + timedelta(milliseconds=i), "id": f"log-{i}", "jobId": "job",
            "cycleId": cycle_id, "changeId": f"ch-{i}", "provisioningAction": "create", "status": "success",
            "errorCode": None, "reason": f"User 'u{i}' was created", "sourceIdentity.id": f"u{i}",
            "sourceIdentity.displayName": f"User {i}", "targetIdentity.id": f"t{i}",
            "targetIdentity.displayName": f"User {i}",
            "modifiedProperties": [{"displayName": "displayName", "oldValue": None, "newValue": f"User {i}"}],
            "provisioningSteps": [{"name": "EntryExportAdd", "provisioningStepType": "export",
                                   "status": "success", "description": "Created", "details": {}}],
            "durationInMilliseconds": 5}


@pytest.fixture
def timed(request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]) -> Callable[..., object]:
    backend = request.node.callspec.params["store_url"]

    def run(label: str, action: Callable[[], R]) -> R:
        start = time.perf_counter()
        result = action()
        with capsys.disabled():
            print(f"\n  [{backend}] {label} ({N:,} rows): {time.perf_counter() - start:.2f} s", end="")
        return result

    return run


def test_bulk_log_snapshots_links_and_escrows(store: Store, timed: Callable[..., object]) -> None:
    cycle_id = store.start_cycle("emea", "initial")
    users = {f"u{i}": user(i) for i in range(N)}
    rows = [log_row(i, cycle_id) for i in range(N)]
    store.append_log("apac", [log_row(0, "other")])

    timed("append_log", lambda: store.append_log("emea", rows))
    timed("replace_snapshots", lambda: store.replace_snapshots("emea", users))
    timed("upsert_links", lambda: store.upsert_links("emea", [Link(f"u{i}", f"t{i}", "active") for i in range(N)]))
    found = timed("links_for", lambda: store.links_for("emea", list(users)))
    timed("record_failures", lambda: store.record_failures("emea", dict.fromkeys(users, "boom"), T0))
    timed("replace_memberships", lambda: store.replace_memberships(
        "emea", {f"g{g}": {f"u{i}" for i in range(g, N, 10)} for g in range(10)}))

    log = timed("log(cycle)", lambda: store.log("emea", cycle_id))
    assert log == rows
    assert store.snapshots("emea") == users
    assert len(found) == N and found["u123"].target_id == "t123"
    assert store.count_escrows("emea") == N
    assert sum(len(m) for m in store.memberships("emea").values()) == N

    # second rounds: overwrite paths, and deletes across chunk boundaries
    changed = {k: {**v, "department": "Ops"} for k, v in list(users.items())[: N // 2]}
    store.save_snapshots("emea", changed)
    assert store.snapshots("emea", ["u0", f"u{N - 1}"]) == {"u0": changed["u0"], f"u{N - 1}": users[f"u{N - 1}"]}
    store.remove_snapshots("emea", list(users)[: N - 5])
    assert len(store.snapshots("emea")) == 5
    store.change_memberships("emea", added=[], removed=[("g0", f"u{i}") for i in range(0, N, 10)])
    assert "g0" not in store.memberships("emea")
    store.delete_links("emea", list(users))
    assert store.count_links("emea") == 0
    assert len(store.log("apac")) == 1
