"""Shared fixtures of the Graph connector tests: a fake Graph and GraphApi clients against it."""

from __future__ import annotations

import pytest

from tenantsync.graph import GraphApi

from .graph_fake import FAST, TOKEN, FakeGraph


@pytest.fixture
def fake() -> FakeGraph:
    return FakeGraph(users=50)


@pytest.fixture
def make_api(fake, monkeypatch):
    monkeypatch.setenv("FAKE_TOKEN", TOKEN)
    apis: list[GraphApi] = []

    def make(**kw) -> GraphApi:
        kw.setdefault("retry_policy", FAST)
        api = GraphApi({"name": "fake", "tenant_id": "t1", "graph_url": fake.base,
                        "auth": {"kind": "static_token", "token_env": "FAKE_TOKEN"}},
                       transport=kw.pop("transport", None) or fake.transport(), **kw)
        apis.append(api)
        return api

    yield make
    for api in apis:
        api.close()
