"""`tenantsync setup` with provisioner entra: Microsoft's documented sequence, idempotent, dry run."""

from __future__ import annotations

import json

import pytest

from tenantsync.emulator.service_principals import CTS_TEMPLATE_ID
from tenantsync.errors import ConfigError
from tenantsync.ops.setup import run_setup
from tenantsync.store import Store
from tenantsync.syncschema import config_parts_from_schema

from .conftest import EMEA_GROUP, HQ, LIMITED, source_tenant

ZOE = "2c61be39-a49f-4975-a086-bbe7b399a465"


def writes(report) -> list[str]:
    """The calls that change something (validateCredentials only checks)."""
    return [c for c in report.calls if not c.startswith("GET ") and "/validateCredentials " not in c]


def test_setup_creates_the_documented_objects(make_config, world):
    cfg = make_config()
    report = run_setup(cfg)
    assert report.ok, report.message
    tenant = source_tenant(world)
    (sp,) = tenant.service_principals.values()
    assert (sp["displayName"], sp["applicationTemplateId"]) == ("emea-to-hq", CTS_TEMPLATE_ID)
    (job,) = tenant.sync_jobs.values()
    assert job.template_id == "Azure2Azure" and job.sp_id == sp["id"]
    assert job.schedule["interval"] == "PT40M"
    secrets = {s["key"]: s["value"] for s in tenant.sync_secrets[sp["id"]]}
    assert set(secrets) == {"CompanyId", "AuthenticationType", "SyncAll", "SyncNotificationSettings"}
    assert (secrets["CompanyId"], secrets["AuthenticationType"], secrets["SyncAll"]) == (HQ, "SyncPolicy", "false")
    notify = json.loads(secrets["SyncNotificationSettings"])
    assert notify["DeleteThresholdEnabled"] is True and notify["DeleteThresholdValue"] == 500
    assert notify["Recipients"] == "identity-ops@contoso.com"
    role = next(r["id"] for r in sp["appRoles"] if r["displayName"] == "msiam_access")
    assert [(a["principalId"], a["appRoleId"]) for a in tenant.app_role_assignments
            if a["resourceId"] == sp["id"]] == [(EMEA_GROUP, role)]
    mappings, filters = config_parts_from_schema(job.schema)
    assert {m.target: m.value for m in mappings}["userType"] == "Member"
    assert [[(c.attribute, c.operator) for c in g] for g in filters] == [[("userPrincipalName", "REGEX MATCH")]]
    saved = Store.for_url(cfg.state_url).setup_values(cfg.name)
    assert (saved["service_principal_id"], saved["job_id"]) == (sp["id"], job.id)
    # Microsoft's order: instantiate, validateCredentials, job, secrets, assignment, schema
    order = [c.split()[1].rsplit("/", 1)[-1] for c in writes(report)]
    assert order[:2] == ["instantiate", "jobs"] and order.index("secrets") < order.index("appRoleAssignedTo")


def test_second_run_changes_nothing_and_says_so(make_config, world):
    cfg = make_config()
    run_setup(cfg)
    tenant = source_tenant(world)
    before = (set(tenant.service_principals), set(tenant.sync_jobs), len(tenant.app_role_assignments))
    again = run_setup(cfg)
    assert again.ok and again.changes == []
    assert "nothing to change" in again.message
    assert writes(again) == []
    assert (set(tenant.service_principals), set(tenant.sync_jobs), len(tenant.app_role_assignments)) == before


def test_an_existing_application_of_that_name_is_found_not_duplicated(make_config, world, tmp_path):
    run_setup(make_config())
    fresh_state = make_config(text_edit=lambda t: t.replace("/state/emea-to-hq.db", "/state/other.db"))
    report = run_setup(fresh_state)                 # nothing recorded: found by display name
    assert report.ok and report.changes == [], report.message
    assert len(source_tenant(world).service_principals) == 1


def test_dry_run_lists_the_calls_and_writes_nothing(make_config, world):
    cfg = make_config()
    report = run_setup(cfg, dry_run=True)
    assert report.ok and report.dry_run
    tenant = source_tenant(world)
    assert not tenant.service_principals and not tenant.sync_jobs and not tenant.sync_secrets
    assert Store.for_url(cfg.state_url).setup_values(cfg.name) == {}
    sent = [c for c in report.calls if not c.startswith("GET ")]
    assert sent and all(c.endswith("(not sent: dry run)") for c in sent)
    assert any(c.startswith(f"POST /applicationTemplates/{CTS_TEMPLATE_ID}/instantiate") for c in sent)
    assert any(c.startswith("PUT /servicePrincipals/{servicePrincipalId}/synchronization/secrets") for c in sent)
    assert "would" in report.message


