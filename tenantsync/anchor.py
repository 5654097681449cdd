"""The anchor extension's name: which directory extension a cycle writes and matches on.

Directory extensions are named ``extension_<appId without dashes>_<name>`` after the application
they are registered on (application-post-extensionproperty); Graph refuses any other
``extension_*`` property on a user. So the name is never guessed: ``tenantsync setup`` (or the
first cycle) registers or finds it and records it in the state store, and cycles read it there. A
configuration may name an already registered extension itself (``settings.anchor_attribute``).
"""

from __future__ import annotations

import re
from typing import Any

from . import remedies
from .errors import SetupRequired

EXTENSION_RE = re.compile(r"extension_([0-9a-fA-F]{32})_([A-Za-z0-9]+)")


def extension_name(app_id: str, short_name: str) -> str:
    """The full name Graph gives ``short_name`` registered on the application ``app_id``."""
    return f"extension_{app_id.replace('-', '').lower()}_{short_name}"


def app_id_of(name: str) -> str | None:
    """The appId (with dashes) an extension name was registered under, if the name is one."""
    m = EXTENSION_RE.fullmatch(name)
    if not m:
        return None
    h = m.group(1).lower()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def fits(cfg: Any, name: str | None) -> bool:
    """Whether a recorded name is the one the configuration asks for (a changed configuration
    makes setup run again)."""
    if not name:
        return False
    explicit = cfg.settings.anchor_attribute
    if explicit:
        return name == explicit
    m = EXTENSION_RE.fullmatch(name)
    return m is not None and m.group(2) == cfg.settings.anchor_extension


def recorded_anchor(cfg: Any, store: Any) -> str | None:
    """The name recorded by setup for ``cfg`` (if it still fits the configuration)."""
    name = store.anchor_attribute(cfg.name)
    return name if fits(cfg, name) else None


def require_anchor(cfg: Any, store: Any) -> str:
    """The name a cycle uses: recorded by setup, else the configuration's explicit one."""
    name = recorded_anchor(cfg, store) or cfg.settings.anchor_attribute
    if not name:
        raise SetupRequired(
            f"{cfg.name}: the anchor extension is not set up in the target tenant yet; run "
            f"{remedies.setup(cfg.name)}: it registers settings.anchor_extension "
            f"'{cfg.settings.anchor_extension}' on the target's application")
    return name


__all__ = ["EXTENSION_RE", "app_id_of", "extension_name", "fits", "recorded_anchor", "require_anchor"]
