"""The sync configuration file (docs/contracts.md#sync-configuration-file), validated before anything
is read or written."""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from . import remedies
from .configchecks import check_connections, check_credentials, check_database_url, check_guid, check_guids
from .errors import ConfigError, ExpressionError
from .expressions.dotnet_regex import compile_pattern
from .graph.connection import GraphConnection
from .yamlfile import FILE_KEY, Loc, dotted, expand_connection_urls, expand_env_at, line_of, load_yaml, one_line, short

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
DEFAULT_MAPPINGS_FILE = DATA_DIR / "default_mappings.yaml"

# Entra's scoping-filter operators, written as the portal writes them
# (define-conditional-rules-for-provisioning-user-accounts; docs/entra-behaviour.md#scoping-filter-operators).
OPERATORS = ("&", "!&", "ENDS_WITH", "EQUALS", "Greater_Than", "Greater_Than_OR_EQUALS", "Includes",
             "IS FALSE", "IS NOT NULL", "IS NULL", "IS TRUE", "NOT EQUALS", "NOT REGEX MATCH",
             "REGEX MATCH")
UNARY_OPERATORS = ("IS FALSE", "IS NOT NULL", "IS NULL", "IS TRUE")
ANCHOR_EXTENSION = "tenantsyncSourceAnchor"
OLD_ANCHOR_DEFAULT = "extension_tenantsync_sourceAnchor"      # never registrable; refused with the fix
EXTENSION_NAME = re.compile(r"extension_[0-9a-fA-F]{32}_[A-Za-z0-9]+")
MATCHING_TARGET = "alternativeSecurityIds"
MATCHING_EXPRESSION = "AltSecIdFromNetId([netId])"

