"""The Prefect UI of `make ui`, driven in headless Chromium as an administrator would use it.

The stack of `make ui` (tests/ui/stack.py: flows/ui.py's own functions, free ports, everything
under tmp). While the browser looks at the deployments, the worker already runs what the later
steps need: a provision on demand of two EMEA users, the first cycles of US → HQ.

1. The Deployments page lists every deployment of the sample configurations.
2. A custom run from the deployment's Run → Custom run form (dry_run switched on, the reports
   folder typed in): it completes, and each of its artifacts, and those of the on-demand run,
   render in the UI: tables with rows, no empty <details>, report links that a browser can open
   (http, served by `make ui`) and that return the CSV.
3. A cycle that stages more deletions than the threshold is suspended; the run's Resume dialog explains
   the staged deletions and shows the approve switch; approving it applies them.

TENANTSYNC_UI_SCREENSHOTS=1 writes docs/img/ui-deployments.png and docs/img/ui-approval.png.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tenantsync.reports import CYCLE_COLUMNS, LOG_COLUMNS, PENDING_DELETION_COLUMNS
from tenantsync.store import Store

from .pages import (
    Seen,
    artifact_page,
    click_link,
    click_text,
    form_field,
    link_of,
    markdown_tables,
    open_page,
    read,
    reload_until,
    screenshot,
    switch_on,
    type_over,
    wait,
    wait_seen,
)
from .stack import Stack

# its own xdist group (inert while pytest 9.2 and xdist 3.8 do not group: pytest-dev/pytest-xdist#1386)
pytestmark = [pytest.mark.prefect, pytest.mark.xdist_group("ui")]

ZOE = "2c61be39-a49f-4975-a086-bbe7b399a465"          # an EMEA user in scope (see data/samples/README.md)
SVC_PRINT = "d43b950b-b3b2-41f9-9aca-f42173d76cf0"    # in the group, rejected by the scoping filter
US_GROUP = "5f811d21-c114-45ba-8808-91fd515f6989"      # data/configs/us-to-hq.yaml's assigned group
SAMPLE_DEPLOYMENTS = {f"{flow}/{config}{suffix}"
                      for config in ("emea-to-hq", "emea-to-hq-entra", "us-to-hq")
                      for flow, suffix in [("sync-cycle", "-incremental"), ("sync-cycle", "-initial"),
                                           ("provision-on-demand", ""), ("repair-upn", ""), ("test-connection", ""),
                                           ("setup", ""), ("disable-sms", ""), ("delete-config", ""),
                                           ("export-reports", "-daily")]} | {
    "user-source-sync/emea-user-source", "export-reports/emea-user-source-daily"}
DIALOG = "//*[@role='dialog']"
REFUSED = "error while creating flow run"       # the UI's message when the API refuses (e.g. 503)
HEADERS = {"provisioning-log.csv": LOG_COLUMNS, "cycles.csv": CYCLE_COLUMNS,
           "pending-deletions.csv": PENDING_DELETION_COLUMNS}


def test_make_ui_in_a_browser(browser: WebDriver, stack: Stack, shots: Path) -> None:
    """The three steps in one test, so that one stack serves them however xdist distributes tests
    (`--dist loadgroup` does not group with pytest 9.2: pytest-dev/pytest-xdist#1386). A failed step
    does not stop the next ones; the test fails naming every failed step."""
    set_up(stack, "emea-to-hq")             # `tenantsync setup`: a dry run needs it
    on_demand = stack.start("provision-on-demand/emea-to-hq", user_ids=[ZOE, SVC_PRINT])
    failures: list[str] = []
    with ThreadPoolExecutor(1) as background:       # while the browser looks at other pages
        paused = background.submit(stage_deletions, stack)
        steps: list[tuple[str, Callable[[], None]]] = [
            ("the Deployments page", lambda: deployments_page(browser, stack, shots)),
            ("a custom run and its artifacts", lambda: custom_run(browser, stack, on_demand)),
            ("the approval dialog", lambda: approval(browser, stack, paused, shots))]
        for name, step in steps:
            started, outcome = time.monotonic(), "ok"
            try:
                step()
            except Exception as exc:            # AssertionError, or the browser's own errors
                failures.append(f"{name}: " + "".join(traceback.format_exception(exc, limit=-3)))
                outcome = "FAILED"
            print(f"{name}: {outcome} ({time.monotonic() - started:.1f} s)")
    assert not failures, "\n\n".join(failures)


def set_up(stack: Stack, config: str) -> None:
    from tenantsync.config import load_config
    from tenantsync.ops.setup import SetupReport, run_setup

    with pytest.MonkeyPatch.context() as env:
        for name in ("TENANTSYNC_GRAPH_URL", "EMEA_TOKEN", "US_TOKEN", "HQ_TOKEN"):
            env.setenv(name, stack.env[name])
        report = run_setup(load_config(stack.configs[config]))
        assert isinstance(report, SetupReport)                                  # an engine configuration
        assert report.anchor.action in ("registered", "found")


def stage_deletions(stack: Stack) -> str:
    """The initial cycle of US → HQ; five synced users leave the assigned group; the next cycle plans
    five deletions, above the threshold of 3 (the copy's setting), and pauses. Its flow run id."""
    with httpx.Client(timeout=30) as own:       # this thread's own connections
        return _stage_deletions(replace(stack, http=own))


def _stage_deletions(stack: Stack) -> str:
    first = stack.start("sync-cycle/us-to-hq-initial")
    done = stack.wait(first)
    assert done["state"]["type"] == "COMPLETED", f"{done['state']}\n{stack.log_text(first)}"
    store = Store.for_url(f"sqlite:///{(stack.state_dir / 'us-to-hq.db').as_posix()}")
    leaving = sorted(s for s, link in store.links("us-to-hq").items() if link.state == "active")[:5]
    assert len(leaving) == 5
    with httpx.Client(base_url=stack.env["TENANTSYNC_GRAPH_URL"], timeout=30,
                      headers={"Authorization": f"Bearer {stack.env['US_TOKEN']}"}) as graph:
        for sid in leaving:
            graph.delete(f"/groups/{US_GROUP}/members/{sid}/$ref").raise_for_status()
    run_id = stack.start("sync-cycle/us-to-hq-incremental")
    paused = stack.wait(run_id, until={"PAUSED", "COMPLETED", "FAILED", "CRASHED", "CANCELLED"})
    assert paused["state"]["type"] == "PAUSED", f"{paused['state']}\n{stack.log_text(run_id)}"
    return run_id


def deployments_page(browser: WebDriver, stack: Stack, shots: Path) -> None:
    """The Deployments page lists every deployment of the sample configurations, Ready."""
    # "Ready" once the worker has asked for work (it starts last, as in `make ui`)
    seen = reload_until(browser, f"{stack.ui_url}/v2/deployments?limit=50", "every sample deployment, Ready",
                        lambda page: "Not Ready" not in page.text and all(
                            any(name in row.split("\n") and flow in row.split("\n") and "Ready" in row
                                for row in page.rows)
                            for flow, name in (x.split("/") for x in SAMPLE_DEPLOYMENTS)))
    assert f"{len(SAMPLE_DEPLOYMENTS)} Deployments" in seen.text
    assert "1 schedules" in seen.text or "Every 40 minutes" in seen.text       # the incremental cycles
    screenshot(browser, shots / "ui-deployments.png")


def custom_run(browser: WebDriver, stack: Stack, on_demand_id: str) -> None:
    """Run → Custom run of emea-to-hq-initial with dry_run on: it completes, and its artifacts and
    those of the on-demand run render, their report links returning the CSV."""
    deployment = stack.deployment("sync-cycle/emea-to-hq-initial")

    def fill_the_form() -> None:
        open_page(browser, f"{stack.ui_url}/v2/deployments?limit=50", "emea-to-hq-initial")
        click_link(browser, f"/deployments/deployment/{deployment['id']}")
        click_text(browser, "Run")
        click_text(browser, "Custom run", role="menuitem")
        switch_on(form_field(browser, "dry_run"))
        type_over(form_field(browser, "reports_dir"), str(stack.reports_dir))

    before = {r["id"] for r in stack.runs_of(deployment["id"])}

    def outcome(d: WebDriver) -> list[dict[str, Any]] | str | None:
        made = [r for r in stack.runs_of(deployment["id"]) if r["id"] not in before]
        if made:
            return made
        refused = [line for line in read(d).text.splitlines() if REFUSED in line]
        return refused[0] if refused else None

    for attempt in range(1, 4):
        fill_the_form()
        click_text(browser, "Submit")
        made = wait(browser, "the new flow run", outcome)
        if not isinstance(made, str):
            break
        # Prefect's answer 503 (SQLite "database is locked" while the worker writes; its Python
        # client retries, the UI does not: PrefectHQ/prefect#16102): open the form again and
        # submit again, as a user would (the error toast may stay up).
        print(f"custom run, attempt {attempt}: the UI said {made!r}; submitting again")
        time.sleep(2)
    assert isinstance(made, list), f"the UI refused the custom run three times: {made}"
    assert len(made) == 1
    run_id = made[0]["id"]
    assert made[0]["parameters"]["dry_run"] is True
    run = stack.wait(run_id)
    assert run["state"]["type"] == "COMPLETED", f"{run['state']}\n{stack.log_text(run_id)}"

    seen = open_page(browser, f"{stack.ui_url}/v2/runs/flow-run/{run_id}", "Completed")
    assert run["name"].startswith("emea-to-hq") and run["name"] in seen.text
    links = [link for link in map(link_of, stack.artifacts(run_id)) if link]
    assert any(link.endswith("/provisioning-log.csv") for link in links), links   # fetched below
    problems = check_artifacts(browser, stack, run_id, ui="v2")
    on_demand = stack.wait(on_demand_id)
    assert on_demand["state"]["type"] == "COMPLETED", f"{on_demand['state']}\n{stack.log_text(on_demand_id)}"
    for ui in ("v2", "v1"):          # the on-demand artifact's <details> sections, in both UIs
        problems += check_artifacts(browser, stack, on_demand_id, ui=ui)
    assert not problems, "\n".join(problems)


def check_artifacts(browser: WebDriver, stack: Stack, run_id: str, ui: str) -> list[str]:
    """Open the run's Artifacts tab and each artifact: what is wrong with what the UI shows."""
    artifacts = stack.artifacts(run_id)
    assert artifacts, f"run {run_id} has no artifact"
    base = f"{stack.ui_url}/v2" if ui == "v2" else stack.ui_url
    problems: list[str] = []
    if ui == "v2":
        tab = open_page(browser, f"{base}/runs/flow-run/{run_id}?tab=Artifacts", artifacts[0]["key"])
        tab = wait_seen(browser, "every artifact on the Artifacts tab",
                        lambda page: all(a["key"] in page.text for a in artifacts))
        problems += [f"{a['key']}: no link to its page on the Artifacts tab" for a in artifacts
                     if not any(link.endswith(f"/artifacts/artifact/{a['id']}") for link in tab.links)]
    for artifact in artifacts:
        seen = artifact_page(browser, f"{base}/artifacts/artifact/{artifact['id']}", artifact)
        problems += [f"{ui} {artifact['key']}: {p}" for p in artifact_problems(seen, artifact)]
    return problems


def artifact_problems(seen: Seen, artifact: dict[str, Any]) -> list[str]:
    problems = []
    if artifact["key"] not in seen.text:
        problems.append("the page does not show the artifact")
    data, kind = str(artifact.get("data") or ""), artifact["type"]
    expected = 1 if kind == "table" else markdown_tables(data) if kind == "markdown" else 0
    if len(seen.tables) < expected:
        problems.append(f"{len(seen.tables)} table(s) rendered, the artifact holds {expected}")
    problems += [f"a table with no rows{' (in <details>)' if t['in_details'] else ''}"
                 for t in seen.tables if t["rows"] == 0]
    problems += [f"<details> {d['summary'].strip()!r} is empty (no table rows inside)"
                 for d in seen.details if d["rows"] == 0]
    if "<details" in data and not seen.details:
        problems.append("its <details> sections are not rendered")
    link = link_of(artifact)
    if link is not None:
        problems += link_problems(link, seen)
    return problems


def link_problems(link: str, seen: Seen) -> list[str]:
    """A report link: shown on the page, http(s), and what it returns is the report."""
    if link not in seen.links:
        return [f"the link {link} is not on the page"]
    if not link.startswith(("http://", "https://")):
        return [f"the link {link} is not http(s): a browser does not open it from the UI"]
    answer = httpx.get(link, timeout=10)
    if answer.status_code != 200:
        return [f"GET {link}: {answer.status_code}"]
    name = link.rsplit("/", 1)[-1]
    if name in HEADERS and answer.text.splitlines()[0] != ",".join(HEADERS[name]):
        return [f"GET {link} is not {name}: {answer.text[:200]!r}"]
    return []


def approval(browser: WebDriver, stack: Stack, paused: Future[str], shots: Path) -> None:
    """The paused cycle's Resume dialog (V1 and V2) explains the staged deletions and shows the
    approve switch; approving applies them."""
    run_id = paused.result(timeout=300)
    # a deployment's run waits suspended, off its worker (flows/_approval.py): still waiting?
    assert stack.run(run_id)["state"]["name"] == "Suspended", f"{stack.run(run_id)['state']}\n{stack.log_text(run_id)}"
    for ui in ("v1", "v2"):             # v2 last: its dialog is the screenshot, and approves
        text = resume_dialog(browser, stack, run_id, ui)
        assert "5 deletions" in text and "threshold of 3" in text, text
        assert "staged" in text, text          # what approving means, next to the switch
        approve = form_field(browser, "Approve", within=DIALOG)
        assert approve.get_attribute("role") == "switch" and approve.get_attribute("aria-checked") == "false"
        pending = [a for a in read(browser).links if a.endswith("pending-deletions.csv")]
        assert pending and not link_problems(pending[0], read(browser)), (pending, text)
        if ui == "v1":
            click_text(browser, "Close", within=DIALOG)
    screenshot(browser, shots / "ui-approval.png")

    switch_on(form_field(browser, "Approve", within=DIALOG))
    click_text(browser, "Resume", within=DIALOG)
    done = stack.wait(run_id)
    assert done["state"]["type"] == "COMPLETED", f"{done['state']}\n{stack.log_text(run_id)}"
    assert "delete 5" in str(done["state"]["message"]), done["state"]
    open_page(browser, f"{stack.ui_url}/v2/runs/flow-run/{run_id}", "Completed")
    wait_seen(browser, "the run's log saying the deletions were approved", lambda page: "approved" in page.text)


def resume_dialog(browser: WebDriver, stack: Stack, run_id: str, ui: str) -> str:
    """Open the paused run's page and its Resume dialog (V1: a button; V2: the run's menu); its text."""
    if ui == "v1":
        open_page(browser, f"{stack.ui_url}/runs/flow-run/{run_id}", "Suspended")
        click_text(browser, "Resume")
    else:
        open_page(browser, f"{stack.ui_url}/v2/runs/flow-run/{run_id}", "Suspended")
        click_text(browser, "Open menu", within="//main")
        click_text(browser, "Resume", role="menuitem")
    return wait(browser, "the Resume dialog with the approve field", lambda d: next(
        (e.text for e in d.find_elements(By.XPATH, DIALOG) if "Approve" in e.text), None))
