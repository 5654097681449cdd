"""Users and groups writes, deleted items, phone methods, policies, and the control API."""

from __future__ import annotations

from msgraph.generated.models.password_profile import PasswordProfile
from msgraph.generated.models.reference_create import ReferenceCreate
from msgraph.generated.models.user import User

from .conftest import graph_client, run
from .emulator_world import CONTOSO, CONTOSO_TOKEN, EXT, FABRIKAM, NORTHWIND, _uid

SALES = _uid(0xC6, 1)
U1, U2, U3 = _uid(0xC0, 1), _uid(0xC0, 2), _uid(0xC0, 3)
MOBILE = "3179e48a-750b-4051-897c-87b9720928f7"


def test_user_lifecycle_through_the_sdk(emu, http, sdk_warm):
    async def body():
        c = graph_client(emu.url, CONTOSO_TOKEN)
        user = await c.users.post(User(
            account_enabled=True, display_name="Ada", mail_nickname="ada",
            user_principal_name="ada@contoso.com",
            password_profile=PasswordProfile(password="Secr3t!", force_change_password_next_sign_in=True),
            additional_data={EXT: "anchor-ada"}))
        await c.users.by_user_id(user.id).patch(User(job_title="CTO",
                                                     additional_data={EXT: "anchor-2"}))
        got = await c.users.by_user_id("ADA@contoso.com").get()
        await c.users.by_user_id(user.id).delete()
        deleted = await c.directory.deleted_items.graph_user.get()
        restored = await c.directory.deleted_items.by_directory_object_id(user.id).restore.post()
        return user, got, deleted, restored

    user, got, deleted, restored = run(body)
    assert got.job_title == "CTO" and got.id == user.id
    gone = [u for u in deleted.value if u.id == user.id][0]
    assert gone.user_principal_name == user.id.replace("-", "") + "ada@contoso.com"
    assert restored.user_principal_name == "ada@contoso.com"
    r = http().get(f"/users/{user.id}", params={"$select": f"id,{EXT},jobTitle"}).json()
    assert r[EXT] == "anchor-2" and r["jobTitle"] == "CTO"
    dump = emu.dump(CONTOSO)
    assert [u for u in dump["users"] if u["id"] == user.id][0][EXT] == "anchor-2"


def test_user_write_validation(emu, http):
    c = http()
    base = {"accountEnabled": True, "displayName": "X", "mailNickname": "x",
            "passwordProfile": {"password": "p"}}
    assert c.post("/users", json={**base, "userPrincipalName": "x@elsewhere.com"}).status_code \
        == 400                                                   # unverified domain
    assert c.post("/users", json={**base, "userPrincipalName": "USER1@contoso.com"}).status_code \
        == 400                                                   # taken
    assert c.post("/users", json={"displayName": "no upn"}).status_code == 400
    r = c.patch(f"/users/{U1}", json={"favouriteColour": "blue"})
    assert r.status_code == 400 and "does not exist" in r.json()["error"]["message"]
    assert c.patch(f"/users/{U1}", json={"id": "other"}).status_code == 400      # read-only
    assert c.patch(f"/users/{U1}", json={"accountEnabled": "yes"}).status_code == 400
    assert c.patch("/users/nobody@contoso.com", json={"city": "x"}).status_code == 404
    r = c.patch(f"/users/{U1}", json={"userPrincipalName": "first.user@contoso.onmicrosoft.com"})
    assert r.status_code == 204
    assert c.get("/users/first.user@contoso.onmicrosoft.com").json()["id"] == U1
    assert c.get("/users/user1@contoso.com").status_code == 404
    assert c.patch(f"/users/{U2}", json={EXT: None}).status_code == 204


def test_hard_delete_and_restore_conflicts(emu, http):
    c = http()
    assert c.delete(f"/users/{U3}").status_code == 204
    assert c.get(f"/users/{U3}").status_code == 404
    assert c.get(f"/directory/deletedItems/{U3}").json()["@odata.type"] == "#microsoft.graph.user"
    # the UPN is free again: a new user takes it, so the restore conflicts
    assert c.post("/users", json={"accountEnabled": True, "displayName": "New 3",
                                  "mailNickname": "u3", "userPrincipalName": "user3@contoso.com",
                                  "passwordProfile": {"password": "p"}}).status_code == 201
    assert c.post(f"/directory/deletedItems/{U3}/restore").status_code == 400
    assert c.delete(f"/directory/deletedItems/{U3}").status_code == 204
    assert c.get(f"/directory/deletedItems/{U3}").status_code == 404
    assert c.delete(f"/directory/deletedItems/{U1}").status_code == 404          # live user


