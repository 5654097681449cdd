"""The SQL directory connector on its own (SQLite and PostgreSQL): upserts, partial group
changes, membership replacement, the invitation outbox key, the run lock."""

from __future__ import annotations

from tenantsync.connectors.directory_target import DirectoryTarget, GroupRecord, UserRecord
from tenantsync.usersource import run_user_source

from .usworld import make_config


def rec(i: str, **fields) -> UserRecord:
    base = {"user_principal_name": f"{i}@x.example", "display_name": i.upper()}
    return UserRecord(i, {**base, **fields}, {"costCenter": "C1"}, {"id": i, "a": 1})


def test_users_upsert_only_what_changed(directory_url):
    d = DirectoryTarget.for_url(directory_url)
    out = d.apply_users("inst", [rec("a"), rec("b")], invitation=lambda r: (f"{r.id}@x.example", "s", "b"))
    assert (out.created, out.invitations_queued) == (["a", "b"], 2)
    before = {u["id"]: u["updated_at"] for u in d.users("inst")}
    # an untracked source property changed: the row keeps its update time; a real change moves it
    same = UserRecord("a", rec("a").fields, {"costCenter": "C1"}, {"id": "a", "a": 2})
    out = d.apply_users("inst", [same, rec("b", display_name="Bee")],
                        invitation=lambda r: (None, "s", "b"))
    assert (out.created, out.updated) == ([], ["b"])
    after = {u["id"]: u for u in d.users("inst")}
    assert after["a"]["updated_at"] == before["a"] and after["a"]["source"] == {"id": "a", "a": 2}
    assert after["b"]["updated_at"] > before["b"] and after["b"]["display_name"] == "Bee"
    assert len(d.invitations("inst")) == 2                          # never a second row per user
    # attributes are replaced per user; a None value is no row
    d.apply_users("inst", [UserRecord("a", rec("a").fields, {"costCenter": None}, {"id": "a", "a": 2})])
    assert d.find_user("inst", "A@X.EXAMPLE")["attributes"] == {}
    out = d.apply_users("inst", [], keep_only={"b"})
    assert out.removed == ["a"] and [u["id"] for u in d.users("inst")] == ["b"]
    # the removed user's invitation, not sent yet, is cancelled; the row is kept
    assert {i["user_id"]: i["status"] for i in d.invitations("inst")} == {"a": "cancelled", "b": "pending"}


def test_groups_keep_properties_a_delta_item_does_not_carry(directory_url):
    d = DirectoryTarget.for_url(directory_url)
    d.apply_groups("inst", [GroupRecord("g", {"display_name": "G", "description": "desc"})],
                   members_full={"g": {"u1": "user", "u2": "user"}})
    d.apply_groups("inst", [GroupRecord("g", {"display_name": "G2"})],
                   members_added=[("g", "h", "group")], members_removed=[("g", "u1")])
    (g,) = d.groups("inst")
    assert (g["display_name"], g["description"]) == ("G2", "desc")
    assert d.memberships("inst") == {"g": {"u2": "user", "h": "group"}}
    out = d.apply_groups("inst", [], members_full={"g": {"u3": "user"}})
    assert (out.members_added, out.members_removed) == (1, 2)
    d.apply_groups("inst", [], removed=["g"])
    assert d.groups("inst") == [] and d.memberships("inst") == {}


def test_a_second_run_of_the_same_instance_waits_its_turn(tenant, directory_url):
    cfg = make_config(tenant, directory_url)
    d = DirectoryTarget.for_url(directory_url)
    with d.run_lock(cfg.name) as mine:
        assert mine
        other = DirectoryTarget(directory_url, migrate=False)      # as another process would
        try:
            with other.run_lock(cfg.name) as theirs:
                assert not theirs
        finally:
            other.engine.dispose()
        result = run_user_source(cfg)
        assert (result.status, result.reason) == ("skipped", "busy") and "in progress" in result.message
    assert run_user_source(cfg).status == "success"


def test_readiness_for_a_user_source_configuration(tenant, directory_url):
    from tenantsync.usersource.upn_suffix import SuffixState, readiness_for_config

    (row,) = readiness_for_config(make_config(tenant, directory_url))
    assert (row.suffix, row.state, row.users) == ("corp.example", SuffixState.VERIFIED, 5)


def test_csv_report_of_the_directory(tenant, directory_url, tmp_path, admin):
    import csv

    from tenantsync.usersource.report import export_report

    from .usworld import STAFF, uid

    admin.request("PATCH", f"/users/{uid(1)}", {"displayName": "=HYPERLINK(\"x\")"})
    cfg = make_config(tenant, directory_url)
    run_user_source(cfg)
    files = export_report(cfg, tmp_path)
    rows = {name: list(csv.DictReader(path.open(encoding="utf-8"))) for name, path in files.items()}
    assert len(rows["directory-users"]) == 5 and len(rows["directory-groups"]) == 3
    first = next(r for r in rows["directory-users"] if r["id"] == uid(1))
    assert first["displayName"] == "'=HYPERLINK(\"x\")"                 # formula-safe
    assert first["managedAppleId"] == "user1@appleid.corp.example"
    assert len([m for m in rows["directory-memberships"] if m["groupId"] == STAFF]) == 5
    assert [r["status"] for r in rows["directory-cycles"]] == ["success"]
    assert {r["status"] for r in rows["directory-invitations"]} == {"pending"}
