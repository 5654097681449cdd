"""prefect.yaml is generated from the configurations: it must say what `tenantsync deploy` says.

No Prefect server here (the round trip on a real server is test_deployments.py)."""

from __future__ import annotations

import yaml

from .flowkit import REPO


def test_committed_prefect_yaml_is_what_the_sample_configurations_give():
    from flows.deploy import load_configurations, render_prefect_yaml

    committed = (REPO / "prefect.yaml").read_text(encoding="utf-8")
    generated = render_prefect_yaml(load_configurations(base=REPO), base=REPO)
    assert committed == generated, ("prefect.yaml disagrees with data/configs: regenerate it with "
                                    "`tenantsync deploy --prefect-yaml prefect.yaml` (from the repository root)")


def test_prefect_yaml_schedules_come_from_each_configurations_interval():
    doc = yaml.safe_load((REPO / "prefect.yaml").read_text(encoding="utf-8"))
    by_name = {(d["entrypoint"], d["name"]): d for d in doc["deployments"]}
    for config in ("emea-to-hq", "us-to-hq"):
        minutes = yaml.safe_load((REPO / "data/configs" / f"{config}.yaml").read_text())["settings"]["interval_minutes"]
        incremental = by_name[("flows.sync.sync_cycle", f"{config}-incremental")]
        assert incremental["schedules"] == [{"interval": minutes * 60, "active": True}]
        assert incremental["parameters"]["config"] == f"data/configs/{config}.yaml"
    minutes = yaml.safe_load((REPO / "data/configs/user-source.yaml").read_text())["settings"]["interval_minutes"]
    assert by_name[("flows.usersource.user_source_sync", "emea-user-source")]["schedules"] == [
        {"interval": minutes * 60, "active": True}]
    # every procedure of a sync configuration has its deployment, the deletion and the SMS repair included
    assert {e for e, n in by_name if n == "emea-to-hq"} >= {
        "flows.ondemand.provision_on_demand", "flows.repair.repair_upn", "flows.connection.test_connection",
        "flows.setup.setup_config", "flows.delete_config.delete_config_flow", "flows.disable_sms.disable_sms_flow"}
