"""Notifications sent (quarantine e-mails etc.): the engine reads them back to send one e-mail
on entering quarantine and another only when the reason changes (application-provisioning-quarantine-status)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from .sql import Repository, utcnow
from .tables import notifications as t


class NotificationsRepository(Repository):
    def record_notification(self, config: str, kind: str, subject: str, body: str,
                            recipient: str | None) -> None:
        with self._write() as conn:
            conn.execute(t.insert().values(config=config, kind=kind, subject=subject, body=body,
                                           recipient=recipient, sent=utcnow()))

    def notifications(self, config: str) -> list[dict[str, Any]]:
        """{kind, subject, body, recipient, sent} in the order they were recorded."""
        query = (select(t.c.kind, t.c.subject, t.c.body, t.c.recipient, t.c.sent)
                 .where(t.c.config == config).order_by(t.c.seq))
        with self._read() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]
