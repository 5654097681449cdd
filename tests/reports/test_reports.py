"""The CSV and HTML exports (docs/contracts.md#reports), written from a real (SQLite) state store."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from tenantsync import reports
from tenantsync.store import JobStatus, Store


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(f"sqlite:///{tmp_path / 'state.db'}")
    yield s
    s.close()


def _log_row(cycle_id: str, action: str, status: str, name: str, **extra: object) -> dict:
    return {"jobId": "emea-to-hq", "cycleId": cycle_id, "provisioningAction": action, "status": status,
            "reason": extra.pop("reason", "because"), "sourceIdentity.id": "s-" + name,
            "sourceIdentity.displayName": name, "targetIdentity.id": "t-" + name,
            "targetIdentity.displayName": name,
            "modifiedProperties": [{"displayName": "department", "oldValue": "Sales",
                                    "newValue": "=cmd|' /C calc'!A0"}],
            "provisioningSteps": [{"name": "EntryImport", "provisioningStepType": "import", "status": "success",
                                   "description": "Retrieved", "details": {}}],
            "durationInMilliseconds": 12, **extra}


def _cycle(store: Store, kind: str, rows: list[dict], counts: dict) -> str:
    cid = store.start_cycle("emea-to-hq", kind)
    store.append_log("emea-to-hq", [dict(r, cycleId=cid) for r in rows])
    store.finish_cycle("emea-to-hq", cid, counts=counts, status="failure" if counts.get("failure") else "success",
                       job=JobStatus(code="Active"))
    return cid


def _read(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.reader(f))


@pytest.fixture
def two_cycles(store: Store) -> tuple[str, str]:
    first = _cycle(store, "initial", [_log_row("", "create", "success", "Ann"),
                                      _log_row("", "create", "failure", "@Bob", errorCode="InvalidDomain")],
                   {"create": 2, "success": 1, "failure": 1})
    second = _cycle(store, "incremental", [_log_row("", "update", "success", "-Carl", reason="+SUM(A1)")],
                    {"update": 1, "success": 1})
    return first, second


def test_provisioning_log_has_exactly_the_design_columns(store: Store, two_cycles, tmp_path: Path) -> None:
    first, _ = two_cycles
    files = reports.export_cycle(store, "emea-to-hq", first, tmp_path / "out")
    log = files["provisioning-log"]
    assert log == tmp_path / "out" / "emea-to-hq" / first / "provisioning-log.csv"
    rows = _read(log)
    assert rows[0] == ["activityDateTime", "id", "jobId", "cycleId", "changeId", "provisioningAction", "status",
                       "errorCode", "reason", "sourceIdentity.id", "sourceIdentity.displayName",
                       "targetIdentity.id", "targetIdentity.displayName", "modifiedProperties",
                       "provisioningSteps", "durationInMilliseconds"]
    assert len(rows) == 3 and {r[3] for r in rows[1:]} == {first}
    steps = rows[1][14]
    assert steps.startswith("[") and '"provisioningStepType": "import"' in steps
    assert rows[2][7] == "InvalidDomain"


def test_cycles_csv_has_one_row_per_cycle_with_counts(store: Store, two_cycles, tmp_path: Path) -> None:
    first, second = two_cycles
    files = reports.export_all(store, "emea-to-hq", tmp_path)
    rows = _read(files["cycles"])
    head = rows[0]
    assert head[:4] == ["cycleId", "kind", "dryRun", "started"]
    for col in ("ended", "create", "update", "delete", "disable", "stagedDelete", "success", "failure",
                "jobStatus", "quarantineReason"):
        assert col in head
    assert [r[0] for r in rows[1:]] == [first, second]
    by = dict(zip(head, rows[1], strict=True))
    assert (by["kind"], by["create"], by["failure"], by["jobStatus"]) == ("initial", "2", "1", "Active")
    assert (tmp_path / "emea-to-hq" / second / "provisioning-log.csv").exists()


def test_cells_that_would_run_as_formulas_are_neutralised(store: Store, two_cycles, tmp_path: Path) -> None:
    files = reports.export_all(store, "emea-to-hq", tmp_path)
    _, second = two_cycles
    text = (tmp_path / "emea-to-hq" / two_cycles[0] / "provisioning-log.csv").read_text(encoding="utf-8")
    assert "'@Bob" in text
    rows = _read(tmp_path / "emea-to-hq" / second / "provisioning-log.csv")
    by = dict(zip(rows[0], rows[1], strict=True))
    assert by["sourceIdentity.displayName"] == "'-Carl"
    assert by["reason"] == "'+SUM(A1)"
    assert files["summary"].exists()
    for path in tmp_path.rglob("*.csv"):
        for row in _read(path):
            for value in row:
                assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), (path, value)


@pytest.mark.parametrize("value,expected", [("=1+1", "'=1+1"), ("+1", "'+1"), ("-1", "'-1"), ("@SUM(A1)", "'@SUM(A1)"),
                                            ("\tx", "'\tx"), ("\rx", "'\rx"), ("a=b", "a=b"), ("", ""),
                                            (None, ""), (5, "5"), (True, "true")])
def test_cell_neutralisation(value: object, expected: str) -> None:
    assert reports.cell(value) == expected


def test_pending_acceptance_csv(tmp_path: Path) -> None:
    path = reports.write_pending_acceptance(
        [{"displayName": "=Eve", "userPrincipalName": "eve_fabrikam.com#EXT#@hq.onmicrosoft.com", "id": "u1",
          "mail": "eve@fabrikam.com", "createdDateTime": "2026-01-02T03:04:05Z", "other": "x"},
         {"DisplayName": "Dan", "UserPrincipalName": "dan@x", "id": "u2"}],
        tmp_path / "pending-acceptance.csv")
    rows = _read(path)
    assert rows[0] == ["DisplayName", "UserPrincipalName", "id", "mail", "createdDateTime"]
    assert rows[1] == ["'=Eve", "eve_fabrikam.com#EXT#@hq.onmicrosoft.com", "u1", "eve@fabrikam.com",
                       "2026-01-02T03:04:05Z"]
    assert rows[2] == ["Dan", "dan@x", "u2", "", ""]


def test_pending_deletions_and_notifications_written_only_when_any(store: Store, two_cycles, tmp_path: Path) -> None:
    files = reports.export_all(store, "emea-to-hq", tmp_path)
    assert "pending-deletions" not in files and "notifications" not in files
    store.stage_deletions("emea-to-hq", two_cycles[1], [
        {"source_id": "s1", "target_id": "t1", "action": "delete", "reason": "left the assigned group",
         "displayName": "Ann"}])
    store.record_notification("emea-to-hq", "quarantine", "tenantsync: quarantined", "body", "ops@contoso.com")
    files = reports.export_all(store, "emea-to-hq", tmp_path)
    rows = _read(files["pending-deletions"])
    assert rows[0][:5] == ["sourceIdentity.id", "targetIdentity.id", "displayName", "action", "reason"]
    assert rows[1][:5] == ["s1", "t1", "Ann", "delete", "left the assigned group"]
    assert _read(files["notifications"])[1][1:4] == ["quarantine", "ops@contoso.com", "tenantsync: quarantined"]
    store.clear_staged("emea-to-hq")
    reports.export_all(store, "emea-to-hq", tmp_path)
    assert not (tmp_path / "emea-to-hq" / "pending-deletions.csv").exists()


def test_html_summary_has_an_svg_chart_and_no_script(store: Store, two_cycles, tmp_path: Path) -> None:
    files = reports.export_all(store, "emea-to-hq", tmp_path)
    page = files["summary"].read_text(encoding="utf-8")
    assert files["summary"] == tmp_path / "emea-to-hq" / "summary.html"
    assert "<svg" in page and "</svg>" in page
    assert "<script" not in page.lower() and not re.search(r"(src|href)=\"https?://", page)
    assert page.count("<rect") >= 3          # bars for creates/updates (plus background and legend)
    assert "failures" in page and two_cycles[0] in page
    empty = reports.chart_svg([])
    assert empty.startswith("<svg") and "no cycle yet" in empty and "<polyline" not in empty


def test_html_escapes_names(tmp_path: Path) -> None:
    path = reports.write_summary("x", [], [{"displayName": "<script>alert(1)</script>"}], [],
                                 tmp_path / "s.html")
    page = path.read_text(encoding="utf-8")
    assert "<script" not in page and "<td>&lt;script&gt;alert(1)&lt;/script&gt;</td>" in page


def test_a_display_name_with_markup_is_text_in_summary_html(store: Store, two_cycles, tmp_path: Path) -> None:
    store.stage_deletions("emea-to-hq", two_cycles[1], [
        {"source_id": "s1", "target_id": "t1", "action": "delete", "reason": 'left "Sales" & <b>HR</b>',
         "displayName": "<script>alert('x')</script>"}])
    store.record_notification("emea-to-hq", "quarantine", "<img src=x onerror=alert(1)>", "body", "ops@contoso.com")
    page = reports.export_all(store, "emea-to-hq", tmp_path)["summary"].read_text(encoding="utf-8")
    assert "<script" not in page.lower() and "<img" not in page and "<b>" not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page
    assert "left &#34;Sales&#34; &amp; &lt;b&gt;HR&lt;/b&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page


def test_summary_counts_failures_per_error_code_of_the_last_failing_cycle(store: Store, tmp_path: Path) -> None:
    first = _cycle(store, "initial", [_log_row("", "create", "failure", "A", errorCode="InvalidDomain"),
                                      _log_row("", "update", "failure", "B", errorCode="InvalidDomain"),
                                      _log_row("", "create", "failure", "C", errorCode="ServiceUnavailable"),
                                      _log_row("", "create", "failure", "D"),
                                      _log_row("", "create", "success", "E")],
                   {"create": 4, "update": 1, "failure": 4, "success": 1})
    _cycle(store, "incremental", [_log_row("", "update", "success", "F")], {"update": 1, "success": 1})
    page = reports.export_all(store, "emea-to-hq", tmp_path)["summary"].read_text(encoding="utf-8")
    section = page.split("<h2>Failures by error code</h2>", 1)[1].split("<h2>", 1)[0]
    assert first in section
    body = re.findall(r"<tr><td>(.*?)</td></tr>", section)
    assert [re.split(r"</td><td>", row) for row in body] == [
        ["InvalidDomain", "2", "1", "1"], ["ServiceUnavailable", "1", "1", "0"], ["unknown", "1", "1", "0"]]
    assert re.search(r"<th>errorCode</th><th>failures</th><th>create</th><th>update</th></tr>", section)
    assert "<td>4</td>" in page.split("<h2>Totals</h2>", 1)[1].split("<h2>", 1)[0]   # failures over both cycles


def test_summary_says_when_no_cycle_failed(store: Store, tmp_path: Path) -> None:
    _cycle(store, "initial", [_log_row("", "create", "success", "A")], {"create": 1, "success": 1})
    page = reports.export_all(store, "emea-to-hq", tmp_path)["summary"].read_text(encoding="utf-8")
    assert "No cycle has failed provisioning events." in page


def test_export_cycle_refuses_an_unknown_cycle(store: Store, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no cycle"):
        reports.export_cycle(store, "emea-to-hq", "nope", tmp_path)


def test_repair_report_columns(tmp_path: Path) -> None:
    path = reports.write_repair_report([{"DisplayName": "Zoë Müller", "id": "t1", "mail": "zoe.muller@emea.contoso.com",
                                         "oldUpn": "a#EXT#@hq", "newUpn": "b#EXT#@hq", "outcome": "repaired",
                                         "why": "", "sourceId": "s1", "matchedBy": "mail"}], tmp_path / "r.csv")
    rows = _read(path)
    assert rows[0] == list(reports.REPAIR_COLUMNS)
    assert rows[1][0] == "Zoë Müller" and rows[1][5] == "repaired"
