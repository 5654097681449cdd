"""The manager reference attribute against the emulator, asserting the target tenant's managers as
Graph answers them (GET /users/{id}/manager) and the provisioning log an auditor reads.

Documented behaviour held (cross-tenant-synchronization-overview, FAQ): both the user and their
manager must be in scope; a manager removed in the source is not updated in the target; manager
updates apply to the users a cycle processes. A manager provisioned after its report (a later
page, a later cycle) is resolved without the report changing again.
"""

from __future__ import annotations

import pytest

from tenantsync.cycle import CycleOptions, run_cycle
from tenantsync.errors import GraphError
from tenantsync.graph.api import GraphApi
from tenantsync.ops.ondemand import provision, render_text, result_per_user

from .conftest import GROUP, make_config, uid, world


def managed_world() -> dict:
    data = world()
    src = {u["id"]: u for u in data["tenants"][0]["users"]}
    src[uid(2)]["manager"] = uid(1)
    src[uid(4)]["manager"] = uid(2)
    src[uid(3)]["manager"] = uid(9)      # a manager later in the source's order
    src[uid(5)]["manager"] = uid(91)     # in the nested group only: out of scope
    src[uid(6)]["manager"] = uid(90)     # a source guest: never synced
    return data


@pytest.fixture
def mw(w):
    w.emulator.reset(managed_world())
    return w


def target_id(w, source_id: str) -> str:
    return w.b2b()[source_id]["id"]


def target_manager(w, source_id: str) -> str | None:
    """The manager of the user's B2B user, as GET /users/{id}/manager answers (404: None)."""
    try:
        return w.tgt_api.get_json(f"/users/{target_id(w, source_id)}/manager")["id"]
    except GraphError as exc:
        assert exc.status == 404
        return None


def rows(w, report, source_id: str) -> list[dict]:
    return [r for r in w.store.log(w.cfg.name, report.cycle_id) if r["sourceIdentity.id"] == source_id]


def manager_row(w, report, source_id: str) -> dict:
    found = [r for r in rows(w, report, source_id)
             if any(s["provisioningStepType"] == "referenceResolution" for s in r["provisioningSteps"])]
    assert len(found) == 1, found
    return found[0]


def set_source_manager(w, user: str, manager: str | None) -> None:
    if manager is None:
        w.src_api.request("DELETE", f"/users/{user}/manager/$ref")
    else:
        w.src_api.request("PUT", f"/users/{user}/manager/$ref",
                          {"@odata.id": f"https://graph.microsoft.com/v1.0/users/{manager}"})


def test_initial_cycle_sets_the_managers_that_are_in_scope(mw):
    report = mw.sync()
    assert report.counts["failure"] == 0
    assert target_manager(mw, uid(2)) == target_id(mw, uid(1))
    assert target_manager(mw, uid(4)) == target_id(mw, uid(2))
    assert target_manager(mw, uid(3)) == target_id(mw, uid(9))
    assert target_manager(mw, uid(1)) is None                  # no manager in the source
    assert target_manager(mw, uid(5)) is None and target_manager(mw, uid(6)) is None   # out of scope
    row = manager_row(mw, report, uid(2))
    assert row["provisioningAction"] == "update" and row["status"] == "success"
    assert row["modifiedProperties"] == [{"displayName": "manager", "oldValue": None,
                                          "newValue": target_id(mw, uid(1))}]
    step = next(s for s in row["provisioningSteps"] if s["provisioningStepType"] == "referenceResolution")
    assert step["status"] == "success" and step["details"]["SourceReference"] == uid(1)
    skipped = manager_row(mw, report, uid(5))
    assert skipped["status"] == "skipped" and skipped["errorCode"] == "ManagerNotProvisioned"
    assert "both the user and their manager must be in scope" in skipped["reason"]
    again = mw.sync()                                           # in step: nothing more to write
    assert again.kind == "incremental" and again.counts["update"] == 0


class _SmallPages:
    """The source GraphApi, with users/delta pages of three users (a large tenant's paging)."""

    def __init__(self, api):
        self.api = api

    def __getattr__(self, name):
        return getattr(self.api, name)

    def delta(self, resource, **kw):
        inner = self.api.delta(resource, **kw)
        return inner if resource != "users" else _Chunked(inner)


class _Chunked:
    def __init__(self, inner):
        self.inner = inner

    @property
    def delta_link(self):
        return self.inner.delta_link

    def pages(self):
        for page in self.inner.pages():
            for i in range(0, len(page), 3):
                yield page[i:i + 3]


def test_a_manager_created_in_a_later_page_than_its_report_is_resolved_in_the_same_cycle(mw):
    cfg = make_config(mw.emulator, mw.store_url, settings={"batch_size": 2})
    report = run_cycle(cfg, source_api=_SmallPages(mw.src_api), target_api=GraphApi(cfg.connection("hq")),
                       store=mw.store, options=CycleOptions())
    log = [r for r in mw.store.log(cfg.name, report.cycle_id) if r["provisioningAction"] == "create"]
    order = [r["sourceIdentity.id"] for r in log]
    assert order.index(uid(3)) < order.index(uid(9))           # the report was created first
    assert target_manager(mw, uid(3)) == target_id(mw, uid(9))
    assert manager_row(mw, report, uid(3))["status"] == "success"


