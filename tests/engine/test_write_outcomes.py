"""Every write outcome recorded, and an audit trail without holes after crashes and failures.

- An invitation $batch whose answer was lost (dropped after it ran): the invited users are found
  by mail, linked and completed in the same cycle; none is invited twice.
- An invitation whose PATCH is refused: the user is still linked and anchored, its create row says
  so, and the next cycle completes it (an update row that says it completes the creation).
- A write refused for a passing reason is retried within the same cycle.
- A cycle whose process died is closed as crashed by the next run (store and cycles.csv); a cycle
  whose step raised is closed as failure, with the reason.
"""

from __future__ import annotations

import csv

from tenantsync.connectors.entra_target import EntraTarget
from tenantsync.errors import ErrorKind, GraphError
from tenantsync.graph.core import AsyncGraph
from tenantsync.reports import export_cycle
from tenantsync.store import Store, locks
from tenantsync.store.cycles import HOLDER
from tenantsync.store.tables import cycles as cycles_table

from .conftest import PENDING, uid

IN_SCOPE = 10          # conftest's world: the users the engine provisions or matches (user10 by mail)


def anchored(w):
    anchor = w.cfg.settings.anchor_attribute
    return [u for u in w.target()["users"] if "#EXT#" in u["userPrincipalName"] and u.get(anchor)]


def test_an_invitation_batch_dropped_after_it_ran_loses_no_outcome(w, monkeypatch):
    original, dropped = AsyncGraph.send_once, {"n": 0}

    async def send_once(self, ri, *, writes=0):
        raw = await original(self, ri, writes=writes)
        if b'"/invitations"' in (ri.content or b"") and not dropped["n"]:
            dropped["n"] += 1                     # it ran; the answer never arrives
            raise GraphError(0, "connectionError", "connection failed or dropped", kind=ErrorKind.TRANSIENT)
        return raw

    monkeypatch.setattr(AsyncGraph, "send_once", send_once)
    report = w.sync()
    assert dropped["n"] == 1 and report.counts["failure"] == 0
    store = Store.for_url(w.store_url)
    links = store.links(w.cfg.name)
    users = anchored(w)
    assert len(users) == IN_SCOPE and all(links[u[w.cfg.settings.anchor_attribute].split("/")[1]].state
                                          == "active" for u in users)
    invited = [i["invitedUserEmailAddress"] for i in w.target().get("invitations", [])]
    assert len(invited) == len(set(invited))                          # nobody invited twice
    assert {r["targetIdentity.id"] for r in store.log(w.cfg.name, action="create")} >= \
        {u["id"] for u in users} - {PENDING}


def test_an_invitation_whose_patch_is_refused_is_linked_anchored_and_completed_next_cycle(w, monkeypatch):
    body = EntraTarget._patch_body

    def refused(self, a, anchors):
        out = body(self, a, anchors)
        return {**out, "showInAddressList": False} if a.kind == "create" and a.source_id == uid(5) else out

    with monkeypatch.context() as m:
        m.setattr(EntraTarget, "_patch_body", refused)
        first = w.sync()
    store = Store.for_url(w.store_url)
    link = store.links(w.cfg.name)[uid(5)]
    target = next(u for u in w.target()["users"] if u["id"] == link.target_id)
    assert link.state == "pending" and target[w.cfg.settings.anchor_attribute]      # anchored at once
    assert target["userType"] == "Guest"                                            # PATCH refused
    row = next(r for r in store.log(w.cfg.name, first.cycle_id, action="create") if r["sourceIdentity.id"] == uid(5))
    assert row["status"] == "failure" and row["targetIdentity.id"] == link.target_id
    assert "the user exists" in row["reason"] and "next cycle completes" in row["reason"]

    second = w.sync()                                  # incremental, nothing changed in the source
    target = next(u for u in w.target()["users"] if u["id"] == link.target_id)
    assert target["userType"] == "Member" and target["jobTitle"] == "Engineer - Sales"
    assert store.links(w.cfg.name)[uid(5)].state == "active"
    row = next(r for r in store.log(w.cfg.name, second.cycle_id) if r["sourceIdentity.id"] == uid(5))
    assert row["provisioningAction"] == "update" and row["status"] == "success"
    assert row["reason"].startswith("Completes its creation")


def test_a_write_refused_for_a_passing_reason_is_retried_within_the_cycle(w, monkeypatch):
    w.sync()
    w.src_api.request("PATCH", f"/users/{uid(3)}", {"department": "Legal"})
    original, refused = EntraTarget._batch, {"n": 0}

    def batch(self, reqs):
        if any(r["method"] == "PATCH" for r in reqs) and not refused["n"]:
            refused["n"] += 1                          # every retry of the connector exhausted
            return [{"status": 503, "headers": {"Retry-After": "0"}, "retry_after": 0.0,
                     "body": {"error": {"code": "serviceNotAvailable", "message": "try later"}}} for _ in reqs]
        return original(self, reqs)

    monkeypatch.setattr(EntraTarget, "_batch", batch)
    report = w.sync()
    assert refused["n"] == 1 and report.counts["failure"] == 0 and report.counts["update"] == 1
    assert w.b2b()[uid(3)]["jobTitle"] == "Engineer - Legal"


def test_a_cycle_left_running_by_a_dead_process_is_closed_as_crashed(w, tmp_path):
    first = w.sync()
    store = Store.for_url(w.store_url)
    with store.writer.begin() as conn:            # as a process killed mid-cycle leaves it
        conn.execute(cycles_table.update().where(cycles_table.c.cycle_id == first.cycle_id).values(
            status="running", ended=None, counts={HOLDER: f"{locks.HOST}/999999999/1"}))
    second = w.sync()
    closed = next(c for c in store.cycles(w.cfg.name) if c["cycleId"] == first.cycle_id)
    assert closed["status"] == "crashed" and closed["ended"] is not None
    assert "ended without closing it" in closed["error"] and second.cycle_id in closed["error"]
    assert closed["counts"]["create"] == IN_SCOPE - 1          # its rows are kept and counted
    assert any(first.cycle_id in note for note in [second.message])
    files = export_cycle(store, w.cfg.name, second.cycle_id, tmp_path)
    with open(files["cycles"], newline="", encoding="utf-8") as fh:
        rows = {r["cycleId"]: r for r in csv.DictReader(fh)}
    assert rows[first.cycle_id]["status"] == "crashed" and rows[first.cycle_id]["ended"]
    assert not [r for r in rows.values() if r["status"] == "running"]


def test_a_cycle_whose_step_raised_is_closed_as_failure_with_the_reason(w, monkeypatch):
    w.sync()
    w.src_api.request("PATCH", f"/users/{uid(2)}", {"displayName": "Renamed"})

    def broken(self, *args, **kwargs):
        raise RuntimeError("the target index could not be built")

    monkeypatch.setattr(EntraTarget, "lookup", broken)
    try:
        w.sync()
    except RuntimeError:
        pass
    last = Store.for_url(w.store_url).cycles(w.cfg.name)[-1]
    assert last["status"] == "failure" and last["ended"] is not None
    assert last["error"].endswith("cycle failed: RuntimeError: the target index could not be built")
