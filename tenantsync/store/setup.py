"""What setup resolved per configuration (the anchor extension's full name and the application it
is registered on): cycles read the name from here instead of trusting a configured guess."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select

from .sql import Repository, bulk_write, utcnow
from .tables import setup as t

ANCHOR_ATTRIBUTE = "anchor_attribute"     # extension_<appId without dashes>_<name>
ANCHOR_APP_ID = "anchor_app_id"           # appId of the application that holds it, when known


class SetupRepository(Repository):
    def setup_values(self, config: str) -> dict[str, str]:
        with self._read() as conn:
            rows = conn.execute(select(t.c.key, t.c.value).where(t.c.config == config))
            return {row.key: row.value for row in rows}

    def save_setup_values(self, config: str, values: Mapping[str, str | None]) -> None:
        now = utcnow()
        rows = [(config, key, value, now) for key, value in values.items() if value is not None]
        if rows:
            with self._write() as conn:
                bulk_write(conn, t, ("config", "key", "value", "updated"), rows, key=("config", "key"))

    def anchor_attribute(self, config: str) -> str | None:
        """The anchor extension's full name recorded by setup, or None before the first setup."""
        return self.setup_values(config).get(ANCHOR_ATTRIBUTE)
