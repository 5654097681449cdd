"""The engine held to Microsoft Graph's documented contract, against the (strict) emulator:
encoded query values, groups/delta with members@delta and the 50-id filter limit, expired delta
links, Guest invitations switched to Member, refused invitation addresses, attributes Graph says
not to write."""

from __future__ import annotations

import copy

import pytest

from tenantsync.cycle import CycleOptions, run_cycle
from tenantsync.errors import ErrorKind, GraphError

from .conftest import GROUP, SRC, TGT, World, make_config, uid, user, world

HQ = "contosohq.onmicrosoft.com"
ODD_MAILS = {201: "o'brien+test@emea.contoso.com", 202: "r&d.lead@emea.contoso.com",
             203: "hash#tag@emea.contoso.com"}


def with_users(base: dict, users: list[dict], *, target: list[dict] = (), members: list[str] = ()) -> dict:
    fixture = copy.deepcopy(base)
    src = next(t for t in fixture["tenants"] if t["id"] == SRC)
    src["users"] += users
    group = next(g for g in src["groups"] if g["id"] == GROUP)
    group["members"] += list(members)
    tgt = next(t for t in fixture["tenants"] if t["id"] == TGT)
    tgt["users"] += list(target)
    return fixture


def hand_invited(n: int, mail: str) -> dict:
    """A B2B user an administrator invited long ago (no anchor): matched by mail."""
    local = mail.replace("@", "_")
    return {"id": f"c0000000-0000-4000-8000-{n:012d}", "userPrincipalName": f"{local}#EXT#@{HQ}",
            "mail": mail, "otherMails": [mail], "displayName": f"Invited {n}", "userType": "Guest",
            "externalUserState": "Accepted", "accountEnabled": True, "creationType": "Invitation"}


def users_with_mail(w: World, mail: str) -> list[dict]:
    return [u for u in w.target()["users"] if (u.get("mail") or "").lower() == mail.lower()]


def fresh_store_world(w: World, tmp_path, name: str) -> World:
    """The same tenants, the state store lost: a new, empty one."""
    return World(w.emulator, f"sqlite:///{tmp_path}/{name}.db")


# -- percent-encoding -----------------------------------------------------------------------------

def test_an_apostrophe_mail_is_matched_again_after_the_state_store_is_deleted(w, tmp_path):
    w.emulator.reset(with_users(world(), [user(200, mail="o'brien@emea.contoso.com",
                                                 userPrincipalName="obrien@emea.contoso.com")],
                                members=[uid(200)]))
    first = w.sync()
    assert first.counts["failure"] == 0 and uid(200) in w.b2b()
    lost = fresh_store_world(w, tmp_path, "lost")
    try:
        again = lost.sync()
        assert again.kind == "initial" and again.counts["create"] == 0 and again.counts["failure"] == 0
        assert len(users_with_mail(w, "o'brien@emea.contoso.com")) == 1          # no duplicate
        assert len(w.b2b()) == 11
    finally:
        lost.close()


def test_mails_with_plus_ampersand_and_hash_are_looked_up_encoded_and_never_duplicated(w, tmp_path):
    """Hand-invited guests whose source users come into scope in an incremental cycle: the
    lookup $filter carries the mail; raw, '+' would read as a space and '&'/'#' cut the query."""
    people = [user(n, mail=mail, userPrincipalName=f"odd{n}@emea.contoso.com") for n, mail in ODD_MAILS.items()]
    invited = [hand_invited(n, mail) for n, mail in ODD_MAILS.items()]
    w.emulator.reset(with_users(world(), people, target=invited))
    assert w.sync().counts["failure"] == 0                                      # not in scope yet
    for n in ODD_MAILS:
        w.src_api.request("POST", f"/groups/{GROUP}/members/$ref",
                          {"@odata.id": f"https://graph.microsoft.com/v1.0/directoryObjects/{uid(n)}"})
    report = w.sync()
    assert report.kind == "incremental" and report.counts["failure"] == 0, report.message
    assert report.counts["create"] == 0 and report.counts["update"] == len(ODD_MAILS)
    synced = w.b2b()
    for n, mail in ODD_MAILS.items():
        assert synced[uid(n)]["id"] == hand_invited(n, mail)["id"]               # matched by mail
        assert len(users_with_mail(w, mail)) == 1
    lost = fresh_store_world(w, tmp_path, "lost")
    try:
        again = lost.sync()
        assert again.counts["create"] == 0 and again.counts["failure"] == 0
        assert all(len(users_with_mail(w, m)) == 1 for m in ODD_MAILS.values())
    finally:
        lost.close()


