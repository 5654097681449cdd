"""disable_sms_flow on the sample tenants: Åsa (EMEA, in scope) has SMS sign-in ready; the flow
turns it off in EMEA, writes sms-sign-in.csv and publishes its artifacts."""

from __future__ import annotations

from pathlib import Path

import pytest

from .flowkit import artifacts_of, run, source_api

pytestmark = pytest.mark.usefixtures("prefect_harness")

ASA = "5aa7b012-d3c0-4688-80e3-f9389efcd284"
MOBILE = "3179e48a-750b-4051-897c-87b9720928f7"


def test_disable_sms_flow_turns_it_off_and_writes_the_csv(make_config, reports_dir, world):
    from flows.disable_sms import disable_sms_flow

    state, result = run(disable_sms_flow, config=str(make_config()), reports_dir=str(reports_dir))
    assert state.is_completed(), state.message
    assert [(r["id"], r["smsSignInStateBefore"], r["outcome"]) for r in result["rows"]] == [
        (ASA, "ready", "disabled")]
    csv = Path(result["reports"]["sms-sign-in"])
    assert csv == (reports_dir / "emea-to-hq" / "sms-sign-in.csv").resolve()
    assert csv.read_text(encoding="utf-8").startswith(
        "id,userPrincipalName,displayName,phoneMethodId,smsSignInStateBefore,smsSignInStateAfter,outcome")
    api = source_api(world)
    try:
        methods = api.get_json(f"/users/{ASA}/authentication/phoneMethods")["value"]
    finally:
        api.close()
    assert next(m["smsSignInState"] for m in methods if m["id"] == MOBILE) != "ready"
    keys = {a.key for a in artifacts_of(state)}
    assert {"emea-to-hq-sms-sign-in", "emea-to-hq-sms-sign-in-table"} <= keys
