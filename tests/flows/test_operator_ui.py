"""What an administrator reads in the Prefect UI: every parameter of every
deployment explained in the run form, the approval form's box explained, and artifacts that fit the
page (no table row wider than tenantsync/uimarkdown.ROW_LIMIT, the advice naming the UI's route)."""

from __future__ import annotations

import importlib
import inspect
import json
import threading
import time

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


def _read_the_form_and_reject(seen: dict) -> None:
    """As an administrator in the UI: open the paused run's resume form, leave approve unticked."""
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType
    from prefect.client.schemas.objects import StateType
    from prefect.flow_runs import resume_flow_run
    from prefect.input.run_input import keyset_from_paused_state

    paused = FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED])))
    deadline = time.monotonic() + 60
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            for fr in client.read_flow_runs(flow_run_filter=paused):
                keyset = keyset_from_paused_state(fr.state)
                seen["schema"] = json.loads(client.read_flow_run_input(fr.id, keyset["schema"]))
                seen["description"] = json.loads(client.read_flow_run_input(fr.id, keyset["description"]))
                resume_flow_run(fr.id, run_input={"approve": False})
                return
            time.sleep(0.5)


@pytest.mark.usefixtures("prefect_harness")
def test_staged_deletions_form_and_artifacts_explain_themselves(make_config, reports_dir, world):
    from flows.sync import sync_cycle
    from tenantsync.uimarkdown import wide_rows

    cfg, _, _ = _stage_five_deletions(make_config, world)
    seen: dict = {}
    admin = threading.Thread(target=_read_the_form_and_reject, args=(seen,), daemon=True)
    admin.start()
    state, result = run(sync_cycle, config=str(cfg), approval_timeout_s=60, reports_dir=str(reports_dir))
    admin.join(5)
    assert state.name == "Quarantined" and result["staged"] == 5
    # the resume form the UI showed: the box explained, the dialog's text naming the field
    approve = seen["schema"]["properties"]["approve"]
    assert approve["title"] == "Approve the staged deletions"
    assert "Allow deletes" in approve["description"] and "stay staged" in approve["description"]
    assert "Tick **approve** (Approve the staged deletions)" in seen["description"]

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


def test_a_cycle_summarys_failures_fit_the_page():
    from flows._cycle import failures_md
    from tenantsync.model import Action
    from tenantsync.uimarkdown import wide_rows

    why = ("The target tenant refused the invitation: the source user's UPN suffix is blocked by the target's "
           "cross-tenant access settings (B2B collaboration, inbound, users and groups).")
    actions = [Action("create", f"0a000000-0000-4000-8000-{i:012d}", None, display_name=f"Failing User {i}",
                      reason=why, status="failure", error_code="AzureActiveDirectoryForbidden") for i in range(25)]
    md = "\n".join(failures_md(actions))
    assert "### Failures (25)" in md and md.count("| create |") == 20
    assert md.count(why) == 1 and "(20 users)" in md and "5 more in provisioning-log.csv." in md
    assert wide_rows(md) == []