# -- invitations ----------------------------------------------------------------------------------

def test_members_are_invited_as_guest_and_switched_to_member_in_the_patch(w):
    before = w.emulator.stats().get("writes", 0)
    report = w.sync()
    created = report.counts["create"]
    assert created == 9 and report.counts["failure"] == 0
    invitations = w.target().get("invitations", [])
    assert invitations and {i["invitedUserType"] for i in invitations} == {"Guest"}
    assert {u["userType"] for u in w.b2b().values()} == {"Member"}
    # each new user: the invitation and one PATCH; the hand-invited user matched by mail: one PATCH
    assert w.emulator.stats().get("writes", 0) - before == 2 * created + report.counts["update"]


def test_an_address_the_invitation_refuses_is_reported_and_the_others_are_created(w):
    w.emulator.reset(with_users(world(), [user(210, mail="x+y@emea.contoso.com",
                                                 userPrincipalName="xy@emea.contoso.com")],
                                members=[uid(210)]))
    report = w.sync()
    assert report.counts["create"] == 10 and report.counts["failure"] == 1
    assert set(w.b2b()) == {uid(i) for i in range(1, 11)}                      # the others exist
    row = next(r for r in w.store.log(w.cfg.name, report.cycle_id) if r["sourceIdentity.id"] == uid(210))
    assert row["status"] == "failure" and row["errorCode"] == "BadRequest"
    assert "+" in row["reason"] and "invitation" in row["reason"]
    assert not users_with_mail(w, "x+y@emea.contoso.com")


# -- attributes Graph says not to write ----------------------------------------------------------

def test_show_in_address_list_is_never_sent_and_the_log_says_so_once_per_cycle(w):
    assert "showInAddressList" in [m.target for m in w.cfg.effective_mappings]    # a default mapping
    for _ in range(2):
        report = w.sync()
        assert report.counts["failure"] == 0
        rows = w.store.log(w.cfg.name, report.cycle_id)
        notices = [r for r in rows if r["errorCode"] == "AttributeNotWritableInGraph"]
        assert len(notices) == 1
        assert notices[0]["status"] == "warning" and "Do not use in Microsoft Graph" in notices[0]["reason"]
        # cycles.csv counts every row of the provisioning log, the notice too
        assert report.counts["warning"] == 1 and report.counts["other"] == sum(
            r["provisioningAction"] == "other" for r in rows)
        assert not any(p["displayName"] == "showInAddressList" for r in rows for p in r["modifiedProperties"])
    assert not any("showInAddressList" in u for u in w.b2b().values())


# -- groups/delta ---------------------------------------------------------------------------------

def test_more_than_fifty_assigned_groups_are_read_unfiltered_and_kept_apart(w):
    fixture = world()
    src = next(t for t in fixture["tenants"] if t["id"] == SRC)
    many = [f"d0000000-0000-4000-8000-{i:012d}" for i in range(60)]
    src["users"] += [user(300 + i) for i in range(60)]
    src["groups"] += [{"id": g, "displayName": f"Team {i}", "members": [uid(300 + i)]} for i, g in enumerate(many)]
    src["groups"].append({"id": "d0000000-0000-4000-8000-999999999999", "displayName": "Not assigned",
                          "members": [uid(1)]})
    w.emulator.reset(fixture)
    cfg = make_config(w.emulator, w.store_url, scope={"mode": "assigned", "assignments": {"groups": many}})
    report = w.sync(cfg)
    assert report.counts["failure"] == 0 and report.counts["create"] == 60
    assert set(w.b2b()) == {uid(300 + i) for i in range(60)}                    # not uid(1): not assigned
    w.src_api.request("POST", f"/groups/{many[55]}/members/$ref",
                      {"@odata.id": f"https://graph.microsoft.com/v1.0/directoryObjects/{uid(2)}"})
    later = w.sync(cfg)
    assert later.kind == "incremental" and later.counts["create"] == 1 and uid(2) in w.b2b()


# -- expired delta links --------------------------------------------------------------------------

