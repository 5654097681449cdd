"""Checks of a configuration file that its pydantic models do not make, shared by the sync
configuration (config.py) and the user-source configuration (usersource/config.py).

Made on the file's values only (the models stay usable with test doubles and Prefect blocks):
- tenant ids, application (client) ids and assigned object ids are GUIDs: Entra identifies a
  tenant, an application and a directory object by a GUID, and tenantsync writes
  ``<source tenant id>/<source object id>`` as each user's anchor, so a tenant's domain name
  there would make anchors that never match again;
- a graph_url is https (or http to this machine): checked before any credential is built;
- a state or directory database URL parses, names SQLite or PostgreSQL, and (SQLite) lies in a
  directory that exists: tenantsync never creates a directory a typo names. The one exception
  is its own default folder ``data/state/`` under the working directory;
- ``check_credentials`` (for the commands that reach Graph): each credential a used connection
  names is there (environment variable set, certificate file present) before anything is
  created, so a missing variable leaves no empty state database behind.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .graph.connection import GUID_PATTERN, GraphConnection, graph_url_problem
from .yamlfile import Loc, dotted, line_of, short

GUID = re.compile(GUID_PATTERN)
EXAMPLE_GUID = "2cee517d-601a-44f9-82ff-f26697be201f"
DEFAULT_STATE_DIR = Path("data") / "state"
DATABASES = ("sqlite", "postgresql")


def _error(message: str, loc: Loc, file: str, lines: dict[Loc, int], **kw: Any) -> ConfigError:
    return ConfigError(message, file=file, line=line_of(lines, loc) or 1, key=dotted(loc), **kw)


def check_guid(value: Any, what: str, loc: Loc, file: str, lines: dict[Loc, int]) -> None:
    if not isinstance(value, str) or not GUID.fullmatch(value):
        raise _error(f"{short(value)} is not a GUID ({what} looks like {EXAMPLE_GUID})", loc, file, lines,
                     value=value)


def check_guids(values: Iterable[Any], what: str, loc: Loc, file: str, lines: dict[Loc, int]) -> None:
    for i, value in enumerate(values):
        check_guid(value, what, loc + (i,), file, lines)


def check_connections(connections: dict[str, GraphConnection], file: str, lines: dict[Loc, int]) -> None:
    """GUIDs and graph_url of every connection the file defines."""
    for name, conn in connections.items():
        base: Loc = ("connections", name)
        check_guid(conn.tenant_id, "a tenant id",
                   base + ("tenant_id",), file, lines)
        if conn.auth.client_id is not None:
            check_guid(conn.auth.client_id, "an application (client) id",
                       base + ("auth", "client_id"), file, lines)
        problem = graph_url_problem(conn)
        if problem:
            loc = base + ("graph_url",) if ("connections", name, "graph_url") in lines else base
            shown = short(conn.graph_url) if "@" not in conn.graph_url else "the URL"   # no password
            raise _error(f"{shown}: {problem}", loc, file, lines)


def check_database_url(url: str, loc: Loc, file: str, lines: dict[Loc, int]) -> None:
    """A state or directory database URL: parses, SQLite or PostgreSQL, SQLite's folder exists."""
    from sqlalchemy.engine import make_url

    shown = short(url) if "@" not in url else "the URL"      # never echo a password
    example = "e.g. sqlite:///data/state/NAME.db or postgresql+psycopg://user@host/db"
    try:
        parsed = make_url(url)
        backend = parsed.get_backend_name()
    except Exception:
        raise _error(f"{shown} is not a database URL ({example})", loc, file, lines) from None
    if backend not in DATABASES:
        raise _error(f"{shown}: tenantsync keeps its state in SQLite or PostgreSQL ({example})",
                     loc, file, lines, allowed=", ".join(DATABASES))
    if backend != "sqlite":
        return
    database = parsed.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return
    path = Path(database).expanduser()
    if path.is_dir():
        raise _error(f"names the directory {path}, not a database file in it (…/NAME.db)", loc, file, lines)
    folder = path.parent
    if folder.is_dir():
        return
    if not path.is_absolute() and folder == DEFAULT_STATE_DIR:
        return                              # tenantsync's own default folder: created on first use
    raise _error(f"the directory {folder} does not exist; create it first (tenantsync creates no "
                 f"directory but {DEFAULT_STATE_DIR}/ in the working directory)", loc, file, lines)


def check_credentials(connections: dict[str, GraphConnection], used: Iterable[str | None], file: str,
                      lines: dict[Loc, int]) -> None:
    """Each used connection's credential is present: its environment variables are set, its
    certificate file exists. Names the variable, never a value."""
    for name in dict.fromkeys(n for n in used if n):
        conn = connections.get(name)
        if conn is None:
            continue                        # a Prefect block: checked where it is loaded
        auth, base = conn.auth, ("connections", name, "auth")
        needed = {"static_token": ("token_env",), "client_secret": ("client_secret_env",),
                  "certificate": ("certificate_password_env",)}.get(auth.kind, ())
        for field in needed:
            variable = getattr(auth, field)
            if variable and not (auth.secret and auth.secret.get_secret_value()) and not os.environ.get(variable):
                raise _error(f"environment variable {variable} is not set or empty (the credential "
                             f"of connection {name})", base + (field,), file, lines)
        for field in ("certificate_path", "token_file"):
            value = getattr(auth, field)
            if value and not Path(value).expanduser().is_file():
                raise _error(f"{short(value)} is not a file", base + (field,), file, lines)
