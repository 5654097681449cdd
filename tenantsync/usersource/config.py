"""The user-source configuration: Entra ID as the user source of an application directory.

Same YAML family as the sync configuration (docs/contracts.md): ``name``, ``source``, ``target``
(``{directory: <database URL>}`` only), ``mappings`` (onto the directory's user columns),
``settings`` and ``connections``. Errors name the file, the line, the key and what is allowed.

```yaml
name: emea-user-source
source: {connection: emea}
target: {directory: "sqlite:///data/state/directory.db"}
scope: {mode: all}                      # optional; every user and group is synced, always
settings:
  instance_name: Contoso EMEA           # name of the Entra ID instance (shown in the directory)
  interval_minutes: 60
  enabled: true                         # false: a run does nothing and says so
  auto_invite: true                     # one invitation e-mail per newly imported user
  invitation: {subject: "...", body: "..."}   # texts with ${variables}
  notification_email: identity-ops@contoso.com
  managed_apple_id: {scheme: upn, appleid_subdomain: true}   # none | email | upn
  custom_attributes:
    - {name: costCenter, source: department}
    - {name: badge, expression: 'Join("-", [department], [employeeId])'}
  ignore_missing: [jobTitle]            # left out of the "attributes not synced" notification
connections: {...}                      # as in the sync configuration
```

The sync state (delta links, cycles) lives in the directory database itself, next to the data
it describes, so a page of changes and the delta link that covers it commit together.
"""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..config import Mapping, _config_error, _validate, expression_message
from ..configchecks import check_connections, check_credentials, check_database_url
from ..errors import ConfigError, ExpressionError
from ..graph.connection import GraphConnection
from ..yamlfile import FILE_KEY, Loc, dotted, expand_connection_urls, expand_env_at, line_of, load_yaml

# Directory user columns: Graph property name -> column of directory_users. Each is mapped
# directly from the Graph property of the same name unless ``mappings`` says otherwise.
USER_COLUMNS: dict[str, str] = {
    "userPrincipalName": "user_principal_name",
    "mail": "mail",
    "displayName": "display_name",
    "givenName": "given_name",
    "surname": "surname",
    "jobTitle": "job_title",
    "department": "department",
    "employeeId": "employee_id",
    "mailNickname": "mail_nickname",
    "userType": "user_type",
    "accountEnabled": "account_enabled",
}
# Never reported as "not synced": the key, and values every user has by construction.
ALWAYS_PRESENT = frozenset({"userPrincipalName", "accountEnabled"})
# Variables every template knows, besides the custom attributes.
BUILTIN_VARIABLES: tuple[str, ...] = ("id", *USER_COLUMNS, "managedAppleId", "instanceName")

