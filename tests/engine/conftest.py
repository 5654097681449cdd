"""A small three-tenant world on the emulator, and helpers to run cycles against it."""

from __future__ import annotations

import pytest

from tenantsync.anchor import extension_name
from tenantsync.config import SyncConfig
from tenantsync.cycle import CycleOptions, run_cycle
from tenantsync.emulator.server import EmulatorServer
from tenantsync.emulator.tokens import plain_app_id
from tenantsync.graph.api import GraphApi
from tenantsync.store import Store

SRC, TGT = "11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"
GROUP, OTHER_GROUP, NESTED = "g0000000-0000-4000-8000-000000000001", "g0000000-0000-4000-8000-000000000002", \
    "g0000000-0000-4000-8000-000000000003"


# The target token's application holds the anchor extension, registered in the fixture (as
# `tenantsync setup` would have done); the configuration names it (settings.anchor_attribute).
TGT_APP, SRC_APP = plain_app_id("tgt-token"), plain_app_id("src-token")
ANCHOR = extension_name(TGT_APP, "tenantsyncSourceAnchor")
SRC_ANCHOR = extension_name(SRC_APP, "tenantsyncSourceAnchor")     # EMEA as a target (side by side)


def applications(app_id: str) -> list[dict]:
    return [{"appId": app_id, "displayName": "tenantsync", "extensionProperties": [
        {"name": "tenantsyncSourceAnchor", "dataType": "String", "targetObjects": ["User"]}]}]

HQ_PERSON = "a0000000-0000-4000-8000-000000000002"
PENDING = "b0000000-0000-4000-8000-000000000010"


