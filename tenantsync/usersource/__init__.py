"""Entra ID as the user source of an application's own user directory (SQL), and UPN-suffix
readiness. Plain Python: the run is ``pipeline.Stages`` (cycle.py) driven by ``pipeline.drive``;
the Prefect flow ``user_source_sync`` drives the same stages with its tasks.

```python
from tenantsync.usersource import run_user_source, render
result = run_user_source("data/configs/user-source.yaml", notify=send)   # send(to, subject, body)
render("Hello ${displayName} (${costCenter})", "jane@contoso.com", "data/configs/user-source.yaml")
from tenantsync.usersource.upn_suffix import readiness
```
"""

from __future__ import annotations

from .config import UserSourceConfig, load_user_source_config, parse_user_source_config
from .render import render
from .run import open_user_source, run_user_source

__all__ = ["UserSourceConfig", "load_user_source_config", "open_user_source", "parse_user_source_config",
           "render", "run_user_source"]
