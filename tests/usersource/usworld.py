"""A small Entra tenant on the emulator, a directory database (SQLite, or PostgreSQL in a schema
of its own dropped at the end), user-source configurations over them, and e-mail recorders."""

from __future__ import annotations

import copy
import socket
import uuid
from typing import Any

import pytest

from tenantsync.connectors.directory_target import DirectoryTarget
from tenantsync.errors import ErrorKind, GraphError
from tenantsync.graph.api import GraphApi
from tenantsync.usersource.config import UserSourceConfig, parse_user_source_config
from tests.smtp_sink import Sink, free_port, smtp_sink  # noqa: F401  (fixture re-exported)

TENANT = "5e5e5e5e-0000-4000-8000-000000000001"
OTHER_TENANT = "5e5e5e5e-0000-4000-8000-000000000002"
TOKEN, OTHER_TOKEN = "us-src-token", "us-other-token"
DOMAIN = "corp.example"
INITIAL = "corpexample.onmicrosoft.com"
STAFF = "6e000000-0000-4000-8000-000000000001"
MANAGERS = "6e000000-0000-4000-8000-000000000002"
EMPTY = "6e000000-0000-4000-8000-000000000003"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def uid(n: int) -> str:
    return f"0e000000-0000-4000-8000-{n:012d}"


def user(n: int, **extra: Any) -> dict[str, Any]:
    first = ["Jane", "Zoë", "José", "Åsa", "Bjørn", "Ken", "Lea", "Max"][n % 8]
    base = {"id": uid(n), "userPrincipalName": f"user{n}@{DOMAIN}", "mail": f"user{n}.mail@{DOMAIN}",
            "mailNickname": f"user{n}", "displayName": f"{first} Test{n}", "givenName": first,
            "surname": f"Test{n}", "userType": "Member", "accountEnabled": True, "jobTitle": "Engineer",
            "department": f"Dept{n % 2}", "employeeId": f"E{n:04d}", "externalUserState": None}
    base.update(extra)
    return base