DEFAULT_SUBJECT = "You have been invited to ${instanceName}"
DEFAULT_BODY = ("Hello ${displayName},\n\n"
                "your account ${userPrincipalName} from ${instanceName} is ready.\n"
                "Sign in with your usual work account.\n")

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_VARIABLE = re.compile(r"\$\$|\$\{([^}]*)\}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ManagedAppleId(_Strict):
    """none | email (the user's mail) | upn (userPrincipalName); optional 'appleid.' subdomain."""

    scheme: Literal["none", "email", "upn"] = "none"
    appleid_subdomain: bool = False


class CustomAttribute(_Strict):
    """A value stored per user, usable as ``${name}``: from a Graph property, an expression or a
    constant (exactly one of source, expression, value)."""

    name: str
    source: str | None = None
    expression: str | None = None
    value: str | None = None
    default: str | None = None

    @field_validator("name")
    @classmethod
    def _identifier(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError(f"{v!r} is not a valid attribute name (letters, digits and _, "
                             "not starting with a digit)")
        if v in BUILTIN_VARIABLES:
            raise ValueError(f"{v!r} is a built-in variable; choose another name")
        return v

    @model_validator(mode="after")
    def _one_kind(self) -> CustomAttribute:
        given = [k for k in ("source", "expression", "value") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("a custom attribute needs exactly one of 'source', 'expression' or 'value'")
        return self

    def as_mapping(self) -> Mapping:
        if self.source is not None:
            return Mapping(target=self.name, type="direct", source=self.source, default=self.default)
        if self.expression is not None:
            return Mapping(target=self.name, type="expression", expression=self.expression,
                           default=self.default)
        return Mapping(target=self.name, type="constant", value=self.value)


class Invitation(_Strict):
    subject: str = DEFAULT_SUBJECT
    body: str = DEFAULT_BODY


class Settings(_Strict):
    instance_name: str = Field(min_length=1, max_length=256)
    interval_minutes: int = Field(60, ge=1, le=1440)
    enabled: bool = True
    auto_invite: bool = False
    invitation: Invitation = Field(default_factory=Invitation)
    notification_email: str | None = None
    managed_apple_id: ManagedAppleId = Field(default_factory=ManagedAppleId)
    custom_attributes: list[CustomAttribute] = Field(default_factory=list)
    ignore_missing: list[str] = Field(default_factory=list)
    graph_max_retries: int = Field(6, ge=0, le=10)

    @model_validator(mode="after")
    def _unique_names(self) -> Settings:
        seen: set[str] = set()
        for attr in self.custom_attributes:
            if attr.name in seen:
                raise ValueError(f"custom attribute {attr.name!r} is defined twice")
            seen.add(attr.name)
        return self


class Source(_Strict):
    connection: str


class Target(_Strict):
    directory: str = Field(min_length=1)


class Scope(_Strict):
    mode: Literal["all"] = "all"


class UserSourceConfig(_Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    source: Source
    target: Target
    scope: Scope = Field(default_factory=Scope)
    mappings: list[Mapping] = Field(default_factory=list)
    settings: Settings
    connections: dict[str, GraphConnection] = Field(default_factory=dict)
    # Where it was read from (for error messages); not a YAML key.
    file: str | None = Field(None, exclude=True)
    lines: dict[Any, int] = Field(default_factory=dict, exclude=True, repr=False)

    @model_validator(mode="before")
    @classmethod
    def _no_state(cls, data: Any) -> Any:
        if isinstance(data, dict) and "state" in data:
            raise ValueError("'state' is not used by a user source: its sync state lives in the "
                             "directory database (target.directory); remove the key")
        return data

    @property
    def directory_url(self) -> str:
        return self.target.directory

    @property
    def source_connection(self) -> GraphConnection:
        name = self.source.connection
        try:
            return self.connections[name]
        except KeyError:
            raise ConfigError(f"connection {name!r} is not defined in 'connections' "
                              f"(nor given as a Prefect block)", file=self.file,
                              line=line_of(self.lines, ("source", "connection")),
                              key="source.connection") from None

    @cached_property
    def user_mappings(self) -> tuple[Mapping, ...]:
        """Directory columns: a direct mapping from the same Graph property unless overridden."""
        own = {m.target: m for m in self.mappings}
        return tuple(own.get(attr, Mapping(target=attr, type="direct", source=attr))
                     for attr in USER_COLUMNS)

    @cached_property
    def custom_mappings(self) -> tuple[Mapping, ...]:
        return tuple(a.as_mapping() for a in self.settings.custom_attributes)

    @property
    def custom_names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.settings.custom_attributes)

    @property
    def variables(self) -> tuple[str, ...]:
        """Every ``${name}`` a template of this configuration may use."""
        return BUILTIN_VARIABLES + self.custom_names

    def where(self, loc: Loc) -> dict[str, Any]:
        """file/line/key keywords of a ConfigError about ``loc``."""
        return {"file": self.file, "line": line_of(self.lines, loc), "key": dotted(loc)}


def load_user_source_config(path: str | Path, *, connections: dict[str, GraphConnection] | None = None,
                            credentials: bool = False) -> UserSourceConfig:
    """Load and validate a user-source file; every problem is a ConfigError naming file, line and
    key. ``credentials``: also check the source connection's credential is there (config.py)."""
    file = str(path)
    data, lines = load_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError("the file must be a YAML mapping with keys name, source, target, settings, ...",
                          file=file, line=line_of(lines, ()) or 1, key=FILE_KEY)
    if "state" in data:
        raise ConfigError("'state' is not used by a user source: its sync state lives in the directory "
                          "database (target.directory); remove the key", file=file,
                          line=line_of(lines, ("state",)), key="state")
    data = _expand(data, file, lines)
    cfg = _validate(UserSourceConfig, data, file, lines, ())
    check_connections(cfg.connections, file, lines)
    check_database_url(cfg.target.directory, ("target", "directory"), file, lines)
    if credentials:
        check_credentials(cfg.connections, (cfg.source.connection,), file, lines)
    update: dict[str, Any] = {"file": file, "lines": lines}
    if connections:
        update["connections"] = {**cfg.connections, **connections}
    cfg = cfg.model_copy(update=update)
    check_config(cfg)
    return cfg


def parse_user_source_config(data: dict[str, Any], *, file: str | None = None) -> UserSourceConfig:
    """Validate an already-parsed configuration (a Prefect block, a test)."""
    from pydantic import ValidationError

    try:
        cfg = UserSourceConfig.model_validate(data)
    except ValidationError as exc:
        raise _config_error(exc, file or "", {}, (), data) from None
    if file:
        cfg = cfg.model_copy(update={"file": file})
    check_config(cfg)
    return cfg


def _expand(data: dict[str, Any], file: str, lines: dict[Loc, int]) -> dict[str, Any]:
    """${VAR:-default} of the environment in the directory URL and graph URLs only: other texts
    use ${name} for user variables."""
    if isinstance(data.get("target"), dict) and "directory" in data["target"]:
        data["target"]["directory"] = expand_env_at(data["target"]["directory"], ("target", "directory"), file, lines)
    expand_connection_urls(data, file, lines)
    return data


def check_config(cfg: UserSourceConfig) -> None:
    """What pydantic cannot see: mapping targets, expressions, template variables, the connection."""
    from ..expressions import compile_expression

    allowed = ", ".join(USER_COLUMNS)
    for i, m in enumerate(cfg.mappings):
        loc: Loc = ("mappings", i)
        if m.target not in USER_COLUMNS:
            raise ConfigError(f"{m.target!r} is not a directory user attribute (custom attributes go "
                              "under settings.custom_attributes)", value=m.target, allowed=allowed,
                              **cfg.where(loc + ("target",)))
        if m.type == "expression":
            _compile(compile_expression, m.expression or "", cfg, loc + ("expression",))
    for i, attr in enumerate(cfg.settings.custom_attributes):
        if attr.expression is not None:
            _compile(compile_expression, attr.expression, cfg,
                     ("settings", "custom_attributes", i, "expression"))
    names = cfg.variables
    for key in ("subject", "body"):
        text = getattr(cfg.settings.invitation, key)
        unknown = unknown_variables(text, names)
        if unknown:
            raise ConfigError(f"unknown variable ${{{unknown[0]}}} in the invitation {key}",
                              value=unknown[0], allowed=", ".join(names),
                              **cfg.where(("settings", "invitation", key)))
    tracked = set(USER_COLUMNS) | set(cfg.custom_names)
    for i, name in enumerate(cfg.settings.ignore_missing):
        if name not in tracked:
            raise ConfigError(f"{name!r} is neither a directory user attribute nor a custom attribute",
                              value=name, allowed=", ".join(sorted(tracked)),
                              **cfg.where(("settings", "ignore_missing", i)))
    if cfg.source.connection not in cfg.connections:
        raise ConfigError(f"connection {cfg.source.connection!r} is not defined in 'connections' "
                          "(nor given as a Prefect block)",
                          allowed=", ".join(cfg.connections) or None,
                          **cfg.where(("source", "connection")))


def _compile(compile_expression: Any, text: str, cfg: UserSourceConfig, loc: Loc) -> None:
    try:
        compile_expression(text)
    except (ExpressionError, RecursionError) as exc:
        raise ConfigError(expression_message(text, exc), value=text, **cfg.where(loc)) from None


def variables_in(text: str) -> list[str]:
    """The ``${name}`` variables of a text, in order (``$$`` is a literal dollar)."""
    return [m.group(1) for m in _VARIABLE.finditer(text) if m.group(1) is not None]


def unknown_variables(text: str, known: tuple[str, ...] | frozenset[str] | set[str]) -> list[str]:
    return [n for n in variables_in(text) if n not in known]


def substitute(text: str, values: dict[str, Any]) -> str:
    """Replace each ``${name}`` by its value (None -> empty); ``$$`` -> ``$``. Names must be known."""

    def repl(m: re.Match[str]) -> str:
        name = m.group(1)
        if name is None:
            return "$"
        value = values[name]
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    return _VARIABLE.sub(repl, text)