def test_group_members_and_refs_through_the_sdk(emu, http, sdk_warm):
    async def body():
        c = graph_client(emu.url, CONTOSO_TOKEN)
        ref = ReferenceCreate(odata_id=f"https://graph.microsoft.com/v1.0/directoryObjects/{U3}")
        await c.groups.by_group_id(SALES).members.ref.post(ref)
        await c.groups.by_group_id(SALES).members.by_directory_object_id(U1).ref.delete()
        return await c.groups.by_group_id(SALES).members.get()

    members = run(body)
    assert [m.id for m in members.value] == [U2, U3]
    c = http()
    page = c.get(f"/groups/{SALES}/members", params={"$select": "id", "$top": "1"}).json()
    assert page["value"] == [{"@odata.type": "#microsoft.graph.user", "id": U2}]
    assert c.get(page["@odata.nextLink"]).json()["value"][0]["id"] == U3
    dup = c.post(f"/groups/{SALES}/members/$ref",
                 json={"@odata.id": f"https://graph.microsoft.com/v1.0/directoryObjects/{U3}"})
    assert dup.status_code == 400
    assert c.delete(f"/groups/{SALES}/members/{U1}/$ref").status_code == 404


def test_soft_delete_keeps_group_memberships_until_permanent_deletion(emu, http):
    """delta-query-groups: "Only users that have been permanently deleted are removed from
    groups. Users that have been temporary deleted keep their group memberships". While the user
    is in deleted items it is not listed among members and has no memberOf (emulator decision:
    the docs do not say); restore shows the kept memberships again."""
    c = http()

    def members() -> list[str]:
        return [m["id"] for m in c.get(f"/groups/{SALES}/members").json()["value"]]

    assert c.delete(f"/users/{U2}").status_code == 204
    assert members() == [U1]
    assert c.get(f"/users/{U2}/memberOf").status_code == 404
    assert {g["id"]: g["members"] for g in emu.dump(CONTOSO)["groups"]}[SALES] == [U1, U2]
    assert c.post(f"/directory/deletedItems/{U2}/restore").status_code == 200
    assert members() == [U1, U2]
    assert [g["id"] for g in c.get(f"/users/{U2}/memberOf").json()["value"]] == [SALES]
    # permanent deletion removes the memberships
    assert c.delete(f"/users/{U2}").status_code == 204
    assert c.delete(f"/directory/deletedItems/{U2}").status_code == 204
    assert members() == [U1]
    assert {g["id"]: g["members"] for g in emu.dump(CONTOSO)["groups"]}[SALES] == [U1]


def test_properties_not_to_write_through_graph(emu, http):
    """user resource: showInAddressList "Do not use in Microsoft Graph"; proxyAddresses
    "Read-only in Microsoft Graph"; update-user: some properties "cannot be updated using an
    application-only context". The emulator refuses them (400) and changes nothing."""
    c = http()
    base = {"accountEnabled": True, "displayName": "X", "mailNickname": "x",
            "userPrincipalName": "x@contoso.com", "passwordProfile": {"password": "p"}}
    for body in ({"showInAddressList": False}, {"ShowInAddressList": True},
                 {"proxyAddresses": ["SMTP:x@contoso.com"]}, {"onPremisesSamAccountName": "x"},
                 {"skills": ["python"]}, {"jobTitle": "Boss", "showInAddressList": False}):
        r = c.patch(f"/users/{U1}", json=body)
        assert r.status_code == 400, body
        assert r.json()["error"]["code"] == "Request_BadRequest"
    r = c.patch(f"/users/{U1}", json={"showInAddressList": False})
    assert "Do not use in Microsoft Graph" in r.json()["error"]["message"]
    assert c.post("/users", json={**base, "showInAddressList": True}).status_code == 400
    assert c.get("/users/x@contoso.com").status_code == 404
    assert c.get(f"/users/{U1}", params={"$select": "jobTitle"}).json()["jobTitle"] == "Engineer"
    assert c.patch(f"/users/{U1}", json={"jobTitle": "Boss"}).status_code == 204


def test_group_create_update_delete(emu, http):
    c = http()
    r = c.post("/groups", json={"displayName": "Temp", "mailEnabled": False,
                                "mailNickname": "temp", "securityEnabled": True,
                                "members@odata.bind": [
                                    f"https://graph.microsoft.com/v1.0/users/{U1}"]})
    assert r.status_code == 201
    gid = r.json()["id"]
    assert c.patch(f"/groups/{gid}", json={"description": "d"}).status_code == 204
    assert c.get(f"/groups/{gid}").json()["description"] == "d"
    assert [m["id"] for m in c.get(f"/groups/{gid}/members").json()["value"]] == [U1]
    assert c.delete(f"/groups/{gid}").status_code == 204
    assert c.get(f"/groups/{gid}").status_code == 404
    r = c.get("/groups", params={"$filter": "displayName eq 'sales'"}).json()
    assert [g["id"] for g in r["value"]] == [SALES]


