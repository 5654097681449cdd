"""Report links from a run open in a browser: served by `make ui` over HTTP, or the objects of the
TENANTSYNC_REPORTS_STORE store; small reports also as tables; the store's credentials never show."""

from __future__ import annotations

import json
import re

import fsspec
import httpx
import pytest
from fsspec.implementations.memory import MemoryFileSystem

from tenantsync import report_links

from .flowkit import EMEA_GROUP, artifacts_of, free_port, logs_of, run, source_api

pytestmark = pytest.mark.usefixtures("prefect_harness")

SECRET = "TopSecretSignature42"


@pytest.fixture(autouse=True)
def no_link_settings(monkeypatch):
    for name in (report_links.STORE_ENV, report_links.URL_ENV, report_links.DIR_ENV):
        monkeypatch.delenv(name, raising=False)


def _links(state) -> dict[str, str]:
    """key -> URL of the run's link artifacts (kept as markdown: [text](url))."""
    found = {a.key: re.fullmatch(r"\[[^\]]*\]\(([^()\s]+)\)", str(a.data)) for a in artifacts_of(state)}
    return {key: m.group(1) for key, m in found.items() if m}


def _stage_five_deletions(make_config, world, reports_dir):
    """An initial cycle, five synced users leave the group, the next cycle stages their deletions."""
    from flows.sync import sync_cycle
    from tenantsync.store import Store

    cfg = make_config(deletion_threshold=3)
    state, _ = run(sync_cycle, config=str(cfg), reports_dir=str(reports_dir))
    assert state.is_completed(), state.message
    store = Store.for_url(f"sqlite:///{cfg.parent}/state/emea-to-hq.db")
    api = source_api(world)
    for sid in sorted(s for s, link in store.links("emea-to-hq").items() if link.state == "active")[:5]:
        api.request("DELETE", f"/groups/{EMEA_GROUP}/members/{sid}/$ref")
    api.close()
    state, result = run(sync_cycle, config=str(cfg), approval_timeout_s=0, reports_dir=str(reports_dir))
    assert result["staged"] == 5, state.message
    return cfg


def test_report_links_open_over_http_and_small_reports_are_tables(make_config, world, reports_dir, tmp_path,
                                                                 monkeypatch):
    import tasks.reports
    from flows import ui
    from flows.reports import export_reports

    cfg = _stage_five_deletions(make_config, world, reports_dir)
    children, env = ui.Children(), {**ui.environment(4200, 8765), "PREFECT_HOME": str(tmp_path / "home")}
    try:
        url = ui.serve_reports(children, env, reports_dir.resolve(), free_port())
        for name in (report_links.URL_ENV, report_links.DIR_ENV):       # what the worker of `make ui` gets
            monkeypatch.setenv(name, env[name])
        monkeypatch.setattr(tasks.reports, "PREVIEW_ROWS", 2)

        state, result = run(export_reports, config=str(cfg), out_dir=str(reports_dir))
        assert state.is_completed(), state.message
        links = _links(state)
        assert links["emea-to-hq-report-summary"] == f"{url}/emea-to-hq/summary.html"
        pending = links["emea-to-hq-report-pending-deletions"]
        assert pending == f"{url}/emea-to-hq/pending-deletions.csv"
        answer = httpx.get(pending, timeout=10)                  # what the auditor's browser gets
        assert answer.status_code == 200
        assert answer.text == (reports_dir / "emea-to-hq" / "pending-deletions.csv").read_text(encoding="utf-8")
        assert "<svg" in httpx.get(links["emea-to-hq-report-summary"], timeout=10).text
    finally:
        children.stop()

    tables = {a.key: a for a in artifacts_of(state) if a.type == "table"}
    staged = tables["emea-to-hq-pending-deletions-table"]
    assert len(json.loads(staged.data)) == 2
    assert "first 2 of 5 rows" in staged.description and "3 more in" in staged.description
    assert pending in staged.description                       # the file's link, next to the count
    assert {"displayName", "action", "reason"} <= set(json.loads(staged.data)[0])


class _RefusingFS(MemoryFileSystem):
    """A store that refuses every upload, quoting its options (as some client libraries do)."""

    protocol = "h8flowrefusing"

    def put_file(self, lpath, rpath, **kwargs):
        raise PermissionError(f"AuthorizationFailure for {rpath} with {self.storage_options}")


