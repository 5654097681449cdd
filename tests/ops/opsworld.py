"""Two tenants on the emulator, a configuration over them, and a local SMTP sink.

The world is small and built here (not the samples) so each test can bend one policy; the UPN
repair test uses the shipped samples (data/samples/tenants.json).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tenantsync import permissions
from tenantsync.anchor import extension_name
from tenantsync.config import SyncConfig
from tenantsync.cycle import CycleOptions, run_cycle
from tenantsync.emulator.tokens import app_token
from tenantsync.graph.api import GraphApi
from tenantsync.graph.connection import AuthSettings
from tenantsync.store import Store
from tests.smtp_sink import Sink, smtp_sink  # noqa: F401  (fixture re-exported)

SRC = "51515151-0000-4000-8000-000000000001"
TGT = "7a7a7a7a-0000-4000-8000-000000000002"
GROUP = "6a000000-0000-4000-8000-000000000001"
HQ_DOMAIN = "opshq.onmicrosoft.com"
OUT_OF_SCOPE = 9000         # department Marketing: fails the scoping filter
PREMIUM_PLAN = {"capabilityStatus": "Enabled", "service": "AADPremiumService",
                "servicePlanId": "41781fb2-bc02-4b7c-bd55-b576c07bb09d"}


# JWT-shaped tokens, as Graph's app-only tokens: their roles claim holds every application
# permission the product needs on that side (tenantsync/permissions.py), so test connection can
# read and check them. The target's application has the anchor extension registered already.
SRC_APP = "0a5c0000-0000-4000-8000-00000000a001"
TGT_APP = "0a5c0000-0000-4000-8000-00000000a002"
ANCHOR = extension_name(TGT_APP, "tenantsyncSourceAnchor")


def token(side: str, roles: list[str] | None = None) -> str:
    tenant, app = (SRC, SRC_APP) if side == "source" else (TGT, TGT_APP)
    return app_token(tenant, app, permissions.needed(side) if roles is None else roles)  # type: ignore[arg-type]


SRC_TOKEN, TGT_TOKEN = token("source"), token("target")
# The tests' own administrator tokens (plain strings: every permission) for changing the tenants.
ADMIN_TOKENS = {"source": "ops-src-admin", "target": "ops-tgt-admin"}
APPLICATIONS = [{"appId": TGT_APP, "displayName": "tenantsync (ops HQ)", "extensionProperties": [
    {"name": "tenantsyncSourceAnchor", "dataType": "String", "targetObjects": ["User"]}]}]


def uid(n: int) -> str:
    return f"0a000000-0000-4000-8000-{n:012d}"


def user(n: int, **extra: Any) -> dict[str, Any]:
    base = {"id": uid(n), "userPrincipalName": f"user{n}@emea.ops.example", "mail": f"user{n}@emea.ops.example",
            "displayName": f"Ops User{n}", "givenName": "Ops", "surname": f"User{n}", "userType": "Member",
            "accountEnabled": True, "externalUserState": None, "department": "Sales", "jobTitle": "Engineer",
            "mailNickname": f"user{n}", "smsSignInState": "notAllowedByPolicy"}
    base.update(extra)
    return base


def partner(tid: str, *, inbound: bool, outbound: bool, sync: bool | None = None) -> dict[str, Any]:
    p: dict[str, Any] = {"tenantId": tid, "automaticUserConsentSettings": {"inboundAllowed": inbound,
                                                                           "outboundAllowed": outbound}}
    if sync is not None:
        p["identitySynchronization"] = {"userSyncInbound": {"isSyncAllowed": sync}}
    return p


def world(n_users: int = 10, *, source: dict[str, Any] | None = None,
          target: dict[str, Any] | None = None) -> dict[str, Any]:
    users = [user(i) for i in range(1, n_users + 1)]
    users.append(user(OUT_OF_SCOPE, department="Marketing"))
    src = {"id": SRC, "displayName": "Ops EMEA", "defaultDomain": "opsemea.onmicrosoft.com",
           "domains": [{"id": "emea.ops.example", "isVerified": True}],
           "tokens": [SRC_TOKEN, ADMIN_TOKENS["source"]], "premium": True,
           "authorizationPolicy": {"allowInvitesFrom": "everyone"},
           "crossTenantAccessPolicy": {"partners": [partner(TGT, inbound=False, outbound=True)]},
           "users": users,
           "groups": [{"id": GROUP, "displayName": "CTS - ops", "members": [u["id"] for u in users]}]}
    tgt = {"id": TGT, "displayName": "Ops HQ", "defaultDomain": HQ_DOMAIN,
           "domains": [{"id": "hq.ops.example", "isVerified": True}],
           "tokens": [TGT_TOKEN, ADMIN_TOKENS["target"]], "premium": True, "applications": copy.deepcopy(APPLICATIONS),
           "authorizationPolicy": {"allowInvitesFrom": "everyone"},
           "crossTenantAccessPolicy": {"partners": [partner(SRC, inbound=True, outbound=False, sync=True)]},
           "users": [{"id": "ad000000-0000-4000-8000-000000000001", "userPrincipalName": "admin@hq.ops.example",
                      "mail": "admin@hq.ops.example", "displayName": "HQ Admin", "userType": "Member",
                      "accountEnabled": True}],
           "groups": []}
    src.update(source or {})
    tgt.update(target or {})
    return {"tenants": [src, tgt]}


def make_config(emulator: Any, store_url: str, **overrides: Any) -> SyncConfig:
    data: dict[str, Any] = {
        "name": "ops-emea-to-hq",
        "source": {"connection": "emea"}, "target": {"connection": "hq"},
        "scope": {"mode": "assigned", "assignments": {"groups": [GROUP]},
                  "filters": [[{"attribute": "department", "operator": "EQUALS", "value": "Sales"}]]},
        "mappings": [{"target": "userType", "type": "constant", "value": "Member", "apply": "always"}],
        "state": store_url,
        "settings": {"deletion_threshold": 500, "notification_email": "identity-ops@example.com",
                     "anchor_attribute": ANCHOR},
        "connections": {
            "emea": {"name": "emea", "tenant_id": SRC, "graph_url": emulator.url,
                     "auth": {"kind": "static_token", "token_env": "OPS_SRC_TOKEN"}},
            "hq": {"name": "hq", "tenant_id": TGT, "graph_url": emulator.url,
                   "auth": {"kind": "static_token", "token_env": "OPS_TGT_TOKEN"}}},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return SyncConfig.model_validate(data)


@pytest.fixture(scope="session")
def emulator():
    from tenantsync.emulator.server import EmulatorServer

    with EmulatorServer(world()) as server:
        yield server


class Ops:
    """The world of one test: emulator reset to a fixture, a config, a store, admin Graph clients."""

    def __init__(self, emulator: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch):
        self.emulator, self.tmp_path, self.mp = emulator, tmp_path, monkeypatch
        monkeypatch.setenv("OPS_SRC_TOKEN", SRC_TOKEN)
        monkeypatch.setenv("OPS_TGT_TOKEN", TGT_TOKEN)
        monkeypatch.setenv("OPS_SRC_ADMIN", ADMIN_TOKENS["source"])
        monkeypatch.setenv("OPS_TGT_ADMIN", ADMIN_TOKENS["target"])
        self._apis: list[GraphApi] = []
        self.load(world())

    def load(self, fixture: dict[str, Any], **cfg: Any) -> Ops:
        self.emulator.reset(fixture)
        self.configure(**cfg)
        return self

    def configure(self, **cfg: Any) -> SyncConfig:
        self.cfg = make_config(self.emulator, f"sqlite:///{self.tmp_path}/state.db", **cfg)
        self.store = Store.for_url(self.cfg.state_url)
        return self.cfg

    def api(self, side: str, *, read_only: bool = False, admin: bool = True) -> GraphApi:
        """A Graph client of one side: the tests' administrator (every permission), or with
        ``admin=False`` the configuration's own connection (the product's token)."""
        conn = self.cfg.connection("emea" if side == "source" else "hq")
        if admin:
            env = "OPS_SRC_ADMIN" if side == "source" else "OPS_TGT_ADMIN"
            conn = conn.model_copy(update={"auth": AuthSettings(kind="static_token", token_env=env)})
        api = GraphApi(conn, read_only=read_only)
        self._apis.append(api)
        return api

    def sync(self, *, notify: Any = None, **opts: Any):
        src = self.api("source", read_only=True, admin=False)
        tgt = self.api("target", read_only=opts.get("dry_run", False), admin=False)
        return run_cycle(self.cfg, source_api=src, target_api=tgt, store=self.store,
                         options=CycleOptions(**opts), notify=notify)

    def target_users(self) -> list[dict[str, Any]]:
        return self.emulator.dump(TGT)["users"]

    def synced(self) -> dict[str, dict[str, Any]]:
        attr = self.cfg.settings.anchor_attribute
        return {u[attr].split("/")[1]: u for u in self.target_users() if u.get(attr)}

    def deleted_ids(self) -> set[str]:
        return {u["id"] for u in self.emulator.dump(TGT).get("deletedItems", [])}

    def close(self) -> None:
        for api in self._apis:
            api.close()
        self.store.close()


@pytest.fixture
def ops(emulator, tmp_path, monkeypatch):
    o = Ops(emulator, tmp_path, monkeypatch)
    yield o
    o.close()


# -- a local SMTP sink ----------------------------------------------------------------------------