Operator = Literal["&", "!&", "ENDS_WITH", "EQUALS", "Greater_Than", "Greater_Than_OR_EQUALS",
                   "Includes", "IS FALSE", "IS NOT NULL", "IS NULL", "IS TRUE", "NOT EQUALS",
                   "NOT REGEX MATCH", "REGEX MATCH"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FilterClause(_Strict):
    attribute: str
    operator: Operator
    value: str | int | None = None

    @model_validator(mode="after")
    def _value_matches_arity(self) -> FilterClause:
        if self.operator in UNARY_OPERATORS:
            if self.value is not None:
                raise ValueError(f"operator {self.operator} takes no value")
        elif self.value is None:
            raise ValueError(f"operator {self.operator} needs a value")
        if self.operator in ("Greater_Than", "Greater_Than_OR_EQUALS"):
            try:
                int(str(self.value))
            except ValueError:
                raise ValueError(f"operator {self.operator} compares integers; "
                                 f"{self.value!r} is not an integer") from None
        if self.operator in ("REGEX MATCH", "NOT REGEX MATCH"):
            # The same .NET-syntax compiler scoping runs, so the file accepts what a cycle runs.
            compile_pattern(str(self.value))         # RegexError (a ValueError) names the pattern
        return self


class Assignments(_Strict):
    users: list[str] = Field(default_factory=list)
    groups: list[str] = Field(default_factory=list)


class Scope(_Strict):
    mode: Literal["assigned", "all"] = "assigned"
    assignments: Assignments = Field(default_factory=Assignments)
    filters: list[list[FilterClause]] = Field(default_factory=list)

    @property
    def filter_attributes(self) -> tuple[str, ...]:
        """Source attributes the scoping filters read: selected from the source even when no
        mapping uses them, or a filter would see null (false) for every user."""
        return tuple(dict.fromkeys(c.attribute for group in self.filters for c in group))

    @model_validator(mode="after")
    def _assigned_needs_assignment(self) -> Scope:
        if self.mode == "assigned" and not (self.assignments.users or self.assignments.groups):
            raise ValueError("scope mode 'assigned' needs at least one assigned user or group")
        return self


class Mapping(_Strict):
    target: str
    type: Literal["direct", "constant", "expression", "none"]
    source: str | None = None
    value: str | None = None
    expression: str | None = None
    apply: Literal["always", "on_create"] = "always"
    default: str | None = None
    matching: bool = False
    precedence: int | None = None
    note: str | None = None          # free text kept from data/default_mappings.yaml

    @model_validator(mode="after")
    def _fields_for_type(self) -> Mapping:
        need = {"direct": "source", "constant": "value", "expression": "expression"}.get(self.type)
        if need and getattr(self, need) is None:
            raise ValueError(f"a {self.type} mapping needs '{need}'")
        return self


class Source(_Strict):
    connection: str


class Target(_Strict):
    connection: str | None = None
    directory: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Target:
        if (self.connection is None) == (self.directory is None):
            raise ValueError("target needs exactly one of 'connection' or 'directory'")
        return self


class Settings(_Strict):
    interval_minutes: int = Field(default=40, ge=1, le=1440)
    deletion_threshold: int = Field(default=500, ge=0)
    notification_email: str | None = None
    on_leave_scope: Literal["delete", "disable"] = "delete"
    # The durable anchor left on each target user: a directory extension holding
    # "<source tenant id>/<source object id>", so a lost state store never causes a duplicate.
    # Directory extensions are registered on an application and named
    # extension_<appId without dashes>_<name> (application-post-extensionproperty): tenantsync setup
    # (or the first cycle) registers `anchor_extension` on the target connection's own application
    # and keeps the full name in the state store. `anchor_attribute` names an extension that is
    # already registered instead (e.g. one shared with another tool).
    anchor_extension: str = Field(default=ANCHOR_EXTENSION, max_length=100)
    anchor_attribute: str | None = None
    batch_size: int = Field(default=200, ge=1, le=5000)

    @field_validator("anchor_extension")
    @classmethod
    def _short_name(cls, v: str) -> str:
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", v):
            raise ValueError("must be letters and digits, starting with a letter (the short name of "
                             "the directory extension, e.g. tenantsyncSourceAnchor)")
        return v

    @field_validator("anchor_attribute")
    @classmethod
    def _extension_name(cls, v: str | None) -> str | None:
        if v is None:
            return v
        if v == OLD_ANCHOR_DEFAULT:
            raise ValueError(
                f"{OLD_ANCHOR_DEFAULT} is not a directory extension (it was an invented default; real "
                "names are extension_<appId without dashes>_<name>): remove settings.anchor_attribute "
                f"and run {remedies.setup()}, which registers settings.anchor_extension "
                f"(default {ANCHOR_EXTENSION}) on the target's application")
        if not EXTENSION_NAME.fullmatch(v):
            raise ValueError("must be a registered directory extension name, "
                             "extension_<appId without dashes: 32 hex digits>_<name>")
        return v

    @model_validator(mode="after")
    def _one_anchor_name(self) -> Settings:
        if (self.anchor_attribute and "anchor_extension" in self.model_fields_set
                and not self.anchor_attribute.endswith("_" + self.anchor_extension)):
            raise ValueError(f"anchor_attribute {self.anchor_attribute} does not end in "
                             f"_{self.anchor_extension} (anchor_extension): give one of the two")
        return self


class SyncConfig(_Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    # engine: tenantsync's own cycles (invitations); entra: Microsoft's provisioning service, driven
    # through Graph's synchronization API (the source tenant's cross-tenant sync application, found
    # by the display name `name` unless service_principal_id is given; docs/contracts.md).
    provisioner: Literal["engine", "entra"] = "engine"
    service_principal_id: str | None = None
    job_id: str | None = Field(default=None, min_length=1, max_length=200)
    source: Source
    target: Target
    scope: Scope = Field(default_factory=Scope)
    mappings: list[Mapping] = Field(default_factory=list)
    default_mappings: bool = True
    state: str | None = None
    settings: Settings = Field(default_factory=Settings)
    connections: dict[str, GraphConnection] = Field(default_factory=dict)

    @property
    def state_url(self) -> str:
        return self.state or f"sqlite:///data/state/{self.name}.db"

    @cached_property
    def effective_mappings(self) -> tuple[Mapping, ...]:
        """The configured mappings laid over the documented defaults, one target attribute at a time."""
        base = load_default_mappings() if self.default_mappings else []
        own = {m.target: m for m in self.mappings}
        merged = [own.pop(m.target, m) for m in base]
        return tuple(merged + list(own.values()))

    def connection(self, name: str) -> GraphConnection:
        try:
            return self.connections[name]
        except KeyError:
            raise ConfigError(f"connection {name!r} is not defined in 'connections' "
                              f"(nor given as a Prefect block)", key="connections") from None


def load_default_mappings() -> list[Mapping]:
    data, lines = load_yaml(DEFAULT_MAPPINGS_FILE)
    items = data.get("mappings", data) if isinstance(data, dict) else data
    return [_validate(Mapping, item, str(DEFAULT_MAPPINGS_FILE), lines, ("mappings", i))
            for i, item in enumerate(items)]


def load_config(path: str | Path, *, connections: dict[str, GraphConnection] | None = None,
                credentials: bool = False) -> SyncConfig:
    """Load and validate a configuration file; every problem is a ConfigError naming file, line
    and key. ``credentials``: also check that the used connections' credentials are there
    (environment variables, certificate files) — for the commands that reach Graph."""
    file = str(path)
    data, lines = load_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError("the file must be a YAML mapping with keys name, source, target, ...",
                          file=file, line=line_of(lines, ()) or 1, key=FILE_KEY)
    data = _expand(data, file, lines)
    cfg = _validate(SyncConfig, data, file, lines, ())
    check_file_values(cfg, file, lines)
    if credentials:
        check_credentials(cfg.connections, (cfg.source.connection, cfg.target.connection), file, lines)
    if connections:
        cfg = cfg.model_copy(update={"connections": {**cfg.connections, **connections}})
    check_mappings(cfg, file, lines)
    return cfg


def check_file_values(cfg: SyncConfig, file: str, lines: dict[Loc, int]) -> None:
    """GUIDs, graph URLs and database URLs of the file (configchecks.py)."""
    check_connections(cfg.connections, file, lines)
    check_guids(cfg.scope.assignments.users, "an assigned user's object id",
                ("scope", "assignments", "users"), file, lines)
    check_guids(cfg.scope.assignments.groups, "an assigned group's object id",
                ("scope", "assignments", "groups"), file, lines)
    if cfg.state is not None:
        check_database_url(cfg.state, ("state",), file, lines)
    if cfg.target.directory is not None:
        check_database_url(cfg.target.directory, ("target", "directory"), file, lines)
    check_provisioner(cfg, file, lines)


def check_provisioner(cfg: SyncConfig, file: str, lines: dict[Loc, int]) -> None:
    """The service's keys belong to ``provisioner: entra``, which provisions into a tenant."""
    def error(message: str, loc: Loc, value: Any) -> ConfigError:
        return ConfigError(message, file=file, line=line_of(lines, loc) or 1, key=dotted(loc), value=value)

    if cfg.provisioner == "engine":
        for key in ("service_principal_id", "job_id"):
            value = getattr(cfg, key)
            if value is not None:
                raise error(f"{key} names Microsoft's provisioning service: it is read with "
                            "'provisioner: entra' only (add it, or remove the key)", (key,), value)
        return
    if cfg.target.connection is None:
        raise error("provisioner 'entra' provisions into a tenant: the target needs 'connection' "
                    "(an application directory is provisioned by the engine)", ("target", "directory"),
                    cfg.target.directory)
    if cfg.service_principal_id is not None:
        check_guid(cfg.service_principal_id, "a service principal's object id",
                   ("service_principal_id",), file, lines)


def _expand(data: dict[str, Any], file: str, lines: dict[Loc, int]) -> dict[str, Any]:
    """Expand ${VAR:-default} in the URL-like values only (never in secrets: those are env names)."""
    if isinstance(data.get("state"), str):
        data["state"] = expand_env_at(data["state"], ("state",), file, lines)
    if isinstance(data.get("target"), dict) and "directory" in data["target"]:
        data["target"]["directory"] = expand_env_at(data["target"]["directory"], ("target", "directory"), file, lines)
    expand_connection_urls(data, file, lines)
    return data


def _validate(model: type[BaseModel], data: Any, file: str, lines: dict[Loc, int], base: Loc) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _config_error(exc, file, lines, base, data) from None


def _config_error(exc: ValidationError, file: str, lines: dict[Loc, int], base: Loc, data: Any) -> ConfigError:
    err = exc.errors()[0]
    loc = base + tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p))
    value = err.get("input")
    msg = one_line(err["msg"].removeprefix("Value error, "))
    allowed = None
    if err["type"] == "literal_error":
        allowed = err.get("ctx", {}).get("expected", "").replace("'", "")
        msg = f"{short(value)} is not allowed"
    elif err["type"] == "extra_forbidden":
        msg = f"unknown key {short(loc[-1])}"
    elif err["type"] == "missing":
        msg = f"required key {short(loc[-1])} is missing"
    more = len(exc.errors()) - 1
    if more:
        msg += f" (and {more} more problem{'s' if more > 1 else ''})"
    return ConfigError(msg, file=file, line=line_of(lines, loc) or (1 if file else None),
                       key=dotted(loc) or FILE_KEY, value=value, allowed=allowed)


