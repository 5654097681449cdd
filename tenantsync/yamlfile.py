"""YAML loading that remembers where each key sits, so config errors can name the line."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError

Loc = tuple[str | int, ...]
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def expand_env(text: str) -> str:
    """Expand ``${VAR}`` and ``${VAR:-default}``; an unset variable without default is an error."""

    def repl(m: re.Match[str]) -> str:
        name, default = m.group(1), m.group(2)
        value = os.environ.get(name)
        if value is None or value == "":
            if default is None:
                raise ConfigError(f"environment variable {name} is not set", key=name)
            return default
        return value

    return _ENV.sub(repl, text)


def load_yaml(path: str | Path) -> tuple[Any, dict[Loc, int]]:
    """Parse a YAML file; returns the data and a map from key path to 1-based line number."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the file ({exc.strerror})", file=str(p)) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise ConfigError(f"not valid YAML: {exc.problem}", file=str(p), line=line) from None
    lines: dict[Loc, int] = {}
    if node is not None:
        _walk(node, (), lines)
    return data, lines


def _walk(node: yaml.Node, loc: Loc, lines: dict[Loc, int]) -> None:
    lines.setdefault(loc, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = loc + (key_node.value,)
            lines[key] = key_node.start_mark.line + 1
            _walk(value_node, key, lines)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, loc + (i,), lines)


def line_of(lines: dict[Loc, int], loc: Loc) -> int | None:
    """The line of the deepest known prefix of ``loc``."""
    for n in range(len(loc), -1, -1):
        if loc[:n] in lines:
            return lines[loc[:n]]
    return None


def dotted(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def expand_env_at(value: Any, loc: Loc, file: str, lines: dict[Loc, int]) -> Any:
    """expand_env for one config value; an error names the file, line and key."""
    if not isinstance(value, str):
        return value
    try:
        return expand_env(value)
    except ConfigError as exc:
        raise ConfigError(exc.message, file=file, line=line_of(lines, loc), key=dotted(loc)) from None


def expand_connection_urls(data: dict[str, Any], file: str, lines: dict[Loc, int]) -> None:
    """Name each connection after its key and expand ${VAR:-default} in its graph_url."""
    for name, conn in (data.get("connections") or {}).items():
        if isinstance(conn, dict):
            conn.setdefault("name", name)
            if "graph_url" in conn:
                conn["graph_url"] = expand_env_at(conn["graph_url"], ("connections", name, "graph_url"), file, lines)
