"""A tenant connection kept in Prefect: where Graph is, and the credential's secret.

A configuration names its connections (``source: {connection: emea}``); a name missing from the
file's ``connections:`` section is looked up as a GraphConnectionBlock of that name.
"""

from __future__ import annotations

from typing import Literal

from prefect.blocks.core import Block
from pydantic import Field, SecretStr, field_validator

from tenantsync.graph.connection import DEFAULT_GRAPH_URL, AuthSettings, GraphConnection


class GraphConnectionBlock(Block):
    """One Microsoft Entra tenant as seen through Microsoft Graph (or the tenantsync emulator)."""

    _block_type_name = "tenantsync Graph connection"
    _block_type_slug = "tenantsync-graph-connection"
    _description = ("A Microsoft Entra tenant for tenantsync: tenant id, Graph URL and credential. "
                    "Save it under the connection name a configuration uses (e.g. 'emea').")

    tenant_id: str = Field(..., description="Directory (tenant) id of the tenant.")
    graph_url: str = Field(DEFAULT_GRAPH_URL, description="Graph v1.0 root; the emulator's is "
                                                          "http://127.0.0.1:8765/v1.0")
    auth_kind: Literal["static_token", "client_secret", "certificate", "managed_identity",
                       "workload_identity"] = Field("client_secret", description="How to authenticate.")
    client_id: str | None = Field(None, description="Application (client) id of the app registration "
                                                   "(on a target: the application that holds the anchor "
                                                   "extension registered by tenantsync setup).")
    # SecretStr, not Optional: the schema is then one string of format "password" (writeOnly), which
    # the Prefect UI shows as a masked input; an Optional one is a choice of types to make first.
    secret: SecretStr = Field(default_factory=lambda: SecretStr(""),
                              description="Client secret, bearer token (static_token) or certificate password.")
    certificate_path: str | None = Field(None, description="PEM or PKCS12 file (auth kind certificate).")

    @field_validator("secret", mode="before")
    @classmethod
    def _none_is_empty(cls, value: object) -> object:
        return "" if value is None else value          # a block saved when the field was Optional

    @classmethod
    def from_connection(cls, conn: GraphConnection, secret: str | None) -> GraphConnectionBlock:
        """The block of a configuration file's connection, ``secret`` being the value of its
        ``*_env`` variable (the file names the variable, the block holds the value)."""
        auth = conn.auth
        return cls(tenant_id=conn.tenant_id, graph_url=conn.graph_url, auth_kind=auth.kind,
                   client_id=auth.client_id, secret=SecretStr(secret or ""),
                   certificate_path=auth.certificate_path)

    def to_connection(self, name: str) -> GraphConnection:
        """The engine's connection model; the secret travels as a SecretStr in ``auth.secret``."""
        auth = AuthSettings(kind=self.auth_kind, client_id=self.client_id,
                            secret=self.secret if self.secret.get_secret_value() else None,
                            certificate_path=self.certificate_path)
        return GraphConnection(name=name, tenant_id=self.tenant_id, graph_url=self.graph_url, auth=auth)