def test_a_manager_provisioned_in_a_later_cycle_is_set_without_its_report_changing(mw):
    first = mw.sync()
    assert manager_row(mw, first, uid(5))["errorCode"] == "ManagerNotProvisioned"
    assert target_manager(mw, uid(5)) is None
    mw.src_api.request("POST", f"/groups/{GROUP}/members/$ref",
                       {"@odata.id": f"https://graph.microsoft.com/v1.0/directoryObjects/{uid(91)}"})
    second = mw.sync()
    assert second.kind == "incremental"
    assert target_manager(mw, uid(5)) == target_id(mw, uid(91))
    row = manager_row(mw, second, uid(5))
    assert row["provisioningAction"] == "update" and row["modifiedProperties"][0]["newValue"] == target_id(mw, uid(91))
    assert [r["id"] for r in rows(mw, second, uid(5))] == [row["id"]]   # the report itself was not planned
    third = mw.sync()
    assert third.counts["update"] == 0 and not rows(mw, third, uid(5))


def test_a_manager_change_in_the_source_is_applied_by_an_incremental_cycle(mw):
    mw.sync()
    set_source_manager(mw, uid(4), uid(3))
    mw.src_api.request("PATCH", f"/users/{uid(2)}", {"department": "Legal"})   # its manager is unchanged
    report = mw.sync()
    assert report.kind == "incremental" and report.counts["failure"] == 0
    assert target_manager(mw, uid(4)) == target_id(mw, uid(3))
    assert [r["provisioningAction"] for r in rows(mw, report, uid(2))] == ["update"]   # no manager write
    assert target_manager(mw, uid(2)) == target_id(mw, uid(1))
    row = manager_row(mw, report, uid(4))
    assert row["modifiedProperties"] == [{"displayName": "manager", "oldValue": target_id(mw, uid(2)),
                                          "newValue": target_id(mw, uid(3))}]
    assert mw.sync().counts["update"] == 0                      # applied once


def test_a_manager_removed_in_the_source_or_out_of_scope_is_not_cleared(mw):
    mw.sync()
    manager_of_2 = target_id(mw, uid(1))
    set_source_manager(mw, uid(2), None)
    report = mw.sync()
    assert target_manager(mw, uid(2)) == manager_of_2            # as documented: not updated
    row = manager_row(mw, report, uid(2))
    assert row["status"] == "skipped" and row["errorCode"] == "ManagerNotCleared"
    assert "isn't updated in the target tenant" in row["reason"]
    # the manager of uid(4) leaves the scope: uid(2) is soft deleted, uid(4)'s reference is kept
    mw.src_api.request("DELETE", f"/groups/{GROUP}/members/{uid(2)}/$ref")
    set_source_manager(mw, uid(4), uid(2))                       # uid(4) changes, its manager is gone
    mw.sync()
    assert uid(2) not in mw.b2b()
    stored = {u["id"]: u for u in mw.target()["users"]}
    assert stored[target_id(mw, uid(4))]["manager"] == next(
        d["id"] for d in mw.deleted() if d.get("mail") == "user2@emea.contoso.com")


def test_dry_run_writes_no_manager_and_logs_what_it_would_set(mw):
    mw.sync()
    set_source_manager(mw, uid(1), uid(9))
    report = mw.sync(dry_run=True)
    assert target_manager(mw, uid(1)) is None
    row = manager_row(mw, report, uid(1))
    assert row["reason"].startswith("Dry run: Would set the manager to target user " + target_id(mw, uid(9)))
    assert mw.sync().counts["update"] == 1 and target_manager(mw, uid(1)) == target_id(mw, uid(9))


def test_provision_on_demand_sets_the_manager_of_the_chosen_user(mw):
    mw.sync()
    mw.tgt_api.request("DELETE", f"/users/{target_id(mw, uid(2))}/manager/$ref")   # a target admin
    assert target_manager(mw, uid(2)) is None
    report = provision(mw.cfg, [uid(2)], store=mw.store)
    assert report.kind == "on-demand" and report.counts["failure"] == 0
    assert target_manager(mw, uid(2)) == target_id(mw, uid(1))
    [shown] = result_per_user(report)              # one entry for the user, the manager in it
    assert shown["reply"]["result"] == "Success"
    assert shown["modifiedProperties"] == [{"name": "manager", "old": None, "new": target_id(mw, uid(1))}]
    assert "Resolve manager reference [success]" in render_text(report)


class _RefusingManagers:
    """The target GraphApi, except that PUT .../manager/$ref answers 403 (a missing permission)."""

    def __init__(self, api):
        self.api = api

    def __getattr__(self, name):
        return getattr(self.api, name)

    def batch(self, requests):
        refused = {"status": 403, "headers": {}, "body": {"error": {
            "code": "Authorization_RequestDenied",
            "message": "Insufficient privileges to complete the operation."}}}
        keep = [r for r in requests if not r["url"].endswith("/manager/$ref")]
        answers = iter(self.api.batch(keep))
        return [refused if r["url"].endswith("/manager/$ref") else next(answers) for r in requests]


def test_a_refused_manager_write_is_a_reference_failure_retried_later(mw):
    target = _RefusingManagers(GraphApi(mw.cfg.connection("hq")))
    report = run_cycle(mw.cfg, source_api=mw.src_api, target_api=target, store=mw.store, options=CycleOptions())
    row = manager_row(mw, report, uid(2))
    assert row["status"] == "failure" and row["errorCode"] == "Authorization_RequestDenied"
    assert "User.ReadWrite.All" in row["reason"] and "user-post-manager" in row["reason"]
    assert target_manager(mw, uid(2)) is None
    assert next(r for r in rows(mw, report, uid(2)) if r["id"] != row["id"])["status"] == "success"   # the user
    assert mw.store.count_reference_escrows(mw.cfg.name) == 3          # uid(2), uid(3), uid(4)
    assert mw.sync().counts["update"] == 0                              # waits for its retry time
    restarted = mw.sync(restart=True)                                    # a restart clears escrows
    assert restarted.counts["failure"] == 0 and target_manager(mw, uid(2)) == target_id(mw, uid(1))
