"""The configuration fingerprint recorded by the last completed cycle (tenantsync/fingerprint.py):
one digest per part, so that the next cycle can say which part changed."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import delete, select

from .sql import Repository, bulk_write, utcnow
from .tables import config_fingerprints as t


class FingerprintsRepository(Repository):
    def config_fingerprint(self, config: str) -> dict[str, str] | None:
        """part -> digest, or None when no cycle has recorded one yet."""
        with self._read() as conn:
            rows = conn.execute(select(t.c.part, t.c.digest).where(t.c.config == config)).all()
        return {row.part: row.digest for row in rows} or None

    def save_config_fingerprint(self, config: str, parts: Mapping[str, str], cycle_id: str) -> None:
        """Replace the recorded fingerprint (a part no longer computed does not linger)."""
        now = utcnow()
        with self._write() as conn:
            conn.execute(delete(t).where(t.c.config == config))
            bulk_write(conn, t, ("config", "part", "digest", "cycle_id", "recorded"),
                       [(config, part, digest, cycle_id, now) for part, digest in parts.items()])
