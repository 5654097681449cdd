"""The user source runs through the stage loop of the cross-tenant sync (``pipeline.drive``): each
page is written before the next one is read, a full round removes what the tenant no longer has
only after decide, and a failure outside Graph leaves the cycle recorded as failed."""

from __future__ import annotations

from typing import Any

import pytest

from tenantsync import pipeline
from tenantsync.connectors.directory_target import DirectoryTarget
from tenantsync.results import ProcedureResult
from tenantsync.usersource import open_user_source, run_user_source

from .usworld import ChoppedApi, make_config, source_api, uid, user, world


class Seen(pipeline.Observer):
    def __init__(self) -> None:
        self.kind = ""
        self.planned_pages: list[tuple[int, int]] = []
        self.applied_batches: list[tuple[int, int]] = []
        self.result: Any = None

    def begun(self, kind: str) -> None:
        self.kind = kind

    def planned(self, page: int, users: int) -> None:
        self.planned_pages.append((page, users))

    def applied(self, batch: int, batches: int, actions: Any) -> None:
        self.applied_batches.append((batch, batches))

    def done(self, result: Any) -> None:
        self.result = result


def test_run_user_source_calls_the_stage_loop(tenant, directory_url, monkeypatch):
    driven: list[str] = []
    real = pipeline.drive

    def spy(stages, steps=None, observer=None):
        driven.append(type(stages).__name__)
        return real(stages, steps, observer)

    monkeypatch.setattr("tenantsync.usersource.run.drive", spy)
    result = run_user_source(make_config(tenant, directory_url))
    assert driven == ["UserSourceCycle"]
    assert result.status == "success" and result.counts["users_created"] == 5


def test_pages_are_written_as_read_and_a_full_round_removes_only_after_decide(tenant, directory_url):
    cfg = make_config(tenant, directory_url)
    run_user_source(cfg)
    tenant.reset(world(users=[user(i) for i in (1, 2, 3, 4)]))   # user 5 gone; old links answered 410
    events: list[tuple[Any, ...]] = []

    def plan(stages, page, n):
        events.append(("plan", n, len(page)))
        return stages.plan_page(page)

    def decide(stages):
        events.append(("decide",))
        return stages.decide()

    def apply(stages, batch, n):
        done = stages.apply(batch)
        events.append(("apply", n, [(a.kind, a.source_id, a.status) for a in done if a.kind == "delete"]))
        return done

    seen = Seen()
    with open_user_source(cfg, api=ChoppedApi(source_api(cfg), size=2)) as run:
        assert not isinstance(run, ProcedureResult)                  # the stages, not a skipped run
        result = pipeline.drive(run, pipeline.Steps(plan_page=plan, decide=decide, apply=apply), seen)

    # users [1, 2] [3, 4] then groups [Staff, Managers] [Empty]: every page but the last of each
    # (full) round is written before the next page is read; the last ones wait for decide.
    assert [e[0] for e in events] == ["plan", "apply", "plan", "plan", "apply", "plan", "decide", "apply", "apply"]
    assert seen.kind == "incremental" and seen.planned_pages == [(1, 2), (2, 2), (3, 2), (4, 1)]
    assert seen.applied_batches == [(1, 2), (2, 2)] and seen.result is result
    removals = [(e[1], d) for e in events if e[0] == "apply" for d in e[2]]
    assert removals == [(3, ("delete", uid(5), "success"))]           # the users round's last page, after decide
    assert result.status == "success" and result.counts["users_removed"] == 1
    assert "users delta link expired" in result.message
    assert uid(5) not in {u["id"] for u in DirectoryTarget.for_url(cfg.directory_url).users(cfg.name)}


def test_a_database_failure_records_the_cycle_as_failed_and_propagates(tenant, directory_url, monkeypatch):
    cfg = make_config(tenant, directory_url)

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(DirectoryTarget, "apply_groups", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        run_user_source(cfg)
    (cycle,) = DirectoryTarget.for_url(cfg.directory_url).cycles(cfg.name)
    assert cycle["status"] == "failed" and "RuntimeError: disk full" in cycle["message"]
    assert len(DirectoryTarget.for_url(cfg.directory_url).users(cfg.name)) == 5   # the users round is kept
