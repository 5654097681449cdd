"""What an administrator reads in the Prefect UI (issue 15, points 4 and 5): every parameter of every
deployment explained in the run form, the approval form's box explained, and artifacts that fit the
page (no table row wider than tenantsync/uimarkdown.ROW_LIMIT, the advice naming the UI's route)."""

from __future__ import annotations

import importlib
import inspect

import pytest

from .flowkit import artifacts_of, run
from .test_sync_flow import _stage_five_deletions


def _deployed_flows() -> dict:
    from flows.deploy import PROCEDURES, USER_SOURCE_PROCEDURES

    return {p.entrypoint: getattr(importlib.import_module(p.module), p.function)
            for p in (*PROCEDURES, *USER_SOURCE_PROCEDURES) if p.available()}


def test_every_parameter_of_every_deployed_flow_is_explained_in_the_run_form():
    from prefect.utilities.callables import parameter_schema, parameter_schema_from_entrypoint

    flows = _deployed_flows()
    assert len(flows) >= 9
    unexplained = []
    for entrypoint, flow in flows.items():
        # the schema `tenantsync deploy` sends (flows/deploy.py) and the one `prefect deploy --all` reads
        for how, schema in (("tenantsync deploy", parameter_schema(flow)),
                            ("prefect deploy", parameter_schema_from_entrypoint(entrypoint))):
            props = schema.model_dump(exclude_unset=True)["properties"]
            assert set(props) == set(inspect.signature(flow.fn).parameters), (entrypoint, how)
            unexplained += [f"{entrypoint}: {name} ({how})" for name, p in props.items()
                            if len(p.get("description") or "") < 25]
    assert not unexplained, "parameters shown without a description in the run form: " + ", ".join(unexplained)


def test_run_form_descriptions_say_what_the_switches_do():
    from flows.sync import sync_cycle

    props = sync_cycle.parameters.model_dump(exclude_unset=True)["properties"]
    said = {name: " ".join(p["description"].split()) for name, p in props.items()}   # docstring lines joined
    assert "SyncConfigBlock" in said["config"]
    assert "Allow deletes" in said["allow_deletes"] and "ForceDeletes" in said["allow_deletes"]
    assert "nothing is written" in said["dry_run"]
    assert "0 does not wait" in said["approval_timeout_s"]


def test_the_approval_form_says_what_approve_does():
    from flows.sync import DeletionApproval

    # built as ask_approval builds it; the schema is what the UI's resume form shows
    form = DeletionApproval.with_initial_data(description="5 deletions staged")
    approve = form.model_json_schema()["properties"]["approve"]
    assert approve["title"] == "Approve the staged deletions" and approve["default"] is False
    text = approve["description"]
    assert "Allow deletes" in text and "ForceDeletes" in text and "--allow-deletes" in text
    assert "stay staged" in text and "quarantined (TooManyDeletes)" in text


@pytest.mark.usefixtures("prefect_harness")
def test_staged_deletions_artifact_fits_the_page_and_names_both_routes(make_config, reports_dir, world):
    from flows.sync import sync_cycle
    from tenantsync.uimarkdown import wide_rows

    cfg, _, _ = _stage_five_deletions(make_config, world)
    state, result = run(sync_cycle, config=str(cfg), approval_timeout_s=0, reports_dir=str(reports_dir))
    assert state.name == "Quarantined" and result["staged"] == 5
    arts = {a.key: a.data for a in artifacts_of(state)}
    staged = arts["emea-to-hq-staged-deletions"]
    assert "| Display name | Action | Reason | Source id | Target id |" in staged
    assert staged.count("| delete |") == 5 and "\nReasons:\n" in staged
    assert "Left the scope" in staged and "(5 users)" in staged       # each reason once, with its count
    assert "Staged: this cycle would" not in staged                     # said once, above the table
    assert wide_rows(staged) == []
    summary = arts["emea-to-hq-summary"]
    assert "tenantsync sync CONFIG --allow-deletes" in summary
    assert "Resume the paused run and tick approve" in summary
    assert "Deployments → sync-cycle/emea-to-hq-incremental → Run → Custom run → allow_deletes: true" in summary
    assert wide_rows(summary) == []


@pytest.mark.usefixtures("prefect_harness")
def test_failed_test_connection_artifacts_fit_the_page(make_config, monkeypatch):
    from flows.connection import test_connection
    from tenantsync.uimarkdown import wide_rows

    monkeypatch.setenv("EMEA_TOKEN", "not-the-token")
    state, _ = run(test_connection, config=str(make_config()))
    arts = {a.key: a for a in artifacts_of(state)}
    report = arts["emea-to-hq-test-connection-report"].data
    assert "| Check | Status | Code |" in report and wide_rows(report) == []
    assert "## What to do" in report and "- **Source credentials** (failed, blocking" in report
    assert "  - What to do: The source credential was refused" in report
    table = arts["emea-to-hq-test-connection"]
    assert "what to do" not in table.data and "Source credentials" in table.data
    assert "test-connection-report" in (table.description or "")
