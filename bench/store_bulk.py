"""Timings of the store's bulk operations.

    .venv/bin/python -m bench.store_bulk [--rows 100000] [--backend sqlite|postgresql|both]

PostgreSQL: TENANTSYNC_TEST_PG_URL or postgresql+psycopg://postgres@127.0.0.1:5432/test, in a
throwaway schema. The "restart" line is the store's share of a restart of N users: replace
snapshots and memberships, upsert N links, append N log rows, save watermarks and finish the cycle.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from tenantsync.store import JobStatus, Link, Store

PG_URL = os.environ.get("TENANTSYNC_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
T0 = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


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


def run(url: str, n: int, label: str) -> None:
    store = Store(url)
    users = {f"u{i}": user(i) for i in range(n)}
    links = [Link(f"u{i}", f"t{i}", "active", f"user{i}@emea.contoso.com") for i in range(n)]
    members = {f"g{g}": {f"u{i}" for i in range(g, n, 10)} for g in range(10)}

    def timed(what: str, action: Callable[[], Any]) -> float:
        start = time.perf_counter()
        action()
        took = time.perf_counter() - start
        print(f"{label:10} {what:40} {took:6.2f} s")
        return took

    def restart() -> None:
        store.reset("restart")
        cycle_id = store.start_cycle("restart", "initial")
        store.replace_snapshots("restart", users)
        store.replace_memberships("restart", members)
        store.upsert_links("restart", links)
        store.append_log("restart", [log_row(i, cycle_id) for i in range(n)])
        store.save_watermarks("restart", {"users": "delta-users", "groups": "delta-groups"})
        store.finish_cycle("restart", cycle_id, counts={"create": n}, status="success", job=JobStatus("Active"))

    cycle_id = store.start_cycle("bench", "initial")
    rows = [log_row(i, cycle_id) for i in range(n)]
    timed(f"append_log {n:,}", lambda: store.append_log("bench", rows))
    timed(f"replace_snapshots {n:,}", lambda: store.replace_snapshots("bench", users))
    timed(f"save_snapshots {n:,} (all exist)", lambda: store.save_snapshots("bench", users))
    timed(f"upsert_links {n:,} (new)", lambda: store.upsert_links("bench", links))
    timed(f"upsert_links {n:,} (all exist)", lambda: store.upsert_links("bench", links))
    timed(f"replace_memberships {n:,}", lambda: store.replace_memberships("bench", members))
    timed(f"record_failures {n:,}", lambda: store.record_failures("bench", dict.fromkeys(users, "e"), T0))
    timed("links() all", lambda: store.links("bench"))
    timed(f"links_for {n:,} ids", lambda: store.links_for("bench", list(users)))
    timed("snapshots() all", lambda: store.snapshots("bench"))
    timed(f"log(cycle) {n:,} rows", lambda: store.log("bench", cycle_id))
    timed(f"delete_links {n:,}", lambda: store.delete_links("bench", list(users)))
    timed(f"restart of {n:,} users (store part)", restart)
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as folder:
            run(f"sqlite:///{folder}/state.db", args.rows, "sqlite")
    if args.backend in ("postgresql", "both"):
        schema = f"ts_bench_{uuid.uuid4().hex[:12]}"
        admin = create_engine(PG_URL, poolclass=NullPool)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})
            run(url.render_as_string(hide_password=False), args.rows, "postgresql")
        finally:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


if __name__ == "__main__":
    main()
