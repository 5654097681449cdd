"""``${variable}`` texts of a user-source configuration (the invitation e-mail, and
``tenantsync render TEMPLATE --user UPN --config CONFIG``).

Variables are the directory user's attributes under their Graph names (``displayName``, ``mail``,
``userPrincipalName``, ...), ``managedAppleId``, ``instanceName``, ``id`` and every custom attribute
of the configuration. ``$$`` writes a dollar sign. An unknown name is an error naming it; a known
attribute without a value renders as the empty string.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..connectors.directory_target import DirectoryTarget, directory_exists
from ..errors import ConfigError
from .config import USER_COLUMNS, UserSourceConfig, load_user_source_config, substitute, unknown_variables


def user_variables(user: Mapping[str, Any], cfg: UserSourceConfig) -> dict[str, Any]:
    """A directory user row (with ``attributes``) as template variables."""
    values: dict[str, Any] = {"id": user.get("id"), "instanceName": cfg.settings.instance_name,
                              "managedAppleId": user.get("managed_apple_id")}
    for graph_name, column in USER_COLUMNS.items():
        values[graph_name] = user.get(column)
    attrs = user.get("attributes") or {}
    for name in cfg.custom_names:
        values[name] = attrs.get(name)
    return values


def render_for(template: str, variables: Mapping[str, Any], known: tuple[str, ...], *,
               what: str = "template") -> str:
    unknown = unknown_variables(template, known)
    if unknown:
        raise ConfigError(f"unknown variable ${{{unknown[0]}}} in the {what}", key=what,
                          value=unknown[0], allowed=", ".join(known))
    return substitute(template, dict(variables))


def render(template: str, upn: str | None = None, cfg: UserSourceConfig | str | Path | None = None, *,
           user: str | None = None, config: UserSourceConfig | str | Path | None = None) -> str:
    """``template`` rendered for the directory user ``upn`` (userPrincipalName or object id) of the
    user-source configuration ``cfg`` (a model or a file path). ``user=``/``config=`` are accepted
    as aliases. Unknown variables are refused before the directory is read."""
    key = upn if upn is not None else user
    source = cfg if cfg is not None else config
    if key is None or source is None:
        raise TypeError("render(template, upn, cfg): the user and the configuration are required")
    model = source if isinstance(source, UserSourceConfig) else load_user_source_config(source)
    unknown = unknown_variables(template, model.variables)
    if unknown:
        raise ConfigError(f"unknown variable ${{{unknown[0]}}} in the template", key="template",
                          value=unknown[0], allowed=", ".join(model.variables))
    if not directory_exists(model.directory_url):
        raise ConfigError(f"the directory {model.directory_url} does not exist yet: run "
                          f"`tenantsync user-source` for {model.name!r} first", key="target.directory")
    found = DirectoryTarget.for_url(model.directory_url).find_user(model.name, key)
    if found is None:
        raise ConfigError(f"no user {key!r} in the directory of {model.name!r} (give a "
                          "userPrincipalName or an object id of a synced user)", key="--user", value=key)
    return substitute(template, user_variables(found, model))


__all__ = ["render", "render_for", "user_variables"]