def _texts(state) -> str:
    """Everything the UI shows of a run: its artifacts and its log lines."""
    logs = logs_of(state)
    return "\n".join([f"{a.data} {a.description}" for a in artifacts_of(state)] + [log.message for log in logs]
                     + [str(state.message)])


def test_reports_go_to_the_store_and_its_secret_never_shows(make_config, world, reports_dir, tmp_path, monkeypatch):
    from flows.reports import export_reports
    from flows.sync import sync_cycle

    bucket = f"h8-{tmp_path.name}"
    monkeypatch.setenv(report_links.STORE_ENV, f"memory://{bucket}/reports?sas_token={SECRET}&sig={SECRET}x")
    cfg = str(make_config())
    state, _ = run(sync_cycle, config=cfg, reports_dir=str(reports_dir))
    assert state.is_completed(), state.message
    links = _links(state)            # the cycle's own links name the stored objects too
    log_links = [v for k, v in links.items() if k.endswith("provisioning-log")]
    assert log_links and log_links[0].startswith(f"memory://{bucket}/reports/emea-to-hq/")
    memory = fsspec.filesystem("memory")
    assert memory.cat_file(log_links[0].removeprefix("memory://")).startswith(b"activityDateTime,")

    state, result = run(export_reports, config=cfg, out_dir=str(reports_dir))
    assert state.is_completed(), state.message
    assert _links(state)["emea-to-hq-report-summary"] == f"memory://{bucket}/reports/emea-to-hq/summary.html"
    assert b"<html" in memory.cat_file(f"/{bucket}/reports/emea-to-hq/summary.html").lower()
    assert f"uploaded to memory://{bucket}/reports" in _texts(state)      # the log names the store, not its key
    assert SECRET not in _texts(state)

    fsspec.register_implementation("h8flowrefusing", _RefusingFS, clobber=True)
    monkeypatch.setenv(report_links.STORE_ENV, f"h8flowrefusing://user:{SECRET}@{bucket}/r?token={SECRET}")
    state, result = run(export_reports, config=cfg, out_dir=str(reports_dir))
    assert state.is_completed(), state.message                 # the files are on disk all the same
    summary = next(a for a in artifacts_of(state) if a.key == "emea-to-hq-report-summary")
    assert "Upload failed" in summary.description and f"h8flowrefusing://{bucket}/r" in summary.description
    assert "AuthorizationFailure" in _texts(state)
    assert SECRET not in _texts(state)


def test_the_failures_table_shows_the_first_failures_and_counts_the_rest(tmp_path, monkeypatch):
    from prefect import flow

    import tasks.reports
    from tenantsync import reports

    rows = [{"cycleId": "c1", "provisioningAction": "create", "status": status, "errorCode": code,
             "sourceIdentity.displayName": f"User {i}", "reason": "x" * 400}
            for i, (status, code) in enumerate([("failure", "InvalidValue"), ("success", ""),
                                                ("failure", "Forbidden"), ("failure", "InvalidValue")])]
    log = reports.write_csv(rows, reports.LOG_COLUMNS, tmp_path / "c1" / "provisioning-log.csv")
    monkeypatch.setattr(tasks.reports, "PREVIEW_ROWS", 2)

    @flow(name="h8-failures-table")
    def publish_failures() -> None:
        tasks.reports.report_tables("emea-to-hq", {"c1/provisioning-log": str(log)},
                                    {"c1/provisioning-log": "http://127.0.0.1:4201/emea-to-hq/c1/provisioning-log.csv"},
                                    failures_of=("c1/provisioning-log", "cycle c1"))

    state = publish_failures(return_state=True)
    table = next(a for a in artifacts_of(state) if a.key == "emea-to-hq-failures-table")
    shown = json.loads(table.data)
    assert [r["sourceIdentity.displayName"] for r in shown] == ["User 0", "User 2"]
    assert [r["errorCode"] for r in shown] == ["InvalidValue", "Forbidden"]
    assert len(shown[0]["reason"]) <= tasks.reports.MAX_CELL             # long cells shortened
    assert "first 2 of 3 rows" in table.description and "1 more in [provisioning-log.csv](http://" in table.description
