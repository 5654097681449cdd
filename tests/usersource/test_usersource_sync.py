"""Entra ID -> application directory on the emulator, on SQLite and PostgreSQL: initial then
incremental cycles follow users, groups, memberships, Apple IDs, custom attributes; invitations."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tenantsync.connectors.directory_target import DirectoryTarget
from tenantsync.errors import ConfigError
from tenantsync.usersource import render, run_user_source

from .usworld import (
    DOMAIN,
    EMPTY,
    MANAGERS,
    STAFF,
    TENANT,
    ChoppedApi,
    Outbox,
    make_config,
    smtp_sender,
    source_api,
    uid,
    user,
    world,
)

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples" / "tenants.json"


def by_id(rows):
    return {r["id"]: r for r in rows}


def invited(outbox) -> list[str]:
    """Recipients of invitations (notifications go to ops@corp.example)."""
    return [m[0] for m in outbox.sent if m[0] != "ops@corp.example"]


def directory(cfg) -> DirectoryTarget:
    return DirectoryTarget.for_url(cfg.directory_url)


def test_initial_cycle_imports_every_user_group_and_direct_membership(tenant, directory_url, outbox):
    cfg = make_config(tenant, directory_url)
    result = run_user_source(cfg, notify=outbox)
    assert result.status == "success" and result.kind == "initial"
    c = result.counts
    assert (c["users_created"], c["groups_created"], c["memberships_added"]) == (5, 3, 6)
    assert result.details["notifications"] == []

    d = directory(cfg)
    users = by_id(d.users(cfg.name))
    assert set(users) == {uid(i) for i in range(1, 6)}
    u1 = users[uid(1)]
    assert u1["user_principal_name"] == f"user1@{DOMAIN}" and u1["mail"] == f"user1.mail@{DOMAIN}"
    assert (u1["display_name"], u1["given_name"], u1["surname"]) == ("Zoë Test1", "Zoë", "Test1")
    assert (u1["job_title"], u1["department"], u1["employee_id"]) == ("Engineer", "Dept1", "E0001")
    assert u1["account_enabled"] is True and u1["user_type"] == "Member"
    assert u1["managed_apple_id"] == f"user1@appleid.{DOMAIN}"
    assert u1["attributes"] == {"costCenter": "Dept1", "badge": "E0001-Test1"}

    groups = by_id(d.groups(cfg.name))
    assert {g["display_name"] for g in groups.values()} == {"Staff", "Managers", "Empty"}
    assert groups[STAFF]["description"] == "Everyone" and groups[STAFF]["security_enabled"] is True
    members = d.memberships(cfg.name)
    assert members[STAFF] == {**{uid(i): "user" for i in range(1, 5)}, MANAGERS: "group"}
    assert members[MANAGERS] == {uid(1): "user"}
    assert EMPTY not in members

    # one invitation per imported user, to the user's mail, from the configured texts
    assert sorted(m[0] for m in outbox.sent) == sorted(f"user{i}.mail@{DOMAIN}" for i in range(1, 6))
    assert all(m[1] == "You have been invited to Corp Example" for m in outbox.sent)
    assert {i["status"] for i in d.invitations(cfg.name)} == {"sent"}
    assert [c["status"] for c in d.cycles(cfg.name)] == ["success"]


def test_changes_in_the_tenant_are_followed_incrementally(tenant, directory_url, admin, outbox):
    cfg = make_config(tenant, directory_url)
    run_user_source(cfg, notify=outbox)
    assert len(outbox.sent) == 5

    admin.request("PATCH", f"/users/{uid(2)}", {"displayName": "Renamed Two", "department": "Dept9"})
    created = admin.request("POST", "/users", {
        "accountEnabled": True, "displayName": "New Six", "mailNickname": "user6",
        "userPrincipalName": f"user6@{DOMAIN}", "mail": f"user6.mail@{DOMAIN}", "givenName": "New",
        "surname": "Six", "jobTitle": "Analyst", "department": "Dept0", "employeeId": "E0006",
        "userType": "Member", "passwordProfile": {"password": "x-Pa55word!"}})
    six = created["id"]
    admin.request("DELETE", f"/users/{uid(3)}")
    admin.request("DELETE", f"/groups/{STAFF}/members/{uid(4)}/$ref")
    admin.request("POST", f"/groups/{MANAGERS}/members/$ref",
                  {"@odata.id": f"{tenant.url}/directoryObjects/{uid(5)}"})
    admin.request("PATCH", f"/groups/{MANAGERS}", {"displayName": "Leads"})
    admin.request("DELETE", f"/groups/{EMPTY}")

    result = run_user_source(cfg, notify=outbox)
    assert result.status == "success" and result.kind == "incremental"
    c = result.counts
    assert (c["users_created"], c["users_updated"], c["users_removed"]) == (1, 1, 1)
    assert (c["groups_updated"], c["groups_removed"]) == (1, 1)

    d = directory(cfg)
    users = by_id(d.users(cfg.name))
    assert set(users) == {uid(1), uid(2), uid(4), uid(5), six}
    assert users[uid(2)]["display_name"] == "Renamed Two"
    assert users[uid(2)]["attributes"]["costCenter"] == "Dept9"
    assert users[six]["managed_apple_id"] == f"user6@appleid.{DOMAIN}"
    assert users[six]["attributes"] == {"costCenter": "Dept0", "badge": "E0006-Six"}
    groups = by_id(d.groups(cfg.name))
    assert set(groups) == {STAFF, MANAGERS} and groups[MANAGERS]["display_name"] == "Leads"
    members = d.memberships(cfg.name)
    assert members[STAFF] == {uid(1): "user", uid(2): "user", MANAGERS: "group"}   # 3 deleted, 4 removed
    assert members[MANAGERS] == {uid(1): "user", uid(5): "user"}

    # exactly one more invitation: the new user's; a rename or a deletion sends none
    assert [m[0] for m in outbox.sent[5:]] == [f"user6.mail@{DOMAIN}"]
    # the deleted user's outbox row is kept
    assert uid(3) in {i["user_id"] for i in d.invitations(cfg.name)}

    quiet = run_user_source(cfg, notify=outbox)
    assert quiet.kind == "incremental" and not any(quiet.counts.values())
    assert len(outbox.sent) == 6


def test_a_user_deleted_and_restored_is_not_invited_twice(tenant, directory_url, admin, outbox):
    cfg = make_config(tenant, directory_url)
    run_user_source(cfg, notify=outbox)
    admin.request("DELETE", f"/users/{uid(1)}")
    run_user_source(cfg, notify=outbox)
    assert uid(1) not in by_id(directory(cfg).users(cfg.name))
    admin.request("POST", f"/directory/deletedItems/{uid(1)}/restore")
    result = run_user_source(cfg, notify=outbox)
    assert result.counts["users_created"] == 1
    assert uid(1) in by_id(directory(cfg).users(cfg.name))
    assert len(outbox.to(f"user1.mail@{DOMAIN}")) == 1


@pytest.mark.parametrize("scheme, subdomain, expected", [
    ("upn", True, f"user1@appleid.{DOMAIN}"),
    ("upn", False, f"user1@{DOMAIN}"),
    ("email", True, f"user1.mail@appleid.{DOMAIN}"),
    ("email", False, f"user1.mail@{DOMAIN}"),
    ("none", False, None),
])
def test_managed_apple_ids_under_each_scheme(tenant, directory_url, scheme, subdomain, expected):
    cfg = make_config(tenant, directory_url, managed_apple_id={"scheme": scheme, "appleid_subdomain": subdomain})
    result = run_user_source(cfg)
    assert result.counts["users_created"] == 5, result
    assert by_id(directory(cfg).users(cfg.name))[uid(1)]["managed_apple_id"] == expected


def test_changing_the_apple_id_scheme_recomputes_every_user_without_new_invitations(
        tenant, directory_url, outbox):
    cfg = make_config(tenant, directory_url)
    run_user_source(cfg, notify=outbox)
    cfg2 = make_config(tenant, directory_url, managed_apple_id={"scheme": "email", "appleid_subdomain": False})
    result = run_user_source(cfg2, notify=outbox)
    assert result.kind == "initial"               # what the users round tracks changed: read again
    assert result.counts["users_updated"] == 5 and result.counts["users_created"] == 0
    users = by_id(directory(cfg).users(cfg.name))
    assert {u["managed_apple_id"] for u in users.values()} == {f"user{i}.mail@{DOMAIN}" for i in range(1, 6)}
    assert len(outbox.sent) == 5


def test_custom_attributes_render_in_templates(tenant, directory_url, tmp_path):
    cfg = make_config(tenant, directory_url)
    run_user_source(cfg)
    path = tmp_path / "user-source.yaml"
    data = json.loads(cfg.model_dump_json(exclude={"file", "lines"}))
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    text = "Hi ${givenName}: ${costCenter} / ${badge} / ${managedAppleId} on ${instanceName} ($$5)"
    assert render(text, f"user2@{DOMAIN}", path) == \
        f"Hi José: Dept0 / E0002-Test2 / user2@appleid.{DOMAIN} on Corp Example ($5)"
    assert render("${costCenter}", uid(1), cfg) == "Dept1"                     # by object id, model
    assert render("${costCenter}", user=f"USER1@{DOMAIN}", config=str(path)) == "Dept1"  # the CLI's call
    with pytest.raises(ConfigError) as err:
        render("Hello ${costCentre}", f"user1@{DOMAIN}", path)
    assert "unknown variable ${costCentre}" in str(err.value) and "costCenter" in str(err.value)
    with pytest.raises(ConfigError, match="no user 'nobody@corp.example'"):
        render("${mail}", "nobody@corp.example", path)


def test_the_invitation_uses_custom_attributes_and_goes_through_smtp_once(tenant, directory_url, smtp_sink,
                                                                           admin):
    cfg = make_config(tenant, directory_url, invitation={
        "subject": "Welcome ${givenName}", "body": "Cost center ${costCenter}; Apple ID ${managedAppleId}"})
    send = smtp_sender(smtp_sink.host, smtp_sink.port)
    run_user_source(cfg, notify=send)
    messages = smtp_sink.wait(5)
    assert len(messages) == 5
    first = next(m for m in messages if m["To"] == f"user1.mail@{DOMAIN}")
    assert first["Subject"] == "Welcome Zoë"
    assert first.get_content().strip() == f"Cost center Dept1; Apple ID user1@appleid.{DOMAIN}"
    run_user_source(cfg, notify=send)
    admin.request("PATCH", f"/users/{uid(1)}", {"jobTitle": "Lead"})
    run_user_source(cfg, notify=send)
    assert len(smtp_sink.wait(6, timeout=1.0)) == 5       # nothing more: never a second invitation


def test_failed_invitations_are_retried_and_queued_ones_wait_for_a_sender(tenant, directory_url):
    cfg = make_config(tenant, directory_url)
    first = run_user_source(cfg)                          # no sender: queued in the outbox
    assert first.counts["invitations_pending"] == 5
    assert {i["status"] for i in directory(cfg).invitations(cfg.name)} == {"pending"}
    down = Outbox(fail=True)
    second = run_user_source(cfg, notify=down)
    assert second.counts["invitations_failed"] == 5 and not down.sent
    assert all("SMTP server down" in (i["error"] or "") for i in directory(cfg).invitations(cfg.name))
    up = Outbox()
    third = run_user_source(cfg, notify=up)
    assert third.counts["invitations_sent"] == 5
    run_user_source(cfg, notify=up)
    assert len(up.sent) == 5
    assert {(i["status"], i["attempts"]) for i in directory(cfg).invitations(cfg.name)} == {("sent", 2)}


def test_auto_invite_off_sends_nothing(tenant, directory_url, outbox):
    cfg = make_config(tenant, directory_url, auto_invite=False)
    result = run_user_source(cfg, notify=outbox)
    assert result.counts["users_created"] == 5 and not outbox.sent
    assert directory(cfg).invitations(cfg.name) == []


# -- notifications --------------------------------------------------------------------------------

def test_entra_unreachable_when_the_emulator_is_stopped(directory_url, monkeypatch, outbox):
    from tenantsync.emulator.server import EmulatorServer

    monkeypatch.setenv("US_SRC_TOKEN", "us-src-token")
    server = EmulatorServer(world())
    try:
        cfg = make_config(server, directory_url, graph_max_retries=0)
        assert run_user_source(cfg, notify=outbox).status == "success"
    finally:
        server.stop()
    for attempt in (1, 2):
        result = run_user_source(cfg, notify=outbox)
        assert result.status == "failure"
        (note,) = result.details["notifications"]
        assert note["kind"] == "entra_unreachable" and "Entra ID unreachable" in note["subject"]
        assert TENANT in note["body"] and server.url in note["body"]
        assert note["emailed"] is (attempt == 1)          # the same failure again is not e-mailed twice
    assert [m[1] for m in outbox.to("ops@corp.example")] == ["[tenantsync] Corp Example: Entra ID unreachable"]
    d = directory(cfg)
    assert len(d.users(cfg.name)) == 5                    # nothing lost
    assert [c["status"] for c in d.cycles(cfg.name)] == ["success", "failed", "failed"]
    assert [n["kind"] for n in d.notifications(cfg.name)] == ["entra_unreachable"] * 2


def test_entra_unreachable_on_a_wrong_port(directory_url):
    from .usworld import free_port

    class Stub:
        url = f"http://127.0.0.1:{free_port()}/v1.0"

    import os
    os.environ.setdefault("US_SRC_TOKEN", "us-src-token")
    cfg = make_config(Stub, directory_url, graph_max_retries=0)
    result = run_user_source(cfg)
    assert result.status == "failure" and result.kind == "initial"
    assert [n["kind"] for n in result.details["notifications"]] == ["entra_unreachable"]
    assert directory(cfg).users(cfg.name) == []


def test_no_user_attribute_synced(tenant, directory_url, outbox):
    bare = [{"id": uid(i), "userPrincipalName": f"user{i}@{DOMAIN}", "accountEnabled": True} for i in (1, 2, 3)]
    tenant.reset(world(users=bare))
    cfg = make_config(tenant, directory_url)
    result = run_user_source(cfg, notify=outbox)
    assert result.status == "success" and result.counts["users_created"] == 3
    (note,) = result.details["notifications"]
    assert note["kind"] == "no_user_attributes_synced"
    assert "no user attribute synced" in note["subject"] and "3 users" in note["body"]
    assert note["emailed"] and outbox.to("ops@corp.example")[0][1] == note["subject"]
    stored = directory(cfg).notifications(cfg.name)
    assert [n["kind"] for n in stored] == ["no_user_attributes_synced"] and stored[0]["emailed_at"]


def test_some_user_attributes_not_synced_names_attribute_and_user_count(tenant, directory_url, outbox, admin):
    people = [user(1), user(2, department=None), user(3, department=None), user(4, jobTitle=None), user(5)]
    for p in people:
        if p.get("department") is None:
            p.pop("department")
    tenant.reset(world(users=people))
    cfg = make_config(tenant, directory_url)
    result = run_user_source(cfg, notify=outbox)
    (note,) = result.details["notifications"]
    assert note["kind"] == "user_attributes_not_synced"
    assert note["details"] == {"users": 5, "attributes": {"jobTitle": 1, "department": 2, "costCenter": 2}}
    assert "department (2 users)" in note["body"] and "jobTitle (1 user)" in note["body"]
    assert len(outbox.to("ops@corp.example")) == 1
    # ignored attributes are not reported; a run that reads no incomplete user reports nothing
    admin.request("PATCH", f"/users/{uid(5)}", {"jobTitle": "Lead"})
    assert run_user_source(cfg, notify=outbox).details["notifications"] == []
    cfg2 = make_config(tenant, directory_url, ignore_missing=["jobTitle", "department", "costCenter"])
    assert run_user_source(cfg2, notify=outbox).details["notifications"] == []


# -- one identity provider, enabled switch --------------------------------------------------------

def test_only_one_identity_provider_instance_can_be_enabled(tenant, directory_url, tmp_path):
    corp = make_config(tenant, directory_url)
    assert run_user_source(corp).status == "success"
    other = make_config(tenant, directory_url, name="other-user-source", instance_name="Other Example",
                        tenant_id="5e5e5e5e-0000-4000-8000-000000000002", token_env="US_OTHER_TOKEN")
    with pytest.raises(ConfigError) as err:
        run_user_source(other)
    text = str(err.value)
    assert "settings.enabled" in text and "'Corp Example'" in text and "'Other Example'" in text
    assert "Only one identity provider instance can be enabled at a time" in text
    assert "multi-IdP environments are not supported" in text
    d = directory(corp)
    assert {u["instance"] for u in d.users()} == {corp.name}             # nothing of the other written

    off = make_config(tenant, directory_url, enabled=False)
    result = run_user_source(off)
    assert (result.status, result.reason) == ("skipped", "disabled") and "now marked disabled" in result.message
    assert run_user_source(other).status == "success"                # the slot is free now
    assert {i["name"]: i["enabled"] for i in d.instances()} == {corp.name: False, other.name: True}
    with pytest.raises(ConfigError, match="multi-IdP"):
        run_user_source(corp)                                          # and now corp is the second one


def test_a_disabled_instance_does_nothing_and_says_so(tenant, directory_url, outbox):
    from tenantsync.connectors.directory_target import directory_exists

    cfg = make_config(tenant, directory_url, enabled=False)
    result = run_user_source(cfg, notify=outbox)
    assert (result.status, result.reason) == ("skipped", "disabled") and result.kind is None
    assert "is disabled (settings.enabled: false): nothing was read or synced" in result.message
    assert not any(result.counts.values()) and not outbox.sent
    assert not directory_exists(cfg.directory_url)                      # not even the schema


# -- resumability ---------------------------------------------------------------------------------

def test_a_run_stopped_half_way_saves_no_delta_link_and_the_next_run_converges(tenant, directory_url, outbox):
    cfg = make_config(tenant, directory_url)
    failing = ChoppedApi(source_api(cfg), size=2, fail_on="users", fail_after=2)
    result = run_user_source(cfg, notify=outbox, api=failing)
    assert result.status == "failure" and result.details["notifications"][0]["kind"] == "entra_unreachable"
    d = directory(cfg)
    assert len(d.users(cfg.name)) == 4                    # two pages of two applied
    assert d.delta_links(cfg.name) == {}                  # the link is not saved before the round ends
    assert len(invited(outbox)) == 4                      # the imported users were invited

    again = run_user_source(cfg, notify=outbox, api=ChoppedApi(source_api(cfg), size=2))
    assert again.status == "success" and again.kind == "initial"
    assert len(d.users(cfg.name)) == 5 and set(d.delta_links(cfg.name)) == {"users", "groups"}
    assert sorted(invited(outbox)) == sorted(f"user{i}.mail@{DOMAIN}" for i in range(1, 6))
    assert d.memberships(cfg.name)[STAFF] == {**{uid(i): "user" for i in range(1, 5)}, MANAGERS: "group"}


def test_groups_failing_after_users_keeps_the_users_link(tenant, directory_url, admin):
    cfg = make_config(tenant, directory_url)
    result = run_user_source(cfg, api=ChoppedApi(source_api(cfg), size=1, fail_on="groups", fail_after=1))
    assert result.status == "failure"
    d = directory(cfg)
    assert set(d.delta_links(cfg.name)) == {"users"}
    admin.request("PATCH", f"/users/{uid(1)}", {"surname": "Changed"})
    again = run_user_source(cfg, api=ChoppedApi(source_api(cfg), size=1))
    assert again.kind == "initial" and again.counts["users_updated"] == 1
    assert again.counts["users_created"] == 0 and len(d.groups(cfg.name)) == 3


def test_an_expired_delta_link_reads_everything_again_and_reconciles(tenant, directory_url, outbox):
    cfg = make_config(tenant, directory_url)
    run_user_source(cfg, notify=outbox)
    people = [user(i) for i in (1, 2, 3, 4)] + [user(7)]
    tenant.reset(world(users=people))                     # old tokens are answered 410 resyncRequired
    result = run_user_source(cfg, notify=outbox)
    assert result.status == "success"
    assert (result.counts["users_created"], result.counts["users_removed"]) == (1, 1)
    assert set(by_id(directory(cfg).users(cfg.name))) == {uid(i) for i in (1, 2, 3, 4, 7)}
    assert [m[0] for m in outbox.sent[5:]] == [f"user7.mail@{DOMAIN}"]


# -- the sample tenant ----------------------------------------------------------------------------

def test_the_sample_tenant_syncs_and_follows_changes(emulator, directory_url, monkeypatch, outbox):
    fixture = json.loads(SAMPLES.read_text(encoding="utf-8"))
    emea = next(t for t in fixture["tenants"] if t["displayName"] == "Contoso EMEA")
    emulator.reset(fixture)
    monkeypatch.setenv("EMEA_TOKEN", emea["tokens"][0])
    monkeypatch.setenv("TENANTSYNC_GRAPH_URL", emulator.url)
    from tenantsync.usersource import load_user_source_config

    base = load_user_source_config(Path(__file__).resolve().parents[2] / "data" / "configs" / "user-source.yaml")
    cfg = base.model_copy(update={"target": base.target.model_copy(update={"directory": directory_url})})
    result = run_user_source(cfg, notify=outbox)
    assert result.status == "success"
    d = directory(cfg)
    assert len(d.users(cfg.name)) == len(emea["users"]) and len(d.groups(cfg.name)) == len(emea["groups"])
    expected = {g["id"]: set(g.get("members", [])) for g in emea["groups"] if g.get("members")}
    assert {g: set(m) for g, m in d.memberships(cfg.name).items()} == expected
    assert len(outbox.sent) - len(outbox.to("identity-ops@contoso.com")) == len(emea["users"])

    from tenantsync.graph.api import GraphApi

    admin = GraphApi(cfg.source_connection)
    try:
        someone, gone = emea["users"][0], emea["users"][1]
        group = next(g for g in emea["groups"] if g.get("members"))
        admin.request("PATCH", f"/users/{someone['id']}", {"displayName": "Renamed Person"})
        admin.request("DELETE", f"/users/{gone['id']}")
        new = admin.request("POST", "/users", {
            "accountEnabled": True, "displayName": "New Hire", "mailNickname": "new.hire",
            "userPrincipalName": "new.hire@emea.contoso.com", "mail": "new.hire@emea.contoso.com",
            "department": "Sales", "passwordProfile": {"password": "x-Pa55word!"}})
        admin.request("POST", f"/groups/{group['id']}/members/$ref",
                      {"@odata.id": f"{emulator.url}/directoryObjects/{new['id']}"})
    finally:
        admin.close()
    sent_before = len(outbox.sent)
    result = run_user_source(cfg, notify=outbox)
    assert result.kind == "incremental"
    users = by_id(d.users(cfg.name))
    assert users[someone["id"]]["display_name"] == "Renamed Person" and gone["id"] not in users
    assert users[new["id"]]["managed_apple_id"] == "new.hire@appleid.emea.contoso.com"
    assert users[new["id"]]["attributes"] == {"costCenter": "Sales"}
    assert new["id"] in d.memberships(cfg.name)[group["id"]]
    assert gone["id"] not in {m for ms in d.memberships(cfg.name).values() for m in ms}
    assert [m[0] for m in outbox.sent[sent_before:] if m[0] != "identity-ops@contoso.com"] == \
        ["new.hire@emea.contoso.com"]
    assert TENANT not in result.model_dump_json()         # (the sample's own tenant, not the small world)
