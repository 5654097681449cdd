"""Connections and credentials: the right azure-identity class, secrets from env or block,
clear ConfigErrors that name the variable and never the value."""

from __future__ import annotations

import asyncio

import pytest
from azure.identity import aio as identity
from pydantic import SecretStr, ValidationError

from tenantsync.errors import ConfigError
from tenantsync.graph.client import StaticTokenCredential, build_client, build_credential
from tenantsync.graph.connection import AuthSettings, GraphConnection

TENANT = "11111111-1111-4111-8111-111111111111"
CLIENT = "22222222-2222-4222-8222-222222222222"


def conn(url: str = "https://graph.microsoft.com/v1.0/", **auth) -> GraphConnection:
    return GraphConnection(name="hq", tenant_id=TENANT, graph_url=url, auth=AuthSettings(**auth))


def test_static_token_is_read_from_the_named_env_var(monkeypatch):
    monkeypatch.setenv("HQ_TOKEN", "tok-1")
    cred = build_credential(AuthSettings(kind="static_token", token_env="HQ_TOKEN"))
    assert isinstance(cred, StaticTokenCredential)
    assert asyncio.run(cred.get_token("https://graph.microsoft.com/.default")).token == "tok-1"
    assert "tok-1" not in repr(cred)


def test_missing_env_var_names_the_variable_not_a_value(monkeypatch):
    monkeypatch.delenv("HQ_SECRET", raising=False)
    with pytest.raises(ConfigError) as caught:
        build_credential(AuthSettings(kind="client_secret", client_id=CLIENT,
                                      client_secret_env="HQ_SECRET"), TENANT,
                         where="connections.hq.auth")
    assert "HQ_SECRET" in str(caught.value)
    assert "connections.hq.auth.client_secret_env" in str(caught.value)


def test_block_secret_wins_over_the_env_var(monkeypatch):
    monkeypatch.setenv("HQ_SECRET", "from-env")
    auth = AuthSettings(kind="client_secret", client_id=CLIENT, client_secret_env="HQ_SECRET",
                        secret=SecretStr("from-block"))
    cred = build_credential(auth, TENANT)
    assert isinstance(cred, identity.ClientSecretCredential)
    assert "from-block" not in repr(auth) and "from-block" not in auth.model_dump_json()
    static = build_credential(AuthSettings(kind="static_token", token_env="NOPE",
                                           secret=SecretStr("blk")))
    assert asyncio.run(static.get_token()).token == "blk"


def test_each_kind_builds_its_azure_identity_class(tmp_path, monkeypatch):
    assert isinstance(build_credential(AuthSettings(kind="managed_identity")),
                      identity.ManagedIdentityCredential)
    assert isinstance(build_credential(AuthSettings(kind="managed_identity", client_id=CLIENT)),
                      identity.ManagedIdentityCredential)
    token_file = tmp_path / "federated-token"
    token_file.write_text("assertion")
    assert isinstance(build_credential(AuthSettings(kind="workload_identity", client_id=CLIENT,
                                                    token_file=str(token_file)), TENANT),
                      identity.WorkloadIdentityCredential)
    monkeypatch.delenv("AZURE_FEDERATED_TOKEN_FILE", raising=False)
    with pytest.raises(ConfigError):
        build_credential(AuthSettings(kind="workload_identity", client_id=CLIENT), TENANT)


def test_certificate_needs_a_readable_file(tmp_path):
    auth = AuthSettings(kind="certificate", client_id=CLIENT,
                        certificate_path=str(tmp_path / "missing.pem"))
    with pytest.raises(ConfigError, match="does not exist"):
        build_credential(auth, TENANT)
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate")
    with pytest.raises(ConfigError, match="cannot be read"):
        build_credential(AuthSettings(kind="certificate", client_id=CLIENT,
                                      certificate_path=str(bad)), TENANT)


def test_incomplete_auth_is_refused_when_the_config_loads():
    with pytest.raises(ValidationError, match="client_id"):
        AuthSettings(kind="client_secret", client_secret_env="X")
    with pytest.raises(ValidationError, match="token_env"):
        AuthSettings(kind="static_token")
    with pytest.raises(ValidationError):
        AuthSettings(kind="password", token_env="X")


def test_client_base_url_has_no_trailing_slash(monkeypatch):
    monkeypatch.setenv("HQ_SECRET", "s")

    async def make():
        return build_client(conn(kind="client_secret", client_id=CLIENT,
                                 client_secret_env="HQ_SECRET"))
    client = asyncio.run(make())
    assert client.request_adapter.base_url == "https://graph.microsoft.com/v1.0"


def test_plain_http_to_a_remote_host_is_refused_before_any_credential(monkeypatch):
    # The token would cross the network readable: refused even for a static token, and before
    # the credential is built (an unset variable is not even looked at).
    with pytest.raises(ConfigError, match="plain http"):
        build_client(conn("http://graph-emulator:8080/v1.0", kind="static_token", token_env="UNSET_TOKEN"))
    monkeypatch.setenv("HQ_SECRET", "s")
    remote = conn("http://graph-emulator:8080/v1.0", kind="client_secret", client_id=CLIENT,
                  client_secret_env="HQ_SECRET").model_copy(update={"allow_http": True})
    with pytest.raises(ConfigError, match="static_token"):
        build_client(remote)
    # a docker-compose emulator: allow_http with the emulator's static token
    monkeypatch.setenv("HQ_TOKEN", "t")
    build_client(conn("http://graph-emulator:8080/v1.0", kind="static_token",
                      token_env="HQ_TOKEN").model_copy(update={"allow_http": True}))
