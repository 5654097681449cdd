"""`tenantsync setup` end to end through Prefect on the sample tenants (slow: a Prefect start)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from app.cli import app
from tenantsync.emulator.tokens import plain_app_id

pytestmark = [pytest.mark.prefect, pytest.mark.xdist_group("prefect")]

HQ = "7242482c-0038-4818-b3af-70b2766b9f27"
ANCHOR = f"extension_{plain_app_id('hq-token').replace('-', '')}_tenantsyncSourceAnchor"


def test_setup_dry_run_then_registers_once_then_says_it_is_there(samples) -> None:
    server, configs = samples
    runner = CliRunner()
    emea, us = str(configs["emea-to-hq"]), str(configs["us-to-hq"])

    dry = runner.invoke(app, ["setup", emea, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "dry run: nothing written" in dry.stdout and "not sent: dry run" in dry.stdout
    assert "would register" in dry.stdout and "User.Invite.All" in dry.stdout   # the permissions table

    first = runner.invoke(app, ["setup", emea, "--json"])
    assert first.exit_code == 0, first.output
    result = json.loads(first.stdout)
    assert result["ok"] is True and result["anchor"] == {
        **result["anchor"], "action": "registered", "attribute": ANCHOR, "appId": plain_app_id("hq-token")}
    assert result["missing"] == {"source": None, "target": None}       # opaque emulator tokens
    assert {r["permission"] for r in result["permissions"] if r["side"] == "target"} >= {
        "User.Invite.All", "User.ReadWrite.All", "Application.ReadWrite.OwnedBy"}

    again = runner.invoke(app, ["setup", us])                 # the other configuration, same target app
    assert again.exit_code == 0, again.output
    assert "already registered" in again.stdout and ANCHOR in again.stdout

    synced = runner.invoke(app, ["sync", emea, "--json"])
    assert synced.exit_code == 0, synced.output
    hq_users = server.dump(HQ)["users"]
    assert sum(1 for u in hq_users if u.get(ANCHOR)) >= 100