def test_dry_run_after_a_change_lists_only_the_difference(make_config, world):
    run_setup(make_config())
    changed = make_config(deletion_threshold=3)
    report = run_setup(changed, dry_run=True)
    assert [s["step"] for s in report.changes] == ["secrets"]
    (put,) = writes(report)
    assert put.startswith("PUT ") and '\\"DeleteThresholdValue\\":3' in put
    tenant = source_tenant(world)
    (stored,) = tenant.sync_secrets.values()
    assert '"DeleteThresholdValue":500' in next(s["value"] for s in stored if s["key"] == "SyncNotificationSettings")


def test_secret_values_that_are_credentials_are_masked():
    from tenantsync.entra_service.calls import describe

    line = describe("PUT", "/servicePrincipals/x/synchronization/secrets",
                    {"value": [{"key": "SecretToken", "value": "s3cr3t"}, {"key": "SyncAll", "value": "true"}]})
    assert "s3cr3t" not in line and '"value":"***"' in line and '"SyncAll","value":"true"' in line


def test_assignments_follow_the_file(make_config, world):
    run_setup(make_config())
    swap = lambda t: t.replace(f"    groups:\n      - {EMEA_GROUP}", f"    users:\n      - {ZOE}")
    report = run_setup(make_config(text_edit=swap))
    assert report.ok, report.message
    tenant = source_tenant(world)
    assert [a["principalId"] for a in tenant.app_role_assignments] == [ZOE]
    assert {"step": "assignments", "action": "updated", "detail": "1 assigned, 1 removed"} in report.steps


def test_scope_all_syncs_everyone(make_config, world):
    everyone = lambda t: t.replace("  mode: assigned\n", "  mode: all\n")
    run_setup(make_config(text_edit=everyone))
    (stored,) = source_tenant(world).sync_secrets.values()
    assert {s["key"]: s["value"] for s in stored}["SyncAll"] == "true"


def test_interval_sets_the_job_schedule(make_config, world):
    run_setup(make_config())
    report = run_setup(make_config(interval_minutes=15))
    assert report.ok, report.message
    (job,) = source_tenant(world).sync_jobs.values()
    assert job.schedule["interval"] == "PT15M"
    assert job.schedule["state"] == "Disabled"         # setup never starts the job


def test_missing_synchronization_permission_is_named_with_the_fix(make_config, world):
    report = run_setup(make_config(source_token="EMEA_LIMITED"))
    assert not report.ok
    assert "Synchronization.ReadWrite.All" in report.message
    assert "admin consent" in report.message and "tenantsync setup" in report.message
    assert LIMITED not in report.message


def test_unknown_service_principal_id_is_one_clear_message(make_config, world):
    missing = "0b1d9c1e-1111-4111-8111-111111111111"
    report = run_setup(make_config(top={"service_principal_id": missing}))
    assert not report.ok
    assert missing in report.message and "service_principal_id" in report.message
    assert not source_tenant(world).service_principals      # nothing created instead


@pytest.mark.parametrize("top, key, words", [
    ({"provisioner": "engine", "job_id": "Azure2Azure.x.y"}, "job_id", "provisioner: entra"),
    ({"service_principal_id": "not-a-guid"}, "service_principal_id", "GUID"),
    ({"provisioner": "robot"}, "provisioner", "not allowed"),
])
def test_service_keys_are_validated(make_config, top, key, words):
    with pytest.raises(ConfigError) as err:
        make_config(top=top)
    assert err.value.key == key and words in str(err.value)
    assert err.value.line is not None and err.value.line > 1


def test_entra_needs_a_tenant_target(make_config):
    to_directory = lambda t: t.replace("target: {connection: hq}", "target: {directory: 'sqlite:///x.db'}")
    with pytest.raises(ConfigError) as err:
        make_config(text_edit=to_directory)
    assert err.value.key == "target.directory" and "provisioner 'entra'" in str(err.value)


def test_given_ids_are_used_and_recorded(make_config, world):
    first = run_setup(make_config())
    cfg = make_config(top={"service_principal_id": first.sp_id, "job_id": first.job_id},
                      text_edit=lambda t: t.replace("/state/emea-to-hq.db", "/state/given.db"))
    report = run_setup(cfg)
    assert report.ok and report.changes == [], report.message
    assert (report.sp_id, report.job_id) == (first.sp_id, first.job_id)
    assert not any("$filter" in c for c in report.calls)            # no lookup by name
    assert Store.for_url(cfg.state_url).setup_values(cfg.name)["job_id"] == first.job_id


def test_an_application_deleted_since_the_last_setup_is_created_again(make_config, world):
    cfg = make_config()
    first = run_setup(cfg)
    tenant = source_tenant(world)
    tenant.service_principals.clear()          # an administrator deleted the enterprise application
    tenant.sync_jobs.clear()
    report = run_setup(cfg)
    assert report.ok, report.message
    assert report.sp_id != first.sp_id and set(tenant.service_principals) == {report.sp_id}
    assert Store.for_url(cfg.state_url).setup_values(cfg.name)["service_principal_id"] == report.sp_id
