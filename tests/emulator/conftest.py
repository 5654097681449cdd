"""One emulator per session (reset between tests), and msgraph-sdk clients pointed at it."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
import pytest
from azure.core.credentials import AccessToken

from tenantsync.emulator.server import EmulatorServer

from .emulator_world import CONTOSO_TOKEN, build_fixture

T = TypeVar("T")


class StaticTokenCredential:
    """azure.core TokenCredential that always answers the same token (docs/graph-sdk-notes.md#pointing-the-client-at-an-emulator)."""

    def __init__(self, token: str) -> None:
        self._token = token

    def get_token(self, *scopes: str, claims: str | None = None, tenant_id: str | None = None,
                  enable_cae: bool = False, **kwargs: Any) -> AccessToken:
        return AccessToken(self._token, int(time.time()) + 3600)


def graph_client(url: str, token: str, *, retries: bool = False):
    """A GraphServiceClient on the emulator; kiota's retry handler off unless asked for."""
    from kiota_authentication_azure.azure_identity_authentication_provider import AzureIdentityAuthenticationProvider
    from kiota_http.middleware.options import RetryHandlerOption
    from msgraph import GraphRequestAdapter, GraphServiceClient
    from msgraph.graph_request_adapter import options as default_options
    from msgraph_core import GraphClientFactory

    if retries:
        client = GraphServiceClient(credentials=StaticTokenCredential(token),
                                    scopes=["https://graph.microsoft.com/.default"])
        client.request_adapter.base_url = url
        return client
    options = dict(default_options)
    options[RetryHandlerOption.get_key()] = RetryHandlerOption(delay=0, max_retries=0,
                                                               should_retry=False)
    http = GraphClientFactory.create_with_default_middleware(
        client=httpx.AsyncClient(timeout=30, http2=False), options=options)
    auth = AzureIdentityAuthenticationProvider(StaticTokenCredential(token),
                                               scopes=["https://graph.microsoft.com/.default"])
    adapter = GraphRequestAdapter(auth, client=http)
    adapter.base_url = url
    return GraphServiceClient(request_adapter=adapter)


def run(fn: Callable[[], Awaitable[T]]) -> T:
    """Run an async test body (each body builds its own client: one client per event loop)."""
    return asyncio.run(fn())


async def get_raw(client, builder, config=None) -> dict:
    """GET through the SDK's request builder, parsed as plain JSON (the bulk-read path)."""
    info = builder.to_get_request_information(config)
    raw = await client.request_adapter.send_primitive_async(info, "bytes", {})
    return json.loads(raw)


@pytest.fixture(scope="session")
def server() -> EmulatorServer:
    srv = EmulatorServer(build_fixture())
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def sdk_warm(server: EmulatorServer) -> None:
    """Pay msgraph-sdk's first typed parse (~2 s of lazy imports) once per session."""
    async def warm():
        client = graph_client(server.url, CONTOSO_TOKEN)
        await client.users.get()
    run(warm)


@pytest.fixture
def emu(server: EmulatorServer) -> EmulatorServer:
    """The session server, back to the pristine fixture, faults off, counters zero."""
    server.reset()
    server.set_faults(None)
    server.reset_stats()
    return server


@pytest.fixture
def http(emu: EmulatorServer):
    """httpx clients per token: http(token).get('/users')."""
    clients: list[httpx.Client] = []

    def make(token: str | None = CONTOSO_TOKEN) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        client = httpx.Client(base_url=emu.url, headers=headers, timeout=30)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()
