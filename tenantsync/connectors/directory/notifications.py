"""Notifications of the directory's runs: what the run summary, the reports and the e-mails
show, and whether each was e-mailed."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from ...sql import aware, utcnow
from .base import DirectoryBase, inserted_id
from .tables import notifications


class NotificationsMixin(DirectoryBase):
    def add_notification(self, instance: str, cycle_id: int | None, kind: str, subject: str, body: str,
                         details: Any, recipient: str | None) -> int:
        with self._write() as conn:
            result = conn.execute(notifications.insert().values(
                instance=instance, cycle_id=cycle_id, kind=kind, subject=subject, body=body,
                details=details, recipient=recipient, created_at=utcnow()))
            return inserted_id(result)

    def mark_notification_emailed(self, notification_id: int) -> None:
        with self._write() as conn:
            conn.execute(update(notifications).where(notifications.c.id == notification_id)
                         .values(emailed_at=utcnow()))

    def notifications(self, instance: str | None = None, *, cycle_id: int | None = None) -> list[dict[str, Any]]:
        query = select(notifications).order_by(notifications.c.id)
        if instance:
            query = query.where(notifications.c.instance == instance)
        if cycle_id is not None:
            query = query.where(notifications.c.cycle_id == cycle_id)
        with self._read() as conn:
            rows = [dict(r) for r in conn.execute(query).mappings()]
        for r in rows:
            r["created_at"], r["emailed_at"] = aware(r["created_at"]), aware(r["emailed_at"])
        return rows
