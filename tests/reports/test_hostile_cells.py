"""Hostile source values through every CSV the product writes, read back as a spreadsheet would.

A displayName is whatever the source tenant holds: line breaks, NUL, tabs, formula starts and
Unicode line separators included. Each report must keep one row per object (a raw carriage return
in an unquoted cell starts a new row whose first cell runs as a formula), hold no cell a
spreadsheet would run (OWASP "CSV Injection") and no NUL.
"""

from __future__ import annotations

import csv
from pathlib import Path
from types import SimpleNamespace

import pytest

from tenantsync import csvsafe, reports
from tenantsync.ops.disable_sms import COLUMNS as SMS_COLUMNS
from tenantsync.ops.disable_sms import SmsRepairResult, write_report
from tenantsync.store import JobStatus, Store
from tenantsync.usersource.upn_suffix import readiness, write_readiness_report

HOSTILE = ["\r=1+1", "a\n=2+2", "x\x00y", "\t=3", "=4+4", "+5", "-6", "@SUM(A1)", "a\u2028=7",
           "b\u2029=8", "c\x85=9", '"q", =HYPERLINK("x")', " =10", "\r\n@11", "\x00=12", "'\r=13"]
CONFIG = "emea-to-hq"


def _read(path: Path) -> list[list[str]]:
    raw = path.read_bytes()
    assert b"\x00" not in raw, path
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.reader(f))


def _runs_as_formula(value: str) -> bool:
    return value.lstrip(" ").startswith(csvsafe.FORMULA_STARTS)


def _check(path: Path, objects: int) -> list[list[str]]:
    """One row per object after the header, no cell a spreadsheet would run."""
    rows = _read(path)
    assert len(rows) == objects + 1, (path, rows)
    width = len(rows[0])
    for row in rows:
        assert len(row) == width, (path, row)
        for value in row:
            assert not _runs_as_formula(value), (path, value)
            if any(ch in value for ch in "\r\n\t\x85\u2028\u2029"):
                assert value.startswith("'"), (path, value)     # control characters: neutralised
    return rows


def _expected(value: str) -> str:
    text = value.replace("\x00", "")
    return text if text.startswith("'") else "'" + text if (
        _runs_as_formula(text) or any(ord(c) < 32 or 0x7f <= ord(c) <= 0x9f or c in "\u2028\u2029"
                                      for c in text)) else text


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(f"sqlite:///{tmp_path / 'state.db'}")
    yield s
    s.close()


def test_store_reports_keep_one_row_per_object(store: Store, tmp_path: Path) -> None:
    cid = store.start_cycle(CONFIG, "initial")
    store.append_log(CONFIG, [
        {"jobId": CONFIG, "cycleId": cid, "provisioningAction": "create", "status": "failure",
         "reason": value, "errorCode": value, "sourceIdentity.id": f"s{i}", "sourceIdentity.displayName": value,
         "targetIdentity.id": f"t{i}", "targetIdentity.displayName": value,
         "modifiedProperties": [{"displayName": "displayName", "oldValue": value, "newValue": value}]}
        for i, value in enumerate(HOSTILE)])
    store.finish_cycle(CONFIG, cid, counts={"create": len(HOSTILE), "failure": len(HOSTILE)},
                       status="failure", job=JobStatus(code="Active"), error="\r=1+1 failed\n@x")
    store.stage_deletions(CONFIG, cid, [
        {"source_id": f"s{i}", "target_id": f"t{i}", "action": "delete", "reason": value, "displayName": value}
        for i, value in enumerate(HOSTILE)])
    for value in HOSTILE:
        store.record_notification(CONFIG, "quarantine", value, f"body {value}", value)
    files = reports.export_all(store, CONFIG, tmp_path)

    log = _check(tmp_path / CONFIG / cid / "provisioning-log.csv", len(HOSTILE))
    by_name = [dict(zip(log[0], row, strict=True)) for row in log[1:]]
    assert sorted(r["sourceIdentity.displayName"] for r in by_name) == sorted(map(_expected, HOSTILE))
    assert all(r["modifiedProperties"].startswith("[") for r in by_name)   # JSON stays JSON
    cycles = _check(files["cycles"], 1)
    assert dict(zip(cycles[0], cycles[1], strict=True))["error"] == "'\r=1+1 failed\n@x"
    pending = _check(files["pending-deletions"], len(HOSTILE))
    assert sorted(r[2] for r in pending[1:]) == sorted(map(_expected, HOSTILE))
    _check(files["notifications"], len(HOSTILE))


def test_operation_reports_keep_one_row_per_object(tmp_path: Path) -> None:
    path = reports.write_pending_acceptance(
        [{"displayName": v, "userPrincipalName": f"u{i}#EXT#@hq.example", "id": f"u{i}", "mail": v}
         for i, v in enumerate(HOSTILE)], tmp_path / "pending-acceptance.csv")
    rows = _check(path, len(HOSTILE))
    assert [r[0] for r in rows[1:]] == [_expected(v) for v in HOSTILE]

    sms = SmsRepairResult(CONFIG, dry_run=False, rows=[
        {"id": f"u{i}", "userPrincipalName": v, "displayName": v, "phoneMethodId": v,
         "smsSignInStateBefore": "ready", "smsSignInStateAfter": v, "outcome": f"failed: {v}"}
        for i, v in enumerate(HOSTILE)])
    rows = _check(write_report(sms, tmp_path / "sms-sign-in.csv"), len(HOSTILE))
    assert rows[0] == list(SMS_COLUMNS)

    users = [{"id": v, "userPrincipalName": f"{v}@contoso.com", "mailNickname": v} for v in HOSTILE]
    files = write_readiness_report(readiness(users, [{"id": "contoso.com", "isVerified": True,
                                                      "isInitial": True}], "contoso.com"), tmp_path)
    _check(files["upn-suffixes"], 1)
    rows = _check(files["upn-suffix-users"], len(HOSTILE))
    assert sorted(r[0] for r in rows[1:]) == sorted(map(_expected, HOSTILE))


def test_user_source_directory_report_keeps_one_row_per_object(tmp_path: Path) -> None:
    from tenantsync.connectors.directory_target import DirectoryTarget, UserRecord
    from tenantsync.usersource.report import export_report

    from ..usersource.usworld import make_config

    url = f"sqlite:///{tmp_path / 'directory.db'}"
    cfg = make_config(SimpleNamespace(url="http://127.0.0.1:9"), url)
    d = DirectoryTarget.for_url(url)
    d.apply_users(cfg.name, [UserRecord(f"u{i}", {"user_principal_name": f"u{i}@x.example", "display_name": v},
                                        {"costCenter": v}, {"id": f"u{i}"}) for i, v in enumerate(HOSTILE)])
    d.close()
    files = export_report(cfg, tmp_path / "out")
    rows = _check(files["directory-users"], len(HOSTILE))
    column = rows[0].index("displayName")
    assert sorted(r[column] for r in rows[1:]) == sorted(map(_expected, HOSTILE))


def test_no_file_is_left_half_written(tmp_path: Path) -> None:
    def rows():
        yield ["a"]
        raise OSError("disk full")

    path = tmp_path / "x.csv"
    csvsafe.write_rows(path, ["h"], [["old"]])
    with pytest.raises(OSError):
        csvsafe.write_rows(path, ["h"], rows())
    assert _read(path) == [["h"], ["old"]] and [p.name for p in tmp_path.iterdir()] == ["x.csv"]