def test_after_the_delta_links_expire_the_next_cycle_converges_without_deletes_or_duplicates(w):
    w.sync()
    before = {sid: u["id"] for sid, u in w.b2b().items()}
    w.emulator.expire_delta_tokens()
    report = w.sync()
    assert report.kind == "initial"
    assert report.counts["delete"] == report.counts["create"] == report.counts["failure"] == 0
    assert "users delta link expired (410 syncStateNotFound): full read" in report.message
    [cycle] = [c for c in w.store.cycles(w.cfg.name) if c["cycleId"] == report.cycle_id]
    assert cycle["kind"] == "initial" and "delta link expired (410" in cycle["error"]
    assert {sid: u["id"] for sid, u in w.b2b().items()} == before
    assert not w.deleted()
    after = w.sync()
    assert after.kind == "incremental" and after.counts["create"] == after.counts["delete"] == 0


def test_a_user_deleted_while_the_link_was_expired_is_deprovisioned_after_the_whole_read(w):
    w.sync()
    w.src_api.request("DELETE", f"/users/{uid(6)}")
    w.emulator.expire_delta_tokens()
    report = w.sync()
    assert report.kind == "initial" and report.counts["delete"] == 1 and report.counts["create"] == 0
    assert uid(6) not in w.b2b() and len(w.b2b()) == 9


class _FailingRounds:
    """The source GraphApi, except that each users round (from scratch) fails after its first
    page (a dropped connection), and groups rounds from a link answer ``groups_error``."""

    def __init__(self, api, *, users_fail: bool = False, groups_error: GraphError | None = None):
        self.api, self.users_fail, self.groups_error = api, users_fail, groups_error

    def __getattr__(self, name):
        return getattr(self.api, name)

    def delta(self, resource, **kw):
        if resource == "groups" and kw.get("link") and self.groups_error is not None:
            raise self.groups_error
        inner = self.api.delta(resource, **kw)
        if resource != "users" or kw.get("link") or not self.users_fail:
            return inner
        return _HalfRound(inner)


class _HalfRound:
    def __init__(self, inner):
        self.inner, self.delta_link = inner, None

    def pages(self):
        for page in self.inner.pages():
            yield page[:3]
            raise GraphError(0, "connectionError", "connection dropped", kind=ErrorKind.TRANSIENT)


def test_a_full_read_that_fails_half_way_deletes_no_one(w):
    w.sync()
    w.src_api.request("DELETE", f"/users/{uid(6)}")
    w.emulator.expire_delta_tokens()
    with pytest.raises(GraphError):
        run_cycle(w.cfg, source_api=_FailingRounds(w.src_api, users_fail=True), target_api=w.tgt_api,
                  store=w.store, options=CycleOptions())
    assert uid(6) in w.b2b() and not w.deleted()                                # nothing removed
    report = w.sync()                                                           # the next one converges
    assert report.kind == "initial" and report.counts["delete"] == 1 and uid(6) not in w.b2b()


def test_an_expired_groups_link_reads_the_members_again_and_re_evaluates_who_changed(w):
    w.sync()
    w.src_api.request("DELETE", f"/groups/{GROUP}/members/{uid(4)}/$ref")
    gone = GraphError(410, "syncStateNotFound", "The delta token is expired", kind=ErrorKind.RESYNC)
    report = run_cycle(w.cfg, source_api=_FailingRounds(w.src_api, groups_error=gone), target_api=w.tgt_api,
                       store=w.store, options=CycleOptions())
    assert report.kind == "incremental" and "groups delta link expired (410 syncStateNotFound)" in report.message
    assert report.counts["delete"] == 1 and report.counts["create"] == 0 and uid(4) not in w.b2b()
    assert w.sync().counts["delete"] == 0


def test_a_groups_link_saved_before_members_were_selected_is_not_used_again(w):
    """Links saved under "groups" were asked with $expand=members, which delta does not support:
    they may track no member at all. The next cycle reads the assigned groups in full instead."""
    w.sync()
    marks = w.store.watermarks(w.cfg.name)
    w.store.clear_watermarks(w.cfg.name)
    w.store.save_watermarks(w.cfg.name, {"users": marks["users"],
                                         "groups": f"{w.emulator.url}/groups/delta?$deltatoken=legacy"})
    w.src_api.request("DELETE", f"/groups/{GROUP}/members/{uid(4)}/$ref")
    report = w.sync()
    assert report.kind == "incremental" and report.counts["failure"] == 0
    assert report.counts["delete"] == 1 and uid(4) not in w.b2b()
    assert "groups.members" in w.store.watermarks(w.cfg.name)
