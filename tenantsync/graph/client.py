"""Credential and GraphServiceClient factory: one client per connection, one event loop per client.

Decisions (see docs/internals.md and docs/graph-sdk-notes.md#pointing-the-client-at-an-emulator):
- All credentials are the *async* azure-identity classes: the client lives on GraphApi's own event
  loop, and a sync credential would block that loop while it fetches a token.
- A static token (emulator, tests) goes through kiota's BaseBearerTokenAuthenticationProvider rather
  than AzureIdentityAuthenticationProvider, because the latter refuses plain http for any host but
  localhost (an emulator in docker-compose is ``http://graph-emulator:8080``, allowed with the
  connection's ``allow_http``).
- The URL is checked (https, or http to this machine) before the credential is built, so no
  credential is ever sent to a URL that is then refused.
- The token is only ever attached to the connection's own host (allowed_hosts), so a nextLink or
  redirect elsewhere never carries it.
- kiota's RetryHandler is switched off: GraphApi retries in one place (api/batch) where the
  retries are bounded, counted, honour Retry-After, feed the write-quota limiter, and never
  re-send a non-idempotent request the way the handler would (it retries POST too).
"""

from __future__ import annotations

import os
import time
from typing import Any
from urllib.parse import urlsplit

import httpx
from azure.core.credentials import AccessToken
from kiota_abstractions.authentication import (
    AccessTokenProvider,
    AllowedHostsValidator,
    AuthenticationProvider,
    BaseBearerTokenAuthenticationProvider,
)
from kiota_authentication_azure.azure_identity_authentication_provider import AzureIdentityAuthenticationProvider
from kiota_http.middleware.options import RetryHandlerOption
from msgraph.graph_request_adapter import GraphRequestAdapter
from msgraph.graph_request_adapter import options as MSGRAPH_DEFAULT_OPTIONS
from msgraph.graph_service_client import GraphServiceClient
from msgraph_core import GraphClientFactory

from tenantsync.errors import ConfigError, DryRunViolation
from tenantsync.graph.connection import GRAPH_SCOPES, AuthSettings, GraphConnection, graph_url_problem
from tenantsync.graph.core import is_read_action

DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=10.0)


class StaticTokenCredential:
    """An AsyncTokenCredential that always answers the same bearer token (emulator, tests)."""

    def __init__(self, token: str) -> None:
        self._token = token

    async def get_token(self, *scopes: str, claims: str | None = None,
                        tenant_id: str | None = None, enable_cae: bool = False,
                        **kwargs: Any) -> AccessToken:
        return AccessToken(self._token, int(time.time()) + 3600)

    async def close(self) -> None:
        return None

    async def __aenter__(self) -> StaticTokenCredential:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    def __repr__(self) -> str:                      # never show the token
        return "StaticTokenCredential(<redacted>)"


class _CredentialTokenProvider(AccessTokenProvider):
    """kiota AccessTokenProvider over an async credential, limited to the Graph host."""

    def __init__(self, credential: Any, host: str) -> None:
        self._credential = credential
        self._validator = AllowedHostsValidator([host])

    async def get_authorization_token(
            self, uri: str, additional_authentication_context: dict[str, Any] | None = None
    ) -> str:
        if not self._validator.is_url_host_valid(uri):
            return ""                                 # never send the token to another host
        token = await self._credential.get_token(*GRAPH_SCOPES)
        return str(token.token)

    def get_allowed_hosts_validator(self) -> AllowedHostsValidator:
        return self._validator


def _secret_from(auth: AuthSettings, env_field: str, where: str) -> str:
    """The secret a credential needs: the Prefect block's value, else the named env variable."""
    if auth.secret is not None and auth.secret.get_secret_value():
        return auth.secret.get_secret_value()
    name = getattr(auth, env_field)
    if not name:
        raise ConfigError("no secret given (set it, or name an environment variable)",
                          key=f"{where}.{env_field}")
    value = os.environ.get(name)
    if not value:
        # Name the variable, never a value.
        raise ConfigError(f"environment variable {name} is not set or empty",
                          key=f"{where}.{env_field}")
    return value