def check_mappings(cfg: SyncConfig, file: str = "", lines: dict[Loc, int] | None = None) -> None:
    """Refuse a changed matching rule (Entra answers schemaInvalid) and compile every expression."""
    from .expressions import compile_expression

    lines = lines or {}
    for i, m in enumerate(cfg.mappings):
        loc: Loc = ("mappings", i)
        if m.matching or m.target == MATCHING_TARGET:
            raise ConfigError(
                "schemaInvalid: the matching attribute of cross-tenant synchronization is fixed "
                f"({MATCHING_EXPRESSION} -> {MATCHING_TARGET}, precedence 1); it cannot be changed "
                "and no other matching attribute can be added",
                file=file, line=line_of(lines, loc), key=dotted(loc), value=m.target)
        if m.type == "expression":
            try:
                compile_expression(m.expression or "")
            except (ExpressionError, RecursionError) as exc:
                raise ConfigError(expression_message(m.expression or "", exc), file=file,
                                  line=line_of(lines, loc + ("expression",)),
                                  key=dotted(loc + ("expression",)), value=m.expression) from None


def expression_message(text: str, exc: BaseException) -> str:
    """One line about an expression that does not compile: its start, the column, the reason."""
    reason = str(exc) if isinstance(exc, ExpressionError) else "nested too deeply"
    return f"invalid expression {short(text)}: {one_line(reason, 200)}"
