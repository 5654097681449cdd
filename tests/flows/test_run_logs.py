"""The run logs tell a cycle's story at INFO, as the Prefect UI shows them: each page read, the plan
after decide, each batch written, every wait with its reason and length, and the end."""

from __future__ import annotations

import logging
import re

import pytest

from .flowkit import ZOE, artifacts_of, logs_of, run

pytestmark = pytest.mark.usefixtures("prefect_harness")
SECRETS = ("emea-token", "hq-token", "us-token")


def run_logs(state) -> list:
    return logs_of(state)


def info_lines(logs: list) -> list[str]:
    return [log.message for log in logs if log.level == logging.INFO]


def test_a_sync_cycle_logs_its_pages_plan_batches_and_end(make_config, reports_dir, monkeypatch):
    import flows._cycle
    from flows.sync import sync_cycle

    described: list[str] = []             # the progress artifact's description, as the UI shows it
    real_update = flows._cycle.update_progress_artifact

    def update(artifact_id, progress, description=None):
        described.append(description or "")
        return real_update(artifact_id, progress=progress, description=description)

    monkeypatch.setattr(flows._cycle, "update_progress_artifact", update)
    state, result = run(sync_cycle, config=str(make_config(batch_size=20)), reports_dir=str(reports_dir))
    assert state.is_completed(), state.message
    assert any(re.search(r"writes 40 of 107\+; [\d.,]+ writes/s; ETA \d+:\d\d\+", d) for d in described), described
    progress = next(a for a in artifacts_of(state) if a.key == "emea-to-hq-progress")
    assert re.fullmatch(r"emea-to-hq cycle: 1 page\(s\) read, 126 user\(s\); writes 107 of 107; "
                        r"[\d.]+ writes/s; done in \d+:\d\d", progress.description), progress.description
    lines = info_lines(run_logs(state))
    text = "\n".join(lines)
    assert re.search(r"^page 1 read: \d+ user\(s\), \d+ so far; \d+ write\(s\) planned, \d+ so far$", text, re.M), text
    plan = next(line for line in lines if line.startswith("plan: "))
    creates = result["counts"]["create"]
    assert f"{creates} create" in plan and "write(s) in all" in plan
    batches = [line for line in lines if line.startswith("batch ")]
    assert len(batches) >= creates // 20
    assert re.match(r"batch 1 written in \d+\.\d s: 20 write\(s\) \(20 success\); writes 20 of \d+\+? applied, ", batches[0])
    assert all("ETA" in line for line in batches)
    end = next(line for line in lines if " cycle done in " in line)
    assert end.startswith("emea-to-hq: initial cycle done in ") and f"{creates} create" in end
    assert not any(secret in line for line in lines for secret in SECRETS)


def test_a_graph_retry_after_is_logged_with_its_reason_and_length(make_config, reports_dir, sample_world,
                                                                  monkeypatch):
    """The engine's own lines (logger "tenantsync.graph", written on the Graph client's thread)
    reach the run logs: here the waits a gateway's 429 answers impose."""
    from flows.sync import sync_cycle
    from tenantsync.emulator.server import EmulatorServer

    config = make_config()
    with EmulatorServer(sample_world, faults="rate=0.05,codes=429,seed=3") as flaky:
        monkeypatch.setenv("TENANTSYNC_GRAPH_URL", flaky.url)
        state, _ = run(sync_cycle, config=str(config), reports_dir=str(reports_dir))
    assert state.is_completed(), state.message
    logs = run_logs(state)
    waits = [log for log in logs if log.message.startswith("waiting ") and "429" in log.message]
    assert waits, [log.message for log in logs]
    assert all(log.level == logging.INFO and log.name.startswith("tenantsync") for log in waits)
    assert re.match(r"waiting 1\.0 s: Graph answered 429 .* \(Retry-After 1 s, retry 1 of \d+\)", waits[0].message) \
        or re.match(r"waiting 1\.0 s: Graph answered 429 to \d+ of \d+ \$batch item\(s\) \(Retry-After 1 s\)",
                    waits[0].message), \
        waits[0].message


def test_the_on_demand_window_wait_is_logged_with_its_reason_and_length(make_config, monkeypatch):
    import tasks.limits
    from flows.ondemand import provision_on_demand

    monkeypatch.setattr(tasks.limits, "ON_DEMAND_WINDOW_S", 0.3)
    state, _ = run(provision_on_demand, config=str(make_config()), user_ids=[ZOE])
    assert state.is_completed(), state.message
    lines = info_lines(run_logs(state))
    assert any(line.startswith("waiting 0.3 s: provisionOnDemand allows 5 requests per 10 seconds")
               for line in lines), lines
    assert any(line.startswith("page 1 read: 1 user(s)") for line in lines), lines
    assert any(line.startswith("emea-to-hq: on-demand cycle done in ") for line in lines), lines
