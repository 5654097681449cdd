"""Expired delta links in the user source (delta-query-overview: 410 Gone, syncStateNotFound):
the next run reads everything again, converges, removes no one who still exists, invites no one
twice, and says why in its message; groups/delta is asked with $select=...,members."""

from __future__ import annotations

from tenantsync.connectors.directory_target import DirectoryTarget
from tenantsync.usersource import run_user_source

from .usworld import DOMAIN, STAFF, make_config, uid


def directory(cfg) -> DirectoryTarget:
    return DirectoryTarget.for_url(cfg.directory_url)


def state(cfg) -> tuple:
    d = directory(cfg)
    users = {u["id"]: (u["user_principal_name"], u["mail"], u["display_name"]) for u in d.users(cfg.name)}
    return users, {g["id"] for g in d.groups(cfg.name)}, d.memberships(cfg.name)


def invited(outbox) -> list[str]:
    return [m[0] for m in outbox.sent if m[0] != "ops@corp.example"]


def test_after_the_delta_links_expire_the_next_run_converges_without_removals_or_duplicates(
        tenant, directory_url, outbox):
    cfg = make_config(tenant, directory_url)
    first = run_user_source(cfg, notify=outbox)
    assert first.status == "success" and first.kind == "initial"
    before = state(cfg)
    assert before[2][STAFF]                                              # members@delta arrived
    tenant.expire_delta_tokens()

    result = run_user_source(cfg, notify=outbox)
    assert result.status == "success", result.message
    c = result.counts
    assert (c["users_created"], c["users_removed"], c["groups_created"], c["groups_removed"],
            c["memberships_removed"], c["invitations_queued"]) == (0, 0, 0, 0, 0, 0)
    assert "users delta link expired (410 syncStateNotFound): full read" in result.message
    assert "groups delta link expired (410 syncStateNotFound): full read" in result.message
    assert state(cfg) == before
    assert sorted(invited(outbox)) == sorted(f"user{i}.mail@{DOMAIN}" for i in range(1, 6))   # once each

    again = run_user_source(cfg, notify=outbox)
    assert again.status == "success" and "expired" not in again.message
    assert not any(v for k, v in again.counts.items() if k != "invitations_pending")


def test_a_user_deleted_while_the_link_was_expired_is_removed_only_by_the_whole_round(
        tenant, directory_url, admin):
    cfg = make_config(tenant, directory_url)
    run_user_source(cfg)
    admin.request("DELETE", f"/users/{uid(5)}")
    tenant.expire_delta_tokens()
    result = run_user_source(cfg)
    assert result.status == "success" and result.counts["users_removed"] == 1
    assert uid(5) not in {u["id"] for u in directory(cfg).users(cfg.name)}
    assert result.counts["users_created"] == 0
