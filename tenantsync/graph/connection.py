"""How to reach one tenant's Graph: where, and with which credential.

The config module reuses these models for its ``connections:`` section and the Prefect layer fills
``AuthSettings.secret`` from a block, so the field names are a contract: add, never rename.
Secrets are never stored here except in ``secret`` (a SecretStr, masked in repr and dumps); the
usual place is an environment variable *named* by ``token_env`` / ``client_secret_env`` /
``certificate_password_env``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, SecretStr, model_validator

AuthKind = Literal["static_token", "client_secret", "certificate", "managed_identity",
                   "workload_identity"]

GRAPH_SCOPES = ["https://graph.microsoft.com/.default"]
DEFAULT_GRAPH_URL = "https://graph.microsoft.com/v1.0"


class AuthSettings(BaseModel):
    """The credential of one connection; which fields are needed depends on ``kind``."""

    model_config = ConfigDict(extra="forbid")

    kind: AuthKind
    token_env: str | None = None                 # static_token: env var holding the bearer token
    client_id: str | None = None                 # client_secret, certificate, workload identity,
                                                 # user-assigned managed identity; any kind (even
                                                 # static_token): the appId whose application
                                                 # holds the anchor extension (tenantsync setup)
    client_secret_env: str | None = None         # client_secret: env var holding the secret
    certificate_path: str | None = None          # certificate: PEM or PKCS12 file
    certificate_password_env: str | None = None  # certificate: env var holding its password
    token_file: str | None = None                # workload_identity: federated token file
                                                 # (default: $AZURE_FEDERATED_TOKEN_FILE)
    # Filled from a Prefect block by the Prefect layer; wins over the *_env variable.
    secret: SecretStr | None = None

    @model_validator(mode="after")
    def _needs_what_kind_needs(self) -> AuthSettings:
        # Refuse an incomplete credential at load time, not at the first request.
        missing: list[str] = []
        if self.kind == "static_token" and not (self.token_env or self.secret):
            missing.append("token_env")
        if self.kind in ("client_secret", "certificate") and not self.client_id:
            missing.append("client_id")
        if self.kind == "client_secret" and not (self.client_secret_env or self.secret):
            missing.append("client_secret_env")
        if self.kind == "certificate" and not self.certificate_path:
            missing.append("certificate_path")
        if missing:
            raise ValueError(f"auth kind {self.kind!r} needs {', '.join(missing)}")
        return self


class GraphConnection(BaseModel):
    """One tenant as seen through Microsoft Graph (or the emulator)."""

    model_config = ConfigDict(extra="forbid")

    name: str
    tenant_id: str
    graph_url: str = DEFAULT_GRAPH_URL
    auth: AuthSettings

    @property
    def base_url(self) -> str:
        # kiota joins base_url and paths itself; a trailing slash gives ".../v1.0//users".
        return self.graph_url.rstrip("/")
