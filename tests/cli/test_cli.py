"""The command line: help, the tools that never start Prefect, and clear errors on bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import app

REPO = Path(__file__).resolve().parents[2]
runner = CliRunner()

COMMANDS = ("emulator", "expression", "setup", "test-connection", "sync", "provision", "repair-upn",
            "user-source", "report", "render", "demo")


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_help_lists_every_command() -> None:
    result = invoke("--help")
    assert result.exit_code == 0
    for command in COMMANDS:
        assert command in result.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_has_help(command: str) -> None:
    result = invoke(command, "--help")
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.stdout


def test_emulator_help_shows_its_options() -> None:
    result = invoke("emulator", "--help")
    for option in ("--fixture", "--port", "--latency-ms", "--throttle", "--time-scale", "--faults"):
        assert option in result.stdout


def test_emulator_needs_an_existing_fixture(tmp_path: Path) -> None:
    result = runner.invoke(app, ["emulator", "--fixture", str(tmp_path / "missing.json")])
    assert result.exit_code == 2
    assert "does not exist" in result.stderr


def test_expression_prints_the_value(tmp_path: Path) -> None:
    user = tmp_path / "user.json"
    user.write_text(json.dumps({"givenName": "Zoë", "surname": "Schmidt"}), encoding="utf-8")
    result = invoke("expression", 'Join(", ", [surname], [givenName])', "--user", str(user))
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "Schmidt, Zoë"


def test_expression_accepts_inline_json_and_prints_json() -> None:
    result = invoke("expression", "ToUpper([department])", "--user", '{"department": "Sales"}', "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["value"] == "SALES" and data["expression"] == "ToUpper([department])"


def test_expression_without_user_sees_no_attributes() -> None:
    result = invoke("expression", 'Append("a", "b")')
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "ab"


def test_bad_expression_names_the_column_and_exits_2() -> None:
    result = invoke("expression", 'Jion(", ", [surname])')
    assert result.exit_code == 2
    assert result.stdout == ""
    line = result.stderr.strip()
    assert line.startswith("error: column 1:"), line
    assert "Traceback" not in result.stderr and len(line.splitlines()) == 1


def test_unbalanced_expression_exits_2() -> None:
    result = invoke("expression", 'Join(", ", [surname]')
    assert result.exit_code == 2
    assert result.stderr.startswith("error: column ")


def test_expression_with_an_unreadable_user_file(tmp_path: Path) -> None:
    result = invoke("expression", "[x]", "--user", str(tmp_path / "nope.json"))
    assert result.exit_code == 2
    assert "cannot read the user file" in result.stderr
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    result = invoke("expression", "[x]", "--user", str(bad))
    assert result.exit_code == 2 and "not valid JSON" in result.stderr


@pytest.mark.parametrize("command", ["setup", "sync", "test-connection", "user-source", "repair-upn"])
def test_a_missing_config_file_is_a_clear_error(command: str, tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    result = invoke(command, str(missing))
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: {missing}:1: (file): cannot read the file (No such file or directory)"


def test_an_invalid_config_names_the_line_and_key(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("name: emea-to-hq\nsource: {connection: emea}\ntarget: {connection: hq}\n"
                   "scope:\n  mode: some\n", encoding="utf-8")
    result = invoke("sync", str(cfg), "--dry-run")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {cfg}:5: scope.mode: 'some' is not allowed"), result.stderr
    assert "Traceback" not in result.stderr


def test_report_needs_out() -> None:
    result = runner.invoke(app, ["report", "data/configs/emea-to-hq.yaml"])
    assert result.exit_code == 2
    assert "--out" in result.stderr


def test_provision_takes_at_most_five_users() -> None:
    args = ["provision", "data/configs/emea-to-hq.yaml"]
    for i in range(6):
        args += ["--user", f"u{i}"]
    result = invoke(*args)
    assert result.exit_code == 2
    assert "at most 5 users" in result.stderr


def test_tools_never_import_prefect(tmp_path: Path) -> None:
    code = ("import sys\nfrom app.cli import app\n"
            "try:\n    app(['expression', 'Append(\"a\", \"b\")'])\nexcept SystemExit:\n    pass\n"
            "try:\n    app(['sync', 'missing.yaml'])\nexcept SystemExit:\n    pass\n"
            "print('PREFECT' if any(m == 'prefect' or m.startswith('prefect.') for m in sys.modules) else 'CLEAN')\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env,
                          timeout=60)
    assert done.stdout.strip().splitlines()[-1] == "CLEAN", done.stdout + done.stderr


def test_emulator_refuses_a_bad_fixture_or_profile(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("not json", encoding="utf-8")
    result = runner.invoke(app, ["emulator", "--fixture", str(bad), "--port", "0"])
    assert result.exit_code == 2 and result.stderr.startswith("error: cannot read fixture"), result.output
    result = runner.invoke(app, ["emulator", "--fixture", str(REPO / "data/samples/tenants.json"), "--port", "0",
                                 "--throttle", "nope"])
    assert result.exit_code == 2 and "unknown throttle profile" in result.stderr, result.output


def test_emulator_serves_graph_until_stopped() -> None:
    import httpx

    proc = subprocess.Popen([sys.executable, "-m", "app", "emulator", "--fixture",
                             str(REPO / "data/samples/tenants.json"), "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert "tenantsync emulator on http://127.0.0.1:" in line, line + proc.stderr.read()
        url = line.split(" on ", 1)[1].split(" ", 1)[0]
        reply = httpx.get(f"{url}/users?$top=1&$select=id", headers={"Authorization": "Bearer emea-token"},
                          timeout=10)
        assert reply.status_code == 200 and len(reply.json()["value"]) == 1
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_setup_refuses_the_old_invented_anchor_name_with_the_fix(tmp_path: Path) -> None:
    text = (REPO / "data" / "configs" / "emea-to-hq.yaml").read_text(encoding="utf-8")
    cfg = tmp_path / "old.yaml"
    cfg.write_text(text.replace("  anchor_extension: tenantsyncSourceAnchor",
                                "  anchor_attribute: extension_tenantsync_sourceAnchor"), encoding="utf-8")
    result = invoke("setup", str(cfg), "--dry-run")
    assert result.exit_code == 2
    assert "settings.anchor_attribute: extension_tenantsync_sourceAnchor is not a directory extension" in result.stderr
    assert "tenantsync setup CONFIG" in result.stderr
