"""The setup flow (the Prefect UI's and the command line's way) with provisioner entra."""

from __future__ import annotations

import pytest

from .conftest import source_tenant

pytestmark = [pytest.mark.prefect, pytest.mark.xdist_group("service-prefect")]


def test_setup_flow_creates_the_configuration_and_reports_its_steps(prefect_harness, make_config, world, tmp_path):
    from flows.setup import setup_config

    make_config()
    path = str(tmp_path / "emea-to-hq-entra.yaml")
    state = setup_config(config=path, dry_run=False, return_state=True)
    result = state.result(raise_on_failure=False).as_dict()
    assert state.is_completed() and result["status"] == "success", result["message"]
    assert result["provisioner"] == "entra" and result["jobId"]
    assert [s["step"] for s in result["steps"]] == ["application", "credentials", "job", "secrets",
                                                    "assignments", "schema", "schedule"]
    assert len(source_tenant(world).sync_jobs) == 1

    again = setup_config(config=path, dry_run=False, return_state=True).result(raise_on_failure=False).as_dict()
    assert again["changed"] == 0 and "nothing to change" in again["message"]