def world(n_users: int = 5, *, users: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    people = users if users is not None else [user(i) for i in range(1, n_users + 1)]
    ids = [u["id"] for u in people]
    return {"tenants": [
        {"id": TENANT, "displayName": "Corp Example", "defaultDomain": INITIAL,
         "domains": [{"id": DOMAIN, "isVerified": True}], "tokens": [TOKEN], "premium": True,
         "users": people,
         "groups": [{"id": STAFF, "displayName": "Staff", "description": "Everyone",
                     "members": ids[:4] + [MANAGERS]},
                    {"id": MANAGERS, "displayName": "Managers", "members": ids[:1]},
                    {"id": EMPTY, "displayName": "Empty", "members": []}]},
        {"id": OTHER_TENANT, "displayName": "Other Example", "defaultDomain": "otherexample.onmicrosoft.com",
         "domains": [{"id": "other.example", "isVerified": True}], "tokens": [OTHER_TOKEN], "premium": True,
         "users": [user(50, userPrincipalName="someone@other.example", id="0f000000-0000-4000-8000-000000000050")],
         "groups": []},
    ]}


@pytest.fixture(scope="session")
def emulator():
    from tenantsync.emulator.server import EmulatorServer

    with EmulatorServer(world()) as server:
        yield server


@pytest.fixture
def tenant(emulator, monkeypatch):
    """The emulator reset to the small world, with the tokens in the environment."""
    monkeypatch.setenv("US_SRC_TOKEN", TOKEN)
    monkeypatch.setenv("US_OTHER_TOKEN", OTHER_TOKEN)
    emulator.reset(world())
    return emulator


def _pg_available() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def directory_url(request, tmp_path):
    """A fresh directory database URL: a SQLite file, or a PostgreSQL schema of its own."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/directory.db"
        yield url
        _close(url)
        return
    if not _pg_available():
        pytest.skip("PostgreSQL is not running on 127.0.0.1:5432")
    import sqlalchemy as sa

    schema = f"us_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_URL)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    try:
        yield url
    finally:
        _close(url)
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


def _close(url: str) -> None:
    from sqlalchemy.engine import make_url

    key = make_url(url).render_as_string(hide_password=False)
    found = DirectoryTarget._cache.get(key)
    if found is not None:
        found.close()


def make_config(emulator: Any, directory_url: str, **settings: Any) -> UserSourceConfig:
    tenant_id = settings.pop("tenant_id", TENANT)
    token_env = settings.pop("token_env", "US_SRC_TOKEN")
    name = settings.pop("name", "corp-user-source")
    graph_url = settings.pop("graph_url", emulator.url)
    mappings = settings.pop("mappings", [])
    data = {
        "name": name,
        "source": {"connection": "corp"},
        "target": {"directory": directory_url},
        "mappings": mappings,
        "settings": {"instance_name": "Corp Example", "interval_minutes": 30, "enabled": True,
                     "auto_invite": True, "notification_email": "ops@corp.example",
                     "managed_apple_id": {"scheme": "upn", "appleid_subdomain": True},
                     "custom_attributes": [{"name": "costCenter", "source": "department"},
                                           {"name": "badge",
                                            "expression": 'Join("-", [employeeId], [surname])'}],
                     **settings},
        "connections": {"corp": {"name": "corp", "tenant_id": tenant_id, "graph_url": graph_url,
                                 "auth": {"kind": "static_token", "token_env": token_env}}},
    }
    return parse_user_source_config(copy.deepcopy(data))


class Outbox:
    """``send(to, subject, body)`` that records what it was given."""

    def __init__(self, fail: bool = False) -> None:
        self.sent: list[tuple[str, str, str]] = []
        self.fail = fail

    def __call__(self, to: str, subject: str, body: str) -> None:
        if self.fail:
            raise ConnectionRefusedError("SMTP server down")
        self.sent.append((to, subject, body))

    def to(self, address: str) -> list[tuple[str, str, str]]:
        return [m for m in self.sent if m[0] == address]


@pytest.fixture
def outbox():
    return Outbox()


@pytest.fixture
def admin(tenant):
    """A read-write Graph client of the tenant, to change it as an administrator would."""
    api = GraphApi({"name": "admin", "tenant_id": TENANT, "graph_url": tenant.url,
                    "auth": {"kind": "static_token", "token_env": "US_SRC_TOKEN"}})
    yield api
    api.close()


# -- a Graph client whose delta rounds come in small pages, and can fail -------------------------------

class ChoppedApi:
    """A GraphApi whose delta rounds come in pages of ``size`` objects and that can fail after
    ``fail_after`` pages of ``fail_on`` (a dropped connection)."""

    def __init__(self, api, *, size=2, fail_on=None, fail_after=0):
        self.api, self.size, self.fail_on, self.fail_after = api, size, fail_on, fail_after

    def delta(self, resource, **kw):
        return _Round(self.api.delta(resource, **kw), self.size,
                      self.fail_after if resource == self.fail_on else None)

    def close(self):
        self.api.close()


class _Round:
    def __init__(self, inner, size, fail_after):
        self.inner, self.size, self.fail_after, self.delta_link = inner, size, fail_after, None

    def pages(self):
        chunks = [page[i:i + self.size] or [] for page in self.inner.pages()
                  for i in range(0, max(len(page), 1), self.size)]
        for n, chunk in enumerate(chunks):
            if self.fail_after is not None and n == self.fail_after:
                raise GraphError(0, "connectFailed", "connection dropped", kind=ErrorKind.TRANSIENT)
            if n == len(chunks) - 1:
                self.delta_link = self.inner.delta_link
            yield chunk


def source_api(cfg: UserSourceConfig) -> GraphApi:
    return GraphApi(cfg.source_connection, read_only=True)


# -- a local SMTP sink (aiosmtpd) and a small stdlib sender ------------------------------------------



def smtp_sender(host: str, port: int, sender: str = "tenantsync@corp.example"):
    """``send(to, subject, body)`` over plain SMTP with the stdlib."""
    import smtplib
    from email.message import EmailMessage

    def send(to: str, subject: str, body: str) -> None:
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = sender, to, subject
        msg.set_content(body)
        with smtplib.SMTP(host, port, timeout=10) as smtp:
            smtp.send_message(msg)

    return send
