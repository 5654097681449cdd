"""provision_on_demand: the step-by-step result, the 5-user cap, and 5 requests per 10 seconds."""

from __future__ import annotations

import threading
import time

import pytest

from .flowkit import SVC_PRINT, ZOE, artifacts_of, run

pytestmark = pytest.mark.usefixtures("prefect_harness")


@pytest.fixture
def short_window(monkeypatch):
    import tasks.limits

    monkeypatch.setattr(tasks.limits, "ON_DEMAND_WINDOW_S", 0.0)


def test_provision_on_demand_reads_like_the_portal(make_config, short_window):
    from flows.ondemand import provision_on_demand

    state, result = run(provision_on_demand, config=str(make_config()), user_ids=[ZOE, SVC_PRINT])
    assert state.is_completed(), state.message
    assert result["kind"] == "on-demand" and result["user_ids"] == [ZOE, SVC_PRINT]
    users = {u["sourceId"]: u for u in result["users"]}
    assert users[ZOE]["reply"]["result"] == "Success" and users[ZOE]["scoping"]["inScope"] is True
    assert users[SVC_PRINT]["reply"]["result"] == "Skipped"
    assert users[SVC_PRINT]["scoping"]["failingRule"]            # the scoping rule that failed
    md = next(a for a in artifacts_of(state) if a.key == "emea-to-hq-on-demand")
    assert md.type == "markdown" and "Determine if user is in scope" in md.data and ZOE in md.data

    # again: already in step
    state, again = run(provision_on_demand, config=str(make_config()), user_ids=[ZOE])
    assert again["users"][0]["reply"]["details"].get("errorCode") == "RedundantExport"


def test_more_than_five_users_are_refused(make_config):
    from flows.ondemand import provision_on_demand

    state = provision_on_demand(config=str(make_config()), user_ids=[f"u{i}" for i in range(6)],
                                return_state=True)
    assert state.is_failed() and "at most 5" in state.message


def test_six_single_user_calls_take_at_least_ten_seconds(make_config, sample_world, monkeypatch):
    """Never more than 5 provisionOnDemand requests in any 10-second window, across runs."""
    import flows.ondemand
    from flows.ondemand import provision_on_demand

    cfg = str(make_config())
    members = next(g for g in sample_world["tenants"][0]["groups"] if g["displayName"] == "CTS - HQ sync")["members"]
    users = members[:6]
    started: list[float] = []
    real_open_cycle = flows.ondemand.open_cycle

    def spy(*args, **kwargs):
        started.append(time.monotonic())
        return real_open_cycle(*args, **kwargs)

    monkeypatch.setattr(flows.ondemand, "open_cycle", spy)
    states: list = []
    t0 = time.monotonic()
    threads = [threading.Thread(target=lambda u=u: states.append(provision_on_demand(
        config=cfg, user_ids=[u], return_state=True))) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    elapsed = time.monotonic() - t0
    assert len(states) == 6 and all(s.is_completed() for s in states), [s.message for s in states]
    assert elapsed >= 10
    started.sort()
    assert len(started) == 6 and started[5] - started[0] >= 10, [round(s - t0, 1) for s in started]