def uid(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def user(n: int, **extra):
    first, last = ["Zoë", "José", "Åsa", "Bjørn", "Anna", "Ken", "Lea", "Max", "Ines", "Olaf"][n % 10], f"Test{n}"
    base = {"id": uid(n), "userPrincipalName": f"user{n}@emea.contoso.com", "mail": f"user{n}@emea.contoso.com",
            "displayName": f"{first} {last}", "givenName": first, "surname": last, "userType": "Member",
            "accountEnabled": True, "externalUserState": None, "department": "Sales", "jobTitle": "Engineer",
            "city": "Paris", "country": "FR", "mailNickname": f"user{n}", "preferredLanguage": "fr-FR",
            "smsSignInState": "notAllowedByPolicy"}
    base.update(extra)
    return base


def world(n_users: int = 10) -> dict:
    users = [user(i) for i in range(1, n_users + 1)]
    users.append(user(90, userType="Guest", externalUserState="Accepted",
                      userPrincipalName="guest_fabrikam.com#EXT#@contosoemea.onmicrosoft.com", mail="guest@fabrikam.com"))
    users.append(user(91))   # member of the nested group only
    users.append(user(92, smsSignInState="ready"))
    members = [u["id"] for u in users if u["id"] not in (uid(91),)] + [NESTED]
    target_users = [
        {"id": "a0000000-0000-4000-8000-000000000001", "userPrincipalName": "admin@contoso.com",
         "mail": "user3@emea.contoso.com", "displayName": "HQ Admin", "userType": "Member", "accountEnabled": True},
        {"id": HQ_PERSON, "userPrincipalName": "kim@contoso.com", "mail": "kim@contoso.com",
         "displayName": "Kim HQ", "userType": "Member", "accountEnabled": True},
        # invited by hand long ago, never accepted; its UPN comes from an old address
        {"id": PENDING, "userPrincipalName": "old.user10_emea.contoso.com#EXT#@contosohq.onmicrosoft.com",
         "mail": "user10@emea.contoso.com", "displayName": "Old Name", "userType": "Guest",
         "externalUserState": "PendingAcceptance", "accountEnabled": True, "creationType": "Invitation"},
    ]
    partner = lambda tid, inbound, outbound: {"tenantId": tid, "automaticUserConsentSettings": {
        "inboundAllowed": inbound, "outboundAllowed": outbound},
        "identitySynchronization": {"userSyncInbound": {"isSyncAllowed": True}}}
    return {"tenants": [
        {"id": SRC, "displayName": "Contoso EMEA", "defaultDomain": "contosoemea.onmicrosoft.com",
         "domains": [{"id": "emea.contoso.com", "isVerified": True},
                     {"id": "contosoemea.onmicrosoft.com", "isVerified": True}],
         "tokens": ["src-token"], "premium": True, "authorizationPolicy": {"allowInvitesFrom": "everyone"},
         "crossTenantAccessPolicy": {"partners": [partner(TGT, False, True)]},
         "users": users,
         "groups": [{"id": GROUP, "displayName": "CTS - HQ sync", "members": members},
                    {"id": NESTED, "displayName": "Nested", "members": [uid(91)]},
                    {"id": OTHER_GROUP, "displayName": "Other", "members": [uid(1)]}],
         "applications": applications(SRC_APP)},
        {"id": TGT, "displayName": "Contoso HQ", "defaultDomain": "contosohq.onmicrosoft.com",
         "domains": [{"id": "contoso.com", "isVerified": True},
                     {"id": "contosohq.onmicrosoft.com", "isVerified": True}],
         "tokens": ["tgt-token"], "premium": True, "authorizationPolicy": {"allowInvitesFrom": "everyone"},
         "crossTenantAccessPolicy": {"partners": [partner(SRC, True, False)]},
         "users": target_users, "groups": [], "applications": applications(TGT_APP)},
    ]}


@pytest.fixture(scope="session")
def emulator():
    with EmulatorServer(world()) as server:
        yield server


@pytest.fixture
def env(emulator, monkeypatch):
    monkeypatch.setenv("SRC_TOKEN", "src-token")
    monkeypatch.setenv("TGT_TOKEN", "tgt-token")
    emulator.reset(world())
    return emulator


def make_config(emulator, store_url: str, **overrides) -> SyncConfig:
    data = {
        "name": overrides.pop("name", "emea-to-hq"),
        "source": {"connection": "emea"}, "target": {"connection": "hq"},
        "scope": {"mode": "assigned", "assignments": {"groups": [GROUP]}},
        "mappings": [{"target": "userType", "type": "constant", "value": "Member", "apply": "always"},
                     {"target": "jobTitle", "type": "expression",
                      "expression": 'Join(" - ", [jobTitle], [department])'}],
        "state": store_url,
        "settings": {"deletion_threshold": 500, "anchor_attribute": ANCHOR},
        "connections": {
            "emea": {"name": "emea", "tenant_id": SRC, "graph_url": emulator.url,
                     "auth": {"kind": "static_token", "token_env": "SRC_TOKEN"}},
            "hq": {"name": "hq", "tenant_id": TGT, "graph_url": emulator.url,
                   "auth": {"kind": "static_token", "token_env": "TGT_TOKEN"}}},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return SyncConfig.model_validate(data)


class World:
    """Runs cycles and reads the target tenant's state, as an administrator would see it."""

    def __init__(self, emulator, store_url):
        self.emulator, self.store_url = emulator, store_url
        self.cfg = make_config(emulator, store_url)
        self.store = Store.for_url(store_url)
        self.src_api = GraphApi(self.cfg.connection("emea"))
        self.tgt_api = GraphApi(self.cfg.connection("hq"))

    def sync(self, cfg=None, **opts):
        return run_cycle(cfg or self.cfg, source_api=self.src_api,
                         target_api=GraphApi(self.cfg.connection("hq"), read_only=opts.get("dry_run", False)),
                         store=self.store, options=CycleOptions(**opts))

    def target(self):
        return self.emulator.dump(TGT)

    def b2b(self):
        return {u[self.cfg.settings.anchor_attribute].split("/")[1]: u
                for u in self.target()["users"] if u.get(self.cfg.settings.anchor_attribute)}

    def deleted(self):
        return self.target().get("deletedItems", [])

    def close(self):
        self.src_api.close()
        self.tgt_api.close()


@pytest.fixture
def w(env, tmp_path):
    world_ = World(env, f"sqlite:///{tmp_path}/state.db")
    yield world_
    world_.close()