def build_credential(auth: AuthSettings, tenant_id: str | None = None, *,
                     where: str = "auth") -> Any:
    """An async azure-identity credential (or StaticTokenCredential) for ``auth``.

    ``where`` prefixes ConfigError keys, e.g. ``connections.emea.auth``.
    """
    # Imported here: azure.identity.aio is ~0.2 s and the static-token path never needs it.
    from azure.identity import aio as identity

    def need_tenant() -> str:
        if not tenant_id:
            raise ConfigError(f"auth kind {auth.kind!r} needs the connection's tenant_id",
                              key=f"{where}.kind")
        return tenant_id

    if auth.kind == "static_token":
        return StaticTokenCredential(_secret_from(auth, "token_env", where))
    if auth.kind == "client_secret":
        return identity.ClientSecretCredential(
            need_tenant(), auth.client_id or "", _secret_from(auth, "client_secret_env", where))
    if auth.kind == "certificate":
        password: str | None = None
        if auth.certificate_password_env or auth.secret is not None:
            password = _secret_from(auth, "certificate_password_env", where)
        path = auth.certificate_path or ""
        if not os.path.isfile(path):
            raise ConfigError(f"certificate file {path} does not exist",
                              key=f"{where}.certificate_path")
        try:
            return identity.CertificateCredential(need_tenant(), auth.client_id or "", path,
                                                  password=password)
        except (ValueError, TypeError) as exc:   # wrong password or format; says nothing secret
            raise ConfigError(f"certificate file {path} cannot be read ({type(exc).__name__})",
                              key=f"{where}.certificate_path") from None
    if auth.kind == "managed_identity":
        # client_id selects a user-assigned identity; without it the system-assigned one is used.
        return identity.ManagedIdentityCredential(client_id=auth.client_id)
    if auth.kind == "workload_identity":
        kwargs: dict[str, Any] = {}
        if auth.token_file:
            kwargs["token_file_path"] = auth.token_file
        try:
            return identity.WorkloadIdentityCredential(tenant_id=tenant_id,
                                                       client_id=auth.client_id, **kwargs)
        except ValueError as exc:   # missing AZURE_* settings: the message names them, no secrets
            raise ConfigError(str(exc), key=f"{where}.kind") from None
    raise ConfigError(f"unknown auth kind {auth.kind!r}", key=f"{where}.kind",
                      allowed="static_token, client_secret, certificate, managed_identity, "
                              "workload_identity")


class ReadOnlyTransport(httpx.AsyncBaseTransport):
    """Refuses any write at the HTTP boundary: the dry run's last line of defence.

    GraphApi checks earlier (with a clearer message); this also covers typed SDK calls. A $batch
    POST passes only if every item in it is a GET.
    """

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        method = request.method.upper()
        if method not in ("GET", "HEAD"):
            path = request.url.path
            allowed = is_read_action(method, path)
            if path.endswith("/$batch"):
                import json
                try:
                    items = json.loads(request.content or b"{}").get("requests", [])
                    allowed = all(str(i.get("method", "")).upper() == "GET" for i in items)
                except (ValueError, AttributeError):
                    allowed = False
            if not allowed:
                raise DryRunViolation(f"read-only Graph client refused {method} {path}")
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


def _check_url(connection: GraphConnection) -> None:
    """Refuse a graph_url before any credential is built or any request sent (connection.py)."""
    problem = graph_url_problem(connection)
    if problem:
        raise ConfigError(f"{connection.graph_url!r}: {problem}",
                          key=f"connections.{connection.name}.graph_url")


def _auth_provider(connection: GraphConnection, credential: Any) -> AuthenticationProvider:
    host = urlsplit(connection.base_url).hostname or ""
    if connection.auth.kind == "static_token":
        return BaseBearerTokenAuthenticationProvider(_CredentialTokenProvider(credential, host))
    return AzureIdentityAuthenticationProvider(credential, scopes=GRAPH_SCOPES,
                                               allowed_hosts=[host])


def build_client(connection: GraphConnection, *, credential: Any = None,
                 transport: httpx.AsyncBaseTransport | None = None,
                 timeout: httpx.Timeout = DEFAULT_TIMEOUT,
                 read_only: bool = False) -> GraphServiceClient:
    """A GraphServiceClient for ``connection`` with kiota's retry handler off.

    Build it on the event loop that will use it (GraphApi does): the httpx pool binds to the
    first loop that sends, and reusing it on another loop fails
    (docs/graph-sdk-notes.md#the-sdk-is-async-only).
    ``transport`` is for tests (httpx.MockTransport); the kiota middleware still wraps it.
    """
    _check_url(connection)
    if credential is None:
        credential = build_credential(connection.auth, connection.tenant_id,
                                      where=f"connections.{connection.name}.auth")
    options = dict(MSGRAPH_DEFAULT_OPTIONS)       # keeps the /me rewrite and telemetry header
    options[RetryHandlerOption.get_key()] = RetryHandlerOption(delay=0, max_retries=0,
                                                               should_retry=False)
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=32)
    if transport is None:
        transport = httpx.AsyncHTTPTransport(
            http2=connection.base_url.startswith("https://"), limits=limits)
    if read_only:
        transport = ReadOnlyTransport(transport)
    http = httpx.AsyncClient(timeout=timeout, transport=transport, limits=limits)
    http = GraphClientFactory.create_with_default_middleware(client=http, options=options)
    adapter = GraphRequestAdapter(_auth_provider(connection, credential), client=http)
    adapter.base_url = connection.base_url  # no trailing slash (docs/graph-sdk-notes.md#pointing-the-client-at-an-emulator)
    return GraphServiceClient(request_adapter=adapter)