def test_phone_methods_and_sms_sign_in(emu, http, sdk_warm):
    c = http()
    methods = c.get(f"/users/{U1}/authentication/phoneMethods").json()["value"]
    assert methods == [{"id": MOBILE, "phoneNumber": "+1 425 555 0101", "phoneType": "mobile",
                        "smsSignInState": "ready"}]
    assert c.get(f"/users/{U3}/authentication/phoneMethods").json()["value"] == []

    async def body():
        client = graph_client(emu.url, CONTOSO_TOKEN)
        await client.users.by_user_id(U1).authentication.phone_methods \
            .by_phone_authentication_method_id(MOBILE).disable_sms_sign_in.post()

    run(body)
    assert c.get(f"/users/{U1}/authentication/phoneMethods").json()["value"][0][
        "smsSignInState"] == "notEnabled"
    r = c.post(f"/users/{U3}/authentication/phoneMethods/{MOBILE}/disableSmsSignIn")
    assert r.status_code == 404
    # the control API sets fixture-only fields
    emu.patch_user(CONTOSO, U3, {"smsSignInState": "ready", "phoneNumber": "+44 20 7946 0000"})
    assert c.get(f"/users/{U3}/authentication/phoneMethods").json()["value"][0][
        "phoneNumber"] == "+44 20 7946 0000"
    assert "smsSignInState" not in c.get(f"/users/{U3}", params={"$select": "id"}).json()


def test_domains_organization_and_policies(emu, http):
    c = http()
    domains = {d["id"]: d for d in c.get("/domains").json()["value"]}
    assert domains["contoso.onmicrosoft.com"]["isInitial"] is True
    assert domains["contoso.com"]["isDefault"] is True
    org = c.get("/organization").json()["value"][0]
    assert org["id"] == CONTOSO and {d["name"] for d in org["verifiedDomains"]} == set(domains)
    assert org["assignedPlans"][0]["service"] == "AADPremiumService"
    nw = http("token-northwind").get("/organization").json()["value"][0]
    assert nw["assignedPlans"] == [] and nw["id"] == NORTHWIND
    assert c.patch("/policies/authorizationPolicy",
                   json={"allowInvitesFrom": "sometimes"}).status_code == 400

    p = "/policies/crossTenantAccessPolicy/partners"
    r = c.post(p, json={"tenantId": NORTHWIND})
    assert r.status_code == 201 and r.json()["tenantId"] == NORTHWIND
    assert c.post(p, json={"tenantId": NORTHWIND}).json()["error"]["code"] == \
        "Request_MultipleObjectsWithSameKeyValue"
    sync = f"{p}/{NORTHWIND}/identitySynchronization"
    r = c.get(sync)
    assert r.status_code == 404 and r.json()["error"]["code"] == "Directory_ObjectNotFound"
    assert c.patch(sync, json={"userSyncInbound": {"isSyncAllowed": True}}).status_code == 404
    assert c.put(sync, json={"displayName": "Northwind",
                             "userSyncInbound": {"isSyncAllowed": True}}).status_code == 204
    assert c.put(sync, json={"displayName": "again"}).status_code == 409
    assert c.patch(sync, json={"userSyncInbound": {"isSyncAllowed": False}}).status_code == 204
    assert c.get(sync).json()["userSyncInbound"] == {"isSyncAllowed": False}
    assert c.delete(sync).status_code == 204 and c.get(sync).status_code == 404
    assert c.patch(f"{p}/{NORTHWIND}", json={"automaticUserConsentSettings": {
        "inboundAllowed": True}}).status_code == 204
    assert c.get(f"{p}/{NORTHWIND}").json()["automaticUserConsentSettings"]["inboundAllowed"]
    assert c.delete(f"{p}/{NORTHWIND}").status_code == 204
    assert c.get(f"{p}/{NORTHWIND}").status_code == 404
    assert FABRIKAM in {x["tenantId"] for x in c.get(p).json()["value"]}


def test_control_api_redeem_leave_dump_stats(emu, http):
    c = http()
    pending = _uid(0xC0, 100)
    emu.redeem(CONTOSO, pending)
    assert c.get(f"/users/{pending}", params={"$select": "externalUserState"}).json()[
        "externalUserState"] == "Accepted"
    left = emu.leave(CONTOSO, _uid(0xC0, 101), mode="soft")
    assert left["mail"] == "happy.guest@litware.com"
    dump = emu.dump(CONTOSO)
    assert [u["id"] for u in dump["deletedItems"]] == [_uid(0xC0, 101)]
    assert dump["departures"][0]["id"] == _uid(0xC0, 101)
    assert dump["deletedItems"][0][EXT] == "a/b"
    emu.leave(CONTOSO, pending)                              # default: gone for good
    dump = emu.dump(CONTOSO)
    assert pending not in {u["id"] for u in dump["users"] + dump["deletedItems"]}
    assert [d["mode"] for d in dump["departures"]] == ["soft", "hard"]
    assert c.get(f"/users/{pending}").status_code == 404
    assert [u for u in dump["users"] if u["id"] == U1][0]["smsSignInState"] == "ready"
    assert {g["id"]: g["members"] for g in dump["groups"]}[SALES] == [U1, U2]
    stats = emu.stats()
    assert stats["by_route"]["GET /users/{id}"] == 2 and stats["total_requests"] == 2
    assert emu.reset_stats()["total_requests"] == 0


def test_unknown_routes_and_methods(emu, http):
    c = http()
    r = c.get("/devices")                      # not emulated
    assert r.status_code == 400 and r.json()["error"]["code"] == "BadRequest"
    assert c.put("/users").status_code == 405
    assert c.get("/users/delta()").status_code == 200
    assert c.get("/Users?$Select=id&$TOP=1").json()["value"][0] == {"id": U1}
