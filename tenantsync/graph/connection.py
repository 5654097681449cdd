"""How to reach one tenant's Graph: where, and with which credential.

The config module reuses these models for its ``connections:`` section and the Prefect layer fills
``AuthSettings.secret`` from a block, so the field names are a contract: add, never rename.
Secrets are never stored here except in ``secret`` (a SecretStr, masked in repr and dumps); the
usual place is an environment variable *named* by ``token_env`` / ``client_secret_env`` /
``certificate_password_env``.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, SecretStr, model_validator

AuthKind = Literal["static_token", "client_secret", "certificate", "managed_identity",
                   "workload_identity"]

GRAPH_SCOPES = ["https://graph.microsoft.com/.default"]
DEFAULT_GRAPH_URL = "https://graph.microsoft.com/v1.0"
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
GUID_PATTERN = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"


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
    # Plain http to a host other than this machine (a docker-compose emulator such as
    # http://graph-emulator:8080/v1.0); only with a static_token, whose token is the emulator's.
    allow_http: bool = False

    @property
    def base_url(self) -> str:
        # kiota joins base_url and paths itself; a trailing slash gives ".../v1.0//users".
        return self.graph_url.rstrip("/")


def graph_url_problem(connection: GraphConnection) -> str | None:
    """Why ``graph_url`` cannot be used, or None. Checked before any credential is built or sent:
    a bearer token travels in the Authorization header, readable by anyone on the path of a plain
    http connection, so http is for this machine's emulator only (or ``allow_http``)."""
    url = connection.graph_url
    if any(not c.isprintable() or c.isspace() for c in url):
        return "a URL contains no spaces or control characters"
    try:
        parts = urlsplit(url)
        _ = parts.port                              # raises ValueError on a bad port
    except ValueError as exc:
        return f"not a URL ({exc})"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "not an http(s) URL (e.g. https://graph.microsoft.com/v1.0)"
    if parts.username is not None or parts.password is not None:
        return "a Graph URL carries no user name or password (credentials go in auth)"
    if parts.query or parts.fragment:
        return "a Graph URL has no ?query or #fragment"
    if parts.scheme == "http" and parts.hostname not in LOCAL_HOSTS:
        if not connection.allow_http:
            return ("plain http is only allowed to this machine (localhost, 127.0.0.1, ::1): the "
                    "credential would cross the network readable; use https (or allow_http: true for "
                    "an emulator in a container)")
        if connection.auth.kind != "static_token":
            return "allow_http is only for an emulator's static_token, never a real credential"
    return None
