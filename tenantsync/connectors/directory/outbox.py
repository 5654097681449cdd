"""The invitation outbox: one row per user ever, claimed before the e-mail goes out, so a user is
never invited twice (a row left 'sending' by a killed run is not sent again)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select, update

from ...sql import utcnow
from .base import DirectoryBase
from .tables import invitations


class OutboxMixin(DirectoryBase):
    def invitations(self, instance: str | None = None, *, status: str | None = None) -> list[dict[str, Any]]:
        query = select(invitations).order_by(invitations.c.id)
        if instance:
            query = query.where(invitations.c.instance == instance)
        if status:
            query = query.where(invitations.c.status == status)
        with self._read() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def claim_invitations(self, invitation_ids: Sequence[int]) -> list[int]:
        """pending|failed -> sending, in one transaction, before the e-mails go out; returns the
        ids claimed (a row another run claimed first is left out). A row left 'sending' by a killed
        run is never sent again: at most one invitation per user."""
        with self._write() as conn:
            ids = [int(i) for i in invitation_ids]
            claimable = conn.execute(select(invitations.c.id).where(
                invitations.c.id.in_(ids), invitations.c.status.in_(("pending", "failed")))).scalars().all()
            if claimable:
                conn.execute(update(invitations).where(invitations.c.id.in_(claimable))
                             .values(status="sending", attempts=invitations.c.attempts + 1))
            return sorted(claimable)

    def finish_invitations(self, outcomes: Mapping[int, str | None]) -> None:
        """id -> None (sent) or the error text (failed, retried by a later run)."""
        now = utcnow()
        sent = [i for i, e in outcomes.items() if e is None]
        with self._write() as conn:
            if sent:
                conn.execute(update(invitations).where(invitations.c.id.in_(sent))
                             .values(status="sent", error=None, sent_at=now))
            for i, e in outcomes.items():
                if e is not None:
                    conn.execute(update(invitations).where(invitations.c.id == i)
                                 .values(status="failed", error=e))
