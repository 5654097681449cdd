"""A changed scope or mapping makes the next cycle a full one (how-provisioning-works: "A new
initial cycle is triggered because of a change in attribute mappings or scoping filters"), without
--restart: users who no longer match are removed under the deletion threshold, and the cycle says why."""

from __future__ import annotations

import csv

import pytest

from tenantsync.config import FilterClause
from tenantsync.reports import export_cycle

from .conftest import SRC, make_config, uid

LYON = (3, 6, 8)                   # moved out of Paris before the first cycle
PARIS_ONLY = [[FilterClause(attribute="city", operator="EQUALS", value="Paris")]]


def with_filter(cfg, filters=PARIS_ONLY, **settings):
    scope = cfg.scope.model_copy(update={"filters": filters})
    update = {"scope": scope}
    if settings:
        update["settings"] = cfg.settings.model_copy(update=settings)
    return cfg.model_copy(update=update)


def cycles_csv_error(w, report, tmp_path) -> str:
    path = export_cycle(w.store, w.cfg.name, report.cycle_id, tmp_path / "reports")["cycle"]
    with path.open(encoding="utf-8", newline="") as fh:
        [row] = list(csv.DictReader(fh))
    return row["error"]


@pytest.fixture
def moved(w):
    for n in LYON:
        w.emulator.patch_user(SRC, uid(n), {"city": "Lyon"})
    first = w.sync()
    assert first.kind == "initial" and len(w.b2b()) == 10
    assert "configuration changed" not in first.message          # the first cycle only records it
    return w


@pytest.mark.parametrize("on_leave_scope", ["delete", "disable"])
def test_a_new_filter_removes_the_users_who_no_longer_match_in_the_next_cycle(moved, tmp_path, on_leave_scope):
    w = moved
    cfg = with_filter(w.cfg, on_leave_scope=on_leave_scope)
    report = w.sync(cfg)                                          # no --restart
    assert report.kind == "initial"
    synced = w.b2b()
    gone = {uid(n) for n in LYON}
    if on_leave_scope == "delete":
        anchor = w.cfg.settings.anchor_attribute
        assert not gone & set(synced) and len(synced) == 7
        assert {d[anchor].split("/")[1] for d in w.deleted() if d.get(anchor)} == gone   # soft deleted
    else:
        assert all(synced[u]["accountEnabled"] is False for u in gone)
        assert all(synced[uid(n)]["accountEnabled"] is True for n in (1, 2, 4, 5, 7, 9, 10))
    assert report.counts["update"] == 0 and report.counts["create"] == 0   # the others were in step
    assert "configuration changed: scope filters" in report.message
    assert "configuration changed: scope filters" in cycles_csv_error(w, report, tmp_path)

    again = w.sync(cfg)                                           # unchanged: incremental again
    assert again.kind == "incremental" and "configuration changed" not in again.message
    assert again.counts["delete"] == again.counts["disable"] == 0


def test_above_the_deletion_threshold_the_leavers_are_staged_until_approved(moved):
    w = moved
    cfg = with_filter(w.cfg, deletion_threshold=2)
    report = w.sync(cfg)
    assert report.staged == 3 and len(w.b2b()) == 10              # nothing removed in the target
    assert all(u["accountEnabled"] for u in w.b2b().values())
    assert "configuration changed: scope filters" in report.message and "threshold of 2" in report.message
    assert {s["source_id"] for s in w.store.staged(w.cfg.name)} == {uid(n) for n in LYON}
    # not recorded while staged: the next cycle is full again and stages them again
    again = w.sync(cfg)
    assert again.kind == "initial" and again.staged == 3 and "configuration changed" in again.message
    approved = w.sync(cfg, allow_deletes=True)
    assert approved.counts["delete"] == 3 and len(w.b2b()) == 7
    assert w.sync(cfg).kind == "incremental"


def test_a_changed_mapping_updates_every_user_and_says_so(moved):
    w = moved
    mappings = [m.model_dump(exclude_none=True) for m in w.cfg.mappings]
    [job_title] = [m for m in mappings if m["target"] == "jobTitle"]
    job_title["expression"] = 'Join(" / ", [jobTitle], [city])'
    # a configuration as loaded from its file (model_copy would keep the cached effective mappings)
    report = w.sync(make_config(w.emulator, w.store_url, mappings=mappings))
    assert report.kind == "initial" and report.counts["update"] == 10
    assert "configuration changed: attribute mappings" in report.message
    assert w.b2b()[uid(3)]["jobTitle"] == "Engineer / Lyon" and w.b2b()[uid(1)]["jobTitle"] == "Engineer / Paris"


def test_a_changed_assignment_removes_users_no_longer_assigned(moved):
    w = moved
    scope = w.cfg.scope.model_copy(update={"assignments": w.cfg.scope.assignments.model_copy(
        update={"groups": [], "users": [uid(n) for n in range(1, 6)]})})
    report = w.sync(w.cfg.model_copy(update={"scope": scope}))
    assert "configuration changed: assignments" in report.message and "scope filters" not in report.message
    assert set(w.b2b()) == {uid(n) for n in range(1, 6)}


def test_reordering_filters_or_mappings_is_not_a_change(moved):
    w = moved
    two = [{"attribute": "country", "operator": "EQUALS", "value": "FR"},
           {"attribute": "department", "operator": "EQUALS", "value": "Sales"}]
    mappings = [m.model_dump(exclude_none=True) for m in w.cfg.mappings]
    assert w.sync(make_config(w.emulator, w.store_url, scope={"filters": [two]})).kind == "initial"
    reordered = make_config(w.emulator, w.store_url, scope={"filters": [list(reversed(two))]},
                            mappings=list(reversed(mappings)))
    report = w.sync(reordered)
    assert report.kind == "incremental" and "configuration changed" not in report.message


def test_a_dry_run_shows_the_full_cycle_but_records_nothing(moved):
    w = moved
    cfg = with_filter(w.cfg)
    dry = w.sync(cfg, dry_run=True)
    assert dry.kind == "initial" and dry.counts["delete"] == 3 and "configuration changed" in dry.message
    assert len(w.b2b()) == 10
    real = w.sync(cfg)                       # the dry run recorded nothing: still a change
    assert real.kind == "initial" and "configuration changed: scope filters" in real.message
    assert real.counts["delete"] == 3 and len(w.b2b()) == 7
